// Flux ImagePolicy kinds (image-reflector-controller internal/policy) as TagPolicy.
//
// Tie breaking: Flux reads its tags from its own DB, sorted descending byte-wise, while our callers pass them
// ascending. So every rank() here applies Flux's rule to the REVERSE of its input: semver's "first of equal
// precedence wins" becomes "last wins" (the byte-wise greatest), numerical's "later equal value wins" becomes
// "earlier wins", filterTags' "later original of a key is kept" becomes "earlier is kept". Tests feed a
// vector's tags reversed to replay exactly what Flux saw.
import {
  type Constraint,
  comparePrerelease,
  compareVersions,
  type MutableSemVersion,
  parseConstraint,
  parseVersionInto,
  type SemVersion,
  scratchVersion,
  tryParseVersion,
} from './masterminds.ts'
import { PolicyError, type TagPolicy } from './types.ts'

/** Writes a string argument of our policy language: single quotes, or double when it holds a single quote. */
function quote(s: string): string {
  if (!s.includes("'")) return `'${s}'`
  if (!s.includes('"')) return `"${s}"`
  // Strings are not escape-processed, so there is no way to write this one.
  throw new PolicyError(`cannot write ${JSON.stringify(s)} in a policy expression: it holds both ' and "`)
}

const SURROGATE_OR_ABOVE = /[\uD800-\uFFFF]/

/** Go's string order (UTF-8 bytes, i.e. code points); JS `<` compares UTF-16 units, which differ above U+D7FF. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF in code point order.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x < y ? -1 : 1
  }
  return a.length < b.length ? -1 : 1
}

/** Sorts ascending byte-wise; the built-in sort is exact (and much faster) while no string leaves U+0000..U+D7FF. */
function sortBytes(list: string[]): string[] {
  if (list.some((s) => SURROGATE_OR_ABOVE.test(s))) return list.sort(compareBytes)
  return list.sort()
}

// ---------------------------------------------------------------------------------------------------------------
// semver

/**
 * fluxcd/pkg/version.ParseVersion: `strings.SplitN(tag, ".", 3)` must give 3 parts (two dots anywhere),
 * then Masterminds NewVersion (loose: optional v, leading zeros). Undefined when Flux skips the tag.
 */
export function parseFluxVersion(tag: string): SemVersion | undefined {
  return hasTwoDots(tag) ? tryParseVersion(tag) : undefined
}

function hasTwoDots(tag: string): boolean {
  const dot = tag.indexOf('.')
  return dot >= 0 && tag.indexOf('.', dot + 1) >= 0
}

/**
 * The tags that parse and satisfy `constraint`, newest first, with the later of equal versions first.
 * Versions go into typed arrays through one scratch object: 100k version objects cost more in GC than the
 * parsing itself.
 */
function rankSemver(tags: readonly string[], constraint: Constraint): string[] {
  const n = tags.length
  const v: MutableSemVersion = scratchVersion()
  const index = new Int32Array(n)
  const major = new Float64Array(n)
  const minor = new Float64Array(n)
  const patch = new Float64Array(n)
  const pre: string[] = new Array(n).fill('')
  let m = 0
  // Back to front, so that candidate order is Flux's order and equal versions break ties on it.
  for (let i = n - 1; i >= 0; i--) {
    const tag = tags[i]!
    if (!hasTwoDots(tag) || !parseVersionInto(tag, v) || !constraint.check(v)) continue
    if (typeof v.major !== 'number' || typeof v.minor !== 'number' || typeof v.patch !== 'number') {
      return rankSemverSlow(tags, constraint) // a segment beyond 2^53
    }
    index[m] = i
    major[m] = v.major
    minor[m] = v.minor
    patch[m] = v.patch
    pre[m] = v.prerelease
    m++
  }
  const order: number[] = new Array(m)
  for (let k = 0; k < m; k++) order[k] = k
  order.sort((a, b) => {
    const d = major[b]! - major[a]! || minor[b]! - minor[a]! || patch[b]! - patch[a]!
    if (d !== 0) return d
    const pa = pre[a]!
    const pb = pre[b]!
    if (pa === pb) return a - b
    if (pa === '') return -1
    if (pb === '') return 1
    return comparePrerelease(pb, pa) || a - b
  })
  const out: string[] = new Array(m)
  for (let k = 0; k < m; k++) out[k] = tags[index[order[k]!]!]!
  return out
}

function rankSemverSlow(tags: readonly string[], constraint: Constraint): string[] {
  const found: SemVersion[] = []
  for (let i = tags.length - 1; i >= 0; i--) {
    const v = parseFluxVersion(tags[i]!)
    if (v !== undefined && constraint.check(v)) found.push(v)
  }
  found.sort((a, b) => compareVersions(b, a))
  return found.map((v) => v.original)
}

