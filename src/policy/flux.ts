// Flux ImagePolicy kinds (image-reflector-controller internal/policy) as TagPolicy.
//
// Tie breaking: Flux reads its tags from its own DB, sorted descending byte-wise, while our callers pass them
// ascending. So every rank() here applies Flux's rule to the REVERSE of its input: semver's "first of equal
// precedence wins" becomes "last wins" (the byte-wise greatest), numerical's "later equal value wins" becomes
// "earlier wins", filterTags' "later original of a key is kept" becomes "earlier is kept". Tests feed a
// vector's tags reversed to replay exactly what Flux saw.
import { type VersionedPolicy, versionPart } from './distance.ts'
import { compileGoRegex, groupNames } from './goregex.ts'
import { compareLoose } from './looseversion.ts'
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
      // A running tag Flux cannot read (`1.27`, two parts) is still a version: compare its numbers loosely, or
      // `1.27` against the pick `1.26.3` would count as behind.
      if (va === undefined || vb === undefined) return compareLoose(a, b)
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
      // With a NaN the sort cannot say what Flux picks: replay its scan (numerical.go Latest, in its order). A NaN
      // compares false both ways, so it replaces the pick, and so does the tag after it; then the scan goes on.
      if (nan) {
        let pick = n - 1
        let pv = values[pick]!
        for (let i = n - 2; i >= 0; i--) {
          const cv = values[i]!
          if (o === 'asc' ? cv < pv : cv > pv) continue
          pick = i
          pv = cv
        }
        if (order[0] !== pick) {
          order.splice(order.indexOf(pick), 1)
          order.unshift(pick)
        }
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
// filterTags

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
export function filterTags(pattern: string, extract: string, inner: TagPolicy): VersionedPolicy {
  let regex: RegExp
  try {
    regex = compileGoRegex(pattern)
  } catch (error) {
    throw new PolicyError(`invalid regular expression pattern '${pattern}': ${(error as Error).message}`)
  }
  const pieces = compileTemplate(extract, groupNames(regex))
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
    // The inner policy reads the key, so the key's numbers are the version (main-1.2.0-abc → 1.2.0).
    versionOf(tag) {
      const key = keyOf(tag)
      return key === undefined ? undefined : versionPart(inner, key)
    },
  }
}