/** Flux `semver: {range}`: the highest version in the Masterminds range; prereleases only if the range names one. */
export function fluxSemver(range: string): TagPolicy {
  let constraint: Constraint
  try {
    constraint = parseConstraint(range)
  } catch (error) {
    throw new PolicyError(`invalid semver range '${range}': ${(error as Error).message}`)
  }
  const candidate = (tag: string): SemVersion | undefined => {
    const v = parseFluxVersion(tag)
    return v !== undefined && constraint.check(v) ? v : undefined
  }
  return {
    expr: `semver(${quote(range)})`,
    matches: (tag) => candidate(tag) !== undefined,
    // Equal precedence (v1.0.1 / 1.0.1, +build): the later input wins, see the header.
    rank: (tags) => rankSemver(tags, constraint),
    compare(a, b) {
      const va = parseFluxVersion(a)
      const vb = parseFluxVersion(b)
      if (va === undefined || vb === undefined) return (va === undefined ? 0 : 1) - (vb === undefined ? 0 : 1)
      return compareVersions(va, vb)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// alphabetical, numerical

type Order = 'asc' | 'desc'

/** The factory upper-cases `order`; '' means ASC. The message quotes the value as given (as upstream's tests do). */
function parseOrder(order: string): Order {
  const o = order.toUpperCase()
  if (o === '' || o === 'ASC') return 'asc'
  if (o === 'DESC') return 'desc'
  throw new PolicyError(`invalid order argument provided: '${order}', must be one of: ASC, DESC`)
}

/** Flux `alphabetical: {order}`: byte-wise; asc picks the greatest string, desc the smallest. */
export function alphabetical(order: string): TagPolicy {
  const o = parseOrder(order)
  return {
    expr: `alphabetical(order='${o}')`,
    matches: () => true,
    rank(tags) {
      const sorted = sortBytes(tags.slice())
      return o === 'asc' ? sorted.reverse() : sorted
    },
    compare: (a, b) => (o === 'asc' ? compareBytes(a, b) : compareBytes(b, a)),
  }
}

/** Go strconv.ParseFloat(s, 64) success: all its literal forms, including hex floats, `_` separators, Inf, NaN. */
const GO_DECIMAL = /^[+-]?(?=[0-9_]*[0-9]|[0-9_]*\.[0-9_]*[0-9])[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9][0-9_]*)?$/
const GO_HEX =
  /^[+-]?0[xX](?=[0-9a-fA-F_]*[0-9a-fA-F]|[0-9a-fA-F_]*\.[0-9a-fA-F_]*[0-9a-fA-F])[0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?[pP][+-]?[0-9][0-9_]*$/
const GO_SPECIAL = /^(?:[+-]?(?:inf|infinity)|nan)$/i

/** Go's underscoreOK: `_` only between digits, or between a base prefix and a digit. */
function underscoreOK(s: string): boolean {
  let saw = '^'
  let i = 0
  if (s[0] === '-' || s[0] === '+') s = s.slice(1)
  let hex = false
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1]!)) {
    i = 2
    saw = '0'
    hex = s[1] === 'x' || s[1] === 'X'
  }
  for (; i < s.length; i++) {
    const c = s[i]!
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0'
      continue
    }
    if (c === '_') {
      if (saw !== '0') return false
      saw = '_'
      continue
    }
    if (saw === '_') return false
    saw = '!'
  }
  return saw !== '_'
}

/** Rounds mantissa × 2^exp2 to the nearest double (ties to even), the way Go's atofHex does. */
function hexToDouble(mantissa: bigint, exp2: number): number {
  if (mantissa === 0n) return 0
  const bits = mantissa.toString(2).length
  const top = bits - 1 + exp2 // the value lies in [2^top, 2^(top+1))
  if (top > 1023) return Number.POSITIVE_INFINITY
  const precision = top >= -1022 ? 53 : top + 1075 // subnormals keep fewer bits
  if (precision < 0) return 0
  let shift = bits - precision
  let q = mantissa
  if (shift > 0) {
    q = mantissa >> BigInt(shift)
    const rest = mantissa - (q << BigInt(shift))
    const half = 1n << BigInt(shift - 1)
    if (rest > half || (rest === half && (q & 1n) === 1n)) q += 1n
  } else {
    shift = 0
  }
  // q ≤ 2^53 is exact as a double; scale in two steps so no intermediate power of two overflows.
  const e = exp2 + shift
  const half = Math.trunc(e / 2)
  return Number(q) * 2 ** half * 2 ** (e - half)
}

/** strconv.ParseFloat(s, 64); undefined on a syntax error or when the value overflows (ErrRange). */
export function parseGoFloat(s: string): number | undefined {
  if (GO_SPECIAL.test(s)) {
    const lower = s.toLowerCase()
    if (lower === 'nan') return Number.NaN
    return lower.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  }
  let value: number
  if (GO_DECIMAL.test(s)) {
    if (s.includes('_') && !underscoreOK(s)) return undefined
    value = Number(s.replaceAll('_', ''))
  } else if (GO_HEX.test(s)) {
    if (s.includes('_') && !underscoreOK(s)) return undefined
    const clean = s.replaceAll('_', '')
    const negative = clean[0] === '-'
    const body = clean.replace(/^[+-]?0[xX]/, '')
    const p = body.search(/[pP]/)
    const [int, frac = ''] = body.slice(0, p).split('.') as [string, string?]
    const mantissa = BigInt(`0x0${int}${frac}`)
    // Go stops accumulating the exponent at 10000; anything that large over- or underflows anyway.
    const exp = Math.max(-100000, Math.min(100000, Number(body.slice(p + 1)))) - 4 * frac.length
    value = hexToDouble(mantissa, exp)
    if (negative) value = -value
  } else {
    return undefined
  }
  return Number.isFinite(value) ? value : undefined
}

/** Flux `numerical: {order}`: every tag must be a float; asc picks the largest, desc the smallest. */
export function numerical(order: string): TagPolicy {
  const o = parseOrder(order)
  const sign = o === 'asc' ? 1 : -1
  // NaN and non-numbers order below everything in compare(); rank() places a NaN the way Flux's scan does.
  const cmp = (x: number, y: number): number => {
    if (Number.isNaN(x) || Number.isNaN(y)) return (Number.isNaN(x) ? 0 : 1) - (Number.isNaN(y) ? 0 : 1)
    return x === y ? 0 : x < y ? -sign : sign
  }
  const expr = `numerical(order='${o}')`
  return {
    expr,
    matches: (tag) => parseGoFloat(tag) !== undefined,
    rank(tags) {
      const n = tags.length
      const values = new Float64Array(n)
      let nan = false
      // Flux parses in its own order (the reverse of ours) and fails on the first bad tag it meets.
      for (let i = n - 1; i >= 0; i--) {
        const v = parseGoFloat(tags[i]!)
        if (v === undefined) {
          throw new PolicyError(
            `failed to parse invalid numeric value '${tags[i]}': add a filter that keeps only numeric tags, ` +
              `e.g. filter('^[0-9]+$', extract='', policy=${expr})`,
          )
        }
        if (Number.isNaN(v)) nan = true
        values[i] = v
      }
      const order: number[] = new Array(n)
      for (let i = 0; i < n; i++) order[i] = i
      // Equal values: the earlier input wins (Flux: the later one it sees), see the header.
      order.sort((a, b) => cmp(values[b]!, values[a]!) || a - b)
      // Flux's scan keeps a NaN and lets every tag after it replace the pick, so any NaN makes the last tag
      // Flux sees (our first) the winner.
      if (nan && order[0] !== 0) {
        order.splice(order.indexOf(0), 1)
        order.unshift(0)
      }
      const out: string[] = new Array(n)
      for (let k = 0; k < n; k++) out[k] = tags[order[k]!]!
      return out
    },
    compare(a, b) {
      return cmp(parseGoFloat(a) ?? Number.NaN, parseGoFloat(b) ?? Number.NaN)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Go RE2 syntax on JS RegExp
//
// The pattern is parsed with Go's regexp/syntax rules (Perl flags) and re-emitted as an equivalent JS pattern
// for the `v` flag: literals as \u{…}, Go's ASCII \d \s \w and POSIX classes as explicit sets, `.` as
// [^\n] (JS `.` also stops at \r, U+2028, U+2029), (?m) anchors as look-arounds, (?U) by swapping greediness,
// (?i) as (?i:…) modifiers, named groups as plain groups (Go accepts names JS does not, like `1a`). JS
// backtracking picks the same match as RE2's leftmost-first search; it is not linear-time, though.

type Node =
  | { k: 'lit'; cp: number; fold: boolean }
  | { k: 'set'; js: string; fold: boolean }
  | { k: 'empty'; js: string }
  | { k: 'group'; cap: boolean; alts: Node[][] }
  | { k: 'rep'; sub: Node; min: number; max: number; greedy: boolean; curly: boolean }

interface Flags {
  fold: boolean
  oneLine: boolean
  dotNL: boolean
  nonGreedy: boolean
}

interface Frame {
  cap: boolean
  alts: Node[][]
  cur: Node[]
  saved: Flags
}

/** A Go regexp compiled to JS: `names[i]` is the name of group i ('' when unnamed). */
interface GoRegex {
  regex: RegExp
  names: string[]
}

const ANY = '[\\u{0}-\\u{10FFFF}]'
const PERL: Record<string, string> = { d: '\\u{30}-\\u{39}', s: '\\u{9}\\u{a}\\u{c}\\u{d}\\u{20}', w: '' }
PERL.w = `${PERL.d}\\u{41}-\\u{5a}\\u{5f}\\u{61}-\\u{7a}`
const POSIX: Record<string, string> = {
  alnum: '\\u{30}-\\u{39}\\u{41}-\\u{5a}\\u{61}-\\u{7a}',
  alpha: '\\u{41}-\\u{5a}\\u{61}-\\u{7a}',
  ascii: '\\u{0}-\\u{7f}',
  blank: '\\u{9}\\u{20}',
  cntrl: '\\u{0}-\\u{1f}\\u{7f}',
  digit: '\\u{30}-\\u{39}',
  graph: '\\u{21}-\\u{7e}',
  lower: '\\u{61}-\\u{7a}',
  print: '\\u{20}-\\u{7e}',
  punct: '\\u{21}-\\u{2f}\\u{3a}-\\u{40}\\u{5b}-\\u{60}\\u{7b}-\\u{7e}',
  space: '\\u{9}-\\u{d}\\u{20}',
  upper: '\\u{41}-\\u{5a}',
  word: `${PERL.w}`,
  xdigit: '\\u{30}-\\u{39}\\u{41}-\\u{46}\\u{61}-\\u{66}',
}
// Go's unicode.Categories (its `C` leaves out unassigned code points, JS's does not).
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(
    ' ',
  ),
)
const RE2_HINT = ' (RE2 syntax required: no look-arounds or backreferences)'

function cpJs(cp: number): string {
  const isAlnum = (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)
  return isAlnum ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`
}

/** Parses Go regexp syntax (regexp.Compile, i.e. syntax.Perl) and emits the JS equivalent. Throws PolicyError. */
function translateGo(pattern: string): GoRegex {
  const s = Array.from(pattern)
  const n = s.length
  let pos = 0
  const text = (from: number, to: number): string => s.slice(from, to).join('')
  const fail = (code: string, expr: string, hint = ''): never => {
    throw new PolicyError(`error parsing regexp: ${code}: \`${expr}\`${hint}`)
  }
  let flags: Flags = { fold: false, oneLine: true, dotNL: false, nonGreedy: false }
  const names: string[] = ['']
  const root: Frame = { cap: false, alts: [], cur: [], saved: flags }
  const stack: Frame[] = [root]
  let frame = root

  const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7'
  const hexVal = (c: string | undefined): number =>
    c !== undefined && /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1

  // parseEscape: one escaped code point; pos is at the backslash.
  const parseEscape = (): number => {
    const start = pos
    pos++
    if (pos >= n) fail('trailing backslash at end of expression', '')
    const c = s[pos++]!
    const bad = (hint = ''): never => fail('invalid escape sequence', text(start, pos), hint)
    if (c >= '1' && c <= '7' && !isOctal(s[pos])) bad(RE2_HINT)
    if (c >= '0' && c <= '7') {
      let r = c.charCodeAt(0) - 48
      for (let i = 1; i < 3 && isOctal(s[pos]); i++) r = r * 8 + s[pos++]!.charCodeAt(0) - 48
      return r
    }
    switch (c) {
      case 'x': {
        if (pos >= n) bad()
        if (s[pos] === '{') {
          pos++
          let r = 0
          let digits = 0
          for (;;) {
            if (pos >= n) bad()
            const d = s[pos++]!
            if (d === '}') break
            const v = hexVal(d)
            if (v < 0) bad()
            r = r * 16 + v
            if (r > 0x10ffff) bad()
            digits++
          }
          if (digits === 0) bad()
          return r
        }
        const x = hexVal(s[pos++])
        const y = hexVal(s[pos++])
        if (x < 0 || y < 0) bad()
        return x * 16 + y
      }
      case 'a':
        return 7
      case 'f':
        return 12
      case 'n':
        return 10
      case 'r':
        return 13
      case 't':
        return 9
      case 'v':
        return 11
    }
    const cp = c.codePointAt(0)!
    // Escaped ASCII punctuation (and `_`) is itself; letters and digits are reserved.
    if (cp < 0x80 && !/[0-9A-Za-z]/.test(c)) return cp
    return bad(c === '8' || c === '9' || c === 'k' ? RE2_HINT : '')
  }

  // parseUnicodeClass: \pL, \p{Greek}, \P{^Lu}; pos at the backslash. Returns a JS class item.
  const parseUnicode = (): string => {
    const start = pos
    let negate = s[pos + 1] === 'P'
    pos += 2
    let name: string
    let seq: string
    if (s[pos] !== '{') {
      name = s[pos] ?? ''
      pos = Math.min(pos + 1, n)
      seq = text(start, pos)
    } else {
      const end = s.indexOf('}', pos)
      if (end < 0) fail('invalid character class range', text(start, n))
      name = text(pos + 1, end)
      pos = end + 1
      seq = text(start, pos)
    }
    if (name.startsWith('^')) {
      negate = !negate
      name = name.slice(1)
    }
    const p = negate ? 'P' : 'p'
    if (name === 'Any') return negate ? `[^${ANY.slice(1, -1)}]` : ANY
    if (name === 'C') return `[${negate ? '^' : ''}\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]`
    if (CATEGORIES.has(name)) return `\\${p}{gc=${name}}`
    if (/^[A-Za-z_]+$/.test(name)) {
      try {
        new RegExp(`\\p{Script=${name}}`, 'v')
        return `\\${p}{Script=${name}}`
      } catch {
        // not a script either
      }
    }
    return fail('invalid character class range', seq)
  }

  // Perl class escapes \d \s \w and their negations; pos at the backslash. Returns a JS class item or undefined.
  const parsePerl = (): string | undefined => {
    const c = s[pos + 1]
    if (c === undefined || !'dDsSwW'.includes(c)) return undefined
    pos += 2
    const set = PERL[c.toLowerCase()]!
    return c === c.toLowerCase() ? set : `[^${set}]`
  }

  const parseClass = (): Node => {
    const start = pos
    pos++
    let items = ''
    let negate = false
    if (s[pos] === '^') {
      negate = true
      pos++
    }
    let first = true
    while (pos >= n || s[pos] !== ']' || first) {
      if (pos >= n) fail('missing closing ]', text(start, n))
      first = false
      if (s[pos] === '[' && s[pos + 1] === ':' && pos + 2 < n) {
        let close = -1
        for (let i = pos + 2; i + 1 < n; i++) {
          if (s[i] === ':' && s[i + 1] === ']') {
            close = i
            break
          }
        }
        if (close >= 0) {
          const name = text(pos, close + 2)
          const inner = text(pos + 2, close)
          const neg = inner.startsWith('^')
          const set = POSIX[neg ? inner.slice(1) : inner]
          if (set === undefined || !Object.hasOwn(POSIX, neg ? inner.slice(1) : inner)) {
            fail('invalid character class range', name)
          }
          items += neg ? `[^${set}]` : set
          pos = close + 2
          continue
        }
      }
      if (s[pos] === '\\' && (s[pos + 1] === 'p' || s[pos + 1] === 'P')) {
        items += parseUnicode()
        continue
      }
      if (s[pos] === '\\') {
        const perl = parsePerl()
        if (perl !== undefined) {
          items += perl
          continue
        }
      }
      const rangeStart = pos
      const classChar = (): number => {
        if (pos >= n) fail('missing closing ]', text(start, n))
        if (s[pos] === '\\') return parseEscape()
        return s[pos++]!.codePointAt(0)!
      }
      const lo = classChar()
      let hi = lo
      if (pos + 1 < n && s[pos] === '-' && s[pos + 1] !== ']') {
        pos++
        hi = classChar()
        if (hi < lo) fail('invalid character class range', text(rangeStart, pos))
      }
      items += lo === hi ? `\\u{${lo.toString(16)}}` : `\\u{${lo.toString(16)}}-\\u{${hi.toString(16)}}`
    }
    pos++
    return { k: 'set', js: `[${negate ? '^' : ''}${items}]`, fold: flags.fold }
  }

  // repeatIsValid: nested {n,m} counts may not multiply past 1000.
  const repeatIsValid = (node: Node, limit: number): boolean => {
    if (node.k === 'rep') {
      if (node.curly) {
        let m = node.max
        if (m === 0) return true
        if (m < 0) m = node.min
        if (m > limit) return false
        if (m > 0) limit = Math.trunc(limit / m)
      }
      return repeatIsValid(node.sub, limit)
    }
    if (node.k === 'group') return node.alts.every((alt) => alt.every((x) => repeatIsValid(x, limit)))
    return true
  }

  let lastRepeat = -1
  const repeat = (min: number, max: number, curly: boolean, before: number, after: number): number => {
    let greedy = !flags.nonGreedy
    if (s[after] === '?') {
      after++
      greedy = !greedy
    }
    if (lastRepeat >= 0) fail('invalid nested repetition operator', text(lastRepeat, after))
    const sub = frame.cur.pop()
    if (sub === undefined) fail('missing argument to repetition operator', text(before, after))
    const node: Node = { k: 'rep', sub: sub!, min, max, greedy, curly }
    if (curly && (min >= 2 || max >= 2) && !repeatIsValid(node, 1000)) {
      fail('invalid repeat count', text(before, after))
    }
    frame.cur.push(node)
    return after
  }

  // parseRepeat: {n}, {n,}, {n,m}; undefined when the brace is a literal.
  const parseInt10 = (): number | undefined => {
    if (pos >= n || s[pos]! < '0' || s[pos]! > '9') return undefined
    if (s[pos] === '0' && pos + 1 < n && s[pos + 1]! >= '0' && s[pos + 1]! <= '9') return undefined
    let v = 0
    while (pos < n && s[pos]! >= '0' && s[pos]! <= '9') {
      v = v >= 1e8 || v < 0 ? -1 : v * 10 + s[pos]!.charCodeAt(0) - 48
      pos++
    }
    return v
  }
  const parseRepeat = (): [number, number] | undefined => {
    const save = pos
    pos++
    let min = parseInt10()
    let max = min
    if (min !== undefined && s[pos] === ',') {
      pos++
      if (s[pos] === '}') {
        max = -1
      } else {
        max = parseInt10()
        // A max too large to parse makes the whole count invalid.
        if (max !== undefined && max < 0) min = -1
      }
    }
    if (min === undefined || max === undefined || s[pos] !== '}') {
      pos = save
      return undefined
    }
    pos++
    return [min, max]
  }

  const push = (node: Node) => frame.cur.push(node)
  const open = (cap: boolean, saved: Flags) => {
    frame = { cap, alts: [], cur: [], saved }
    stack.push(frame)
  }

  while (pos < n) {
    let repeated = -1
    const c = s[pos]!
    switch (c) {
      case '(': {
        if (s[pos + 1] !== '?') {
          names.push('')
          open(true, flags)
          pos++
          break
        }
        const start = pos
        // Named capture: (?P<name>…) and, since Go 1.22, (?<name>…).
        const named =
          (s[pos + 2] === 'P' && s[pos + 3] === '<' && n - pos > 4) || (s[pos + 2] === '<' && n - pos > 3)
        if (named) {
          if (s[pos + 2] === '<' && (s[pos + 3] === '=' || s[pos + 3] === '!')) {
            fail('invalid or unsupported Perl syntax', text(pos, pos + 4), RE2_HINT)
          }
          const begin = s[pos + 2] === 'P' ? pos + 4 : pos + 3
          const end = s.indexOf('>', pos)
          if (end < 0) fail('invalid named capture', text(pos, n))
          const name = text(begin, end)
          if (!/^[0-9A-Za-z_]+$/.test(name)) fail('invalid named capture', text(pos, end + 1))
          names.push(name)
          open(true, flags)
          pos = end + 1
          break
        }
        // Flags: (?i) (?-s) (?im-sU:…)
        pos += 2
        const next = { ...flags }
        let sign = 1
        let sawFlag = false
        let done = false
        while (pos < n && !done) {
          const f = s[pos++]!
          if (f === 'i' || f === 'm' || f === 's' || f === 'U') {
            const on = sign > 0
            if (f === 'i') next.fold = on
            else if (f === 'm') next.oneLine = !on
            else if (f === 's') next.dotNL = on
            else next.nonGreedy = on
            sawFlag = true
          } else if (f === '-' && sign > 0) {
            sign = -1
            sawFlag = false
          } else if ((f === ':' || f === ')') && (sign > 0 || sawFlag)) {
            if (f === ':') open(false, flags)
            flags = next
            done = true
          } else {
            const hint = f === '=' || f === '!' ? RE2_HINT : ''
            fail('invalid or unsupported Perl syntax', text(start, pos), hint)
          }
        }
        if (!done) fail('invalid or unsupported Perl syntax', text(start, pos))
        break
      }
      case '|':
        frame.alts.push(frame.cur)
        frame.cur = []
        pos++
        break
      case ')': {
        if (stack.length < 2) fail('unexpected )', pattern)
        frame.alts.push(frame.cur)
        const done = stack.pop()!
        frame = stack[stack.length - 1]!
        flags = done.saved
        frame.cur.push({ k: 'group', cap: done.cap, alts: done.alts })
        pos++
        break
      }
      case '^':
        push({ k: 'empty', js: flags.oneLine ? '^' : '(?<![^\\n])' })
        pos++
        break
      case '$':
        push({ k: 'empty', js: flags.oneLine ? '$' : '(?![^\\n])' })
        pos++
        break
      case '.':
        push({ k: 'set', js: flags.dotNL ? ANY : '[^\\n]', fold: false })
        pos++
        break
      case '[':
        push(parseClass())
        break
      case '*':
      case '+':
      case '?': {
        const before = pos
        const [min, max] = c === '*' ? [0, -1] : c === '+' ? [1, -1] : [0, 1]
        pos = repeat(min, max, false, before, pos + 1)
        repeated = before
        break
      }
      case '{': {
        const before = pos
        const r = parseRepeat()
        if (r === undefined) {
          push({ k: 'lit', cp: 0x7b, fold: flags.fold })
          pos++
          break
        }
        const [min, max] = r
        if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max)) {
          fail('invalid repeat count', text(before, pos))
        }
        pos = repeat(min, max, true, before, pos)
        repeated = before
        break
      }
      case '\\': {
        const e = s[pos + 1]
        if (e === 'A' || e === 'z') {
          push({ k: 'empty', js: e === 'A' ? '^' : '$' })
          pos += 2
          break
        }
        if (e === 'b' || e === 'B') {
          // Outside (?i:…) JS word boundaries are ASCII, like Go's.
          push({ k: 'empty', js: `\\${e}` })
          pos += 2
          break
        }
        if (e === 'C') fail('invalid escape sequence', '\\C')
        if (e === 'Q') {
          let end = pos + 2
          while (end < n && !(s[end] === '\\' && s[end + 1] === 'E')) end++
          for (let i = pos + 2; i < end; i++) push({ k: 'lit', cp: s[i]!.codePointAt(0)!, fold: flags.fold })
          pos = Math.min(end + 2, n)
          break
        }
        if (e === 'p' || e === 'P') {
          push({ k: 'set', js: parseUnicode(), fold: flags.fold })
          break
        }
        const perl = parsePerl()
        if (perl !== undefined) {
          push({ k: 'set', js: perl.startsWith('[') ? perl : `[${perl}]`, fold: flags.fold })
          break
        }
        push({ k: 'lit', cp: parseEscape(), fold: flags.fold })
        break
      }
      default:
        push({ k: 'lit', cp: c.codePointAt(0)!, fold: flags.fold })
        pos++
    }
    lastRepeat = repeated
  }
  if (stack.length !== 1) fail('missing closing )', pattern)
  root.alts.push(root.cur)

  const emitSeq = (nodes: Node[]): string => {
    let out = ''
    for (let i = 0; i < nodes.length; ) {
      const node = nodes[i]!
      if (node.k === 'lit' && node.fold) {
        // One (?i:…) per run of case-folded literals.
        let run = ''
        for (let x = nodes[i]; x?.k === 'lit' && x.fold; x = nodes[++i]) run += cpJs(x.cp)
        out += `(?i:${run})`
        continue
      }
      out += emit(node)
      i++
    }
    return out
  }
  const emit = (node: Node): string => {
    switch (node.k) {
      case 'lit':
        return node.fold ? `(?i:${cpJs(node.cp)})` : cpJs(node.cp)
      case 'set':
        return node.fold ? `(?i:${node.js})` : node.js
      case 'empty':
        return node.js
      case 'group':
        return `(${node.cap ? '' : '?:'}${node.alts.map(emitSeq).join('|')})`
      case 'rep': {
        const atomic = node.sub.k === 'lit' || node.sub.k === 'set' || node.sub.k === 'group'
        const sub = atomic ? emit(node.sub) : `(?:${emit(node.sub)})`
        const { min, max } = node
        const q =
          !node.curly && max < 0
            ? min === 0
              ? '*'
              : '+'
            : !node.curly
              ? '?'
              : max === min
                ? `{${min}}`
                : max < 0
                  ? `{${min},}`
                  : `{${min},${max}}`
        return `${sub}${q}${node.greedy ? '' : '?'}`
      }
    }
  }
  const source = root.alts.map(emitSeq).join('|')
  try {
    return { regex: new RegExp(source, 'v'), names }
  } catch (error) {
    throw new PolicyError(`error parsing regexp: ${(error as Error).message}: \`${pattern}\``)
  }
}

/**
 * Compiles a Go (RE2) regexp to a JS RegExp with the same matches, for unanchored `test()` the way Go's
 * MatchString works (Flux's exclusionList, filterTags). Throws PolicyError with Go's `error parsing regexp: …`
 * message, plus a hint for look-arounds and backreferences, which RE2 does not have.
 */
export function compileGoRegex(pattern: string): RegExp {
  return translateGo(pattern).regex
}

/** A parsed extract template: literal text, a group number, or the groups of one name (leftmost taking part wins). */
type Piece = string | number | number[]

/** Parses a Go Regexp.Expand template once: $1, ${1}, $name, ${name} (the name is greedy: $1a is "1a"), $$. */
function compileTemplate(template: string, names: readonly string[]): Piece[] {
  const pieces: Piece[] = []
  let literal = ''
  let t = template
  for (;;) {
    const dollar = t.indexOf('$')
    if (dollar < 0) break
    literal += t.slice(0, dollar)
    t = t.slice(dollar + 1)
    if (t.startsWith('$')) {
      literal += '$'
      t = t.slice(1)
      continue
    }
    const m = /^(?:\{([\p{L}\p{Nd}_]+)\}|([\p{L}\p{Nd}_]+))/u.exec(t)
    if (m === null) {
      // Malformed: the $ stays as text.
      literal += '$'
      continue
    }
    t = t.slice(m[0].length)
    const name = (m[1] ?? m[2])!
    let num = -1
    // A number: ASCII digits, no leading zero, below 1e8 (else it is looked up as a name).
    if (/^[0-9]+$/.test(name) && !(name.length > 1 && name[0] === '0')) {
      num = 0
      for (const d of name) {
        if (num >= 1e8) {
          num = -1
          break
        }
        num = num * 10 + d.charCodeAt(0) - 48
      }
    }
    if (literal !== '') pieces.push(literal)
    literal = ''
    if (num >= 0) {
      pieces.push(num)
    } else {
      const groups: number[] = []
      for (let i = 1; i < names.length; i++) if (names[i] === name) groups.push(i)
      pieces.push(groups)
    }
  }
  literal += t
  if (literal !== '') pieces.push(literal)
  return pieces
}

function expandPieces(pieces: readonly Piece[], match: RegExpExecArray): string {
  let out = ''
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      out += piece
    } else if (typeof piece === 'number') {
      // A group that is missing or did not take part expands to ''.
      out += match[piece] ?? ''
    } else {
      for (const i of piece) {
        if (match[i] !== undefined) {
          out += match[i]
          break
        }
      }
    }
  }
  return out
}

/** Go's Regexp.ExpandString for one match: $1, ${1}, $name, ${name} (greedy), $$; a missing group is ''. */
export function expandGo(template: string, match: RegExpExecArray, names: readonly string[]): string {
  return expandPieces(compileTemplate(template, names), match)
}

/**
 * Flux `filterTags: {pattern, extract}` around a policy: tags the (unanchored, RE2) pattern finds are kept, the
 * policy ranks `extract` expanded per tag (the tag itself when extract is ''), and each key maps back to its tag.
 * Tags that expand to the same key collapse: the earlier one in our input is kept (Flux: the later it sees).
 * Flux hands the keys to the policy in Go map order, which is random; we hand them sorted ascending byte-wise,
 * the same order a tag list has, so ties among keys break deterministically the same way as without a filter.
 */
export function filterTags(pattern: string, extract: string, inner: TagPolicy): TagPolicy {
  let compiled: GoRegex
  try {
    compiled = translateGo(pattern)
  } catch (error) {
    throw new PolicyError(`invalid regular expression pattern '${pattern}': ${(error as Error).message}`)
  }
  const { regex, names } = compiled
  const pieces = compileTemplate(extract, names)
  const keyOf = (tag: string): string | undefined => {
    if (extract === '') return regex.test(tag) ? tag : undefined
    const m = regex.exec(tag)
    return m === null ? undefined : expandPieces(pieces, m)
  }
  return {
    expr: `filter(${quote(pattern)}, extract=${quote(extract)}, policy=${inner.expr})`,
    matches(tag) {
      const key = keyOf(tag)
      return key !== undefined && inner.matches(key)
    },
    rank(tags) {
      if (extract === '') {
        // Each tag is its own key: no map needed, only the same order and no repeats.
        const keys = sortBytes(tags.filter((tag) => regex.test(tag)))
        return inner.rank(keys.filter((key, i) => i === 0 || key !== keys[i - 1]))
      }
      const byKey = new Map<string, string>()
      for (const tag of tags) {
        const key = keyOf(tag)
        if (key !== undefined && !byKey.has(key)) byKey.set(key, tag)
      }
      return inner.rank(sortBytes([...byKey.keys()])).map((key) => byKey.get(key)!)
    },
    compare(a, b) {
      const ka = keyOf(a)
      const kb = keyOf(b)
      if (ka === undefined || kb === undefined) return (ka === undefined ? 0 : 1) - (kb === undefined ? 0 : 1)
      return inner.compare(ka, kb)
    },
  }
}
