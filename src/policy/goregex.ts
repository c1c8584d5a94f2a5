// Go (RE2) regexps on JS RegExp, for Flux's filterTags and exclusion list and kluctl's regex() and prefix().
//
// The pattern is parsed by Go's regexp/syntax rules (syntax.Perl, as regexp.Compile does) with Go's error
// messages, and re-emitted as a JS pattern WITHOUT the i, u or v flags. V8 runs only such patterns on its
// linear-time engine, and --enable-experimental-regexp-engine-on-excessive-backtracks makes it switch there
// when a pattern backtracks too much: RE2 never backtracks, so `(a+)+$` must not hang us either. Hence:
// - every class is a set of code points, emitted as UTF-16: one class for the BMP and surrogate pairs above it,
//   so `.` takes a whole astral character as Go takes a whole rune (a lone surrogate, never in a Go string,
//   matches nothing); (?i) folds the sets (simple case folding, as Go's orbits); \d \s \w and POSIX classes are
//   Go's ASCII sets;
// - counted repeats without captures are unrolled as Go's simplify does, since V8's linear engine refuses
//   counts above 16; (?U) swaps greediness; names are dropped (JS names are stricter), groupNames keeps them;
// - (?m) anchors are look-arounds, as only \n ends a line in Go; a (?m)$ keeps a pattern off the linear engine.
import { setFlagsFromString } from 'node:v8'
import { PolicyError } from './types.ts'

const re2Only = (what: string): string => `${what} are not supported: RE2 syntax is required`
const LOOKAROUND = re2Only('look-arounds')
const BACKREFERENCE = re2Only('backreferences')
// Perl groups RE2 lacks, by what follows `(?`: Go's message names only the text, ours says why.
const PERL_ONLY: Record<string, string> = {
  '=': LOOKAROUND,
  '!': LOOKAROUND,
  '>': re2Only('atomic groups'),
  'P=': BACKREFERENCE,
  'P>': re2Only('recursive calls'),
}

let linearFallback = false

/** Lets V8 switch to its linear engine on excessive backtracking: process-wide, results unchanged. */
function enableLinearFallback(): void {
  if (linearFallback) return
  linearFallback = true
  try {
    // Read when a RegExp is created, so it must come before the first one.
    setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks')
  } catch {
    // An engine without the flag still works, only without the safety net.
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Code point sets

type Ranges = number[] // flat [lo, hi, lo, hi, ...] over code points

const MAX_RUNE = 0x10ffff
const DIGIT: Ranges = [0x30, 0x39]
const WORD: Ranges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a]
const PERL: Record<string, Ranges> = { d: DIGIT, s: [0x9, 0xa, 0xc, 0xd, 0x20, 0x20], w: WORD }
const POSIX: Record<string, Ranges> = {
  alnum: [0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a],
  alpha: [0x41, 0x5a, 0x61, 0x7a],
  ascii: [0, 0x7f],
  blank: [0x9, 0x9, 0x20, 0x20],
  cntrl: [0, 0x1f, 0x7f, 0x7f],
  digit: DIGIT,
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [0x9, 0xd, 0x20, 0x20],
  upper: [0x41, 0x5a],
  word: WORD,
  xdigit: [0x30, 0x39, 0x41, 0x46, 0x61, 0x66],
}
// Go's unicode.Categories (its `C` leaves out unassigned code points, JS's does not).
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(
    ' ',
  ),
)

/** Sorted and merged, without surrogates: a Go string cannot hold one, so no set does. */
function normalize(r: Ranges): Ranges {
  const pairs: [number, number][] = []
  for (let i = 0; i < r.length; i += 2) {
    const lo = r[i]!
    const hi = r[i + 1]!
    if (lo < 0xd800) pairs.push([lo, Math.min(hi, 0xd7ff)])
    if (hi > 0xdfff) pairs.push([Math.max(lo, 0xe000), hi])
  }
  pairs.sort((a, b) => a[0] - b[0])
  const out: Ranges = []
  for (const [lo, hi] of pairs) {
    const last = out.length - 1
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi)
    else out.push(lo, hi)
  }
  return out
}

function negate(r: Ranges): Ranges {
  const n = normalize(r)
  const out: Ranges = []
  let next = 0
  for (let i = 0; i < n.length; i += 2) {
    if (n[i]! > next) out.push(next, n[i]! - 1)
    next = n[i + 1]! + 1
  }
  if (next <= MAX_RUNE) out.push(next, MAX_RUNE)
  return normalize(out)
}

let everyRune: string | undefined

/** Every code point but the surrogates, in order: a `u` regexp run over it lists the ranges it matches. */
function scan(re: RegExp): Ranges {
  if (everyRune === undefined) {
    // UTF-16LE bytes, decoded at once: far faster than String.fromCharCode over 2M units.
    const bytes = new Uint8Array(2 * (0xf800 + 0x200000))
    let k = 0
    const put = (u: number) => {
      bytes[k++] = u & 0xff
      bytes[k++] = u >> 8
    }
    for (let c = 0; c < 0x10000; c++) if (c < 0xd800 || c > 0xdfff) put(c)
    for (let v = 0; v < 0x100000; v++) {
      put(0xd800 + (v >> 10))
      put(0xdc00 + (v & 0x3ff))
    }
    everyRune = Buffer.from(bytes.buffer).toString('utf16le')
  }
  const out: Ranges = []
  for (const m of everyRune.matchAll(re)) {
    const s = m[0]
    const low = s.charCodeAt(s.length - 1)
    out.push(s.codePointAt(0)!, s.codePointAt(low >= 0xdc00 && low <= 0xdfff ? s.length - 2 : s.length - 1)!)
  }
  return normalize(out)
}

const uClass = (r: Ranges): string => {
  let out = ''
  for (let i = 0; i < r.length; i += 2) out += `\\u{${r[i]!.toString(16)}}-\\u{${r[i + 1]!.toString(16)}}`
  return out
}

const folded = new Map<string, Ranges>()

/** Adds every code point that case-folds like one in the set (Go's SimpleFold orbits; JS `iu` folds the same). */
function fold(r: Ranges): Ranges {
  const n = normalize(r)
  if (n.length === 0) return n
  if (n[n.length - 1]! >= 0x80) {
    const key = n.join()
    let out = folded.get(key)
    if (out === undefined) {
      out = normalize([...n, ...scan(new RegExp(`[${uClass(n)}]+`, 'giu'))])
      folded.set(key, out)
    }
    return out
  }
  // ASCII, without the scan: the other case, plus KELVIN SIGN for k and LONG S for s as in Go's orbits.
  const out = n.slice()
  const has = (c: number) => n.some((_, i) => i % 2 === 0 && n[i]! <= c && c <= n[i + 1]!)
  for (let i = 0; i < n.length; i += 2) {
    for (const [from, to, delta] of [
      [0x41, 0x5a, 32],
      [0x61, 0x7a, -32],
    ] as const) {
      const a = Math.max(n[i]!, from)
      const b = Math.min(n[i + 1]!, to)
      if (a <= b) out.push(a + delta, b + delta)
    }
  }
  if (has(0x4b) || has(0x6b)) out.push(0x212a, 0x212a)
  if (has(0x53) || has(0x73)) out.push(0x17f, 0x17f)
  return normalize(out)
}

const properties = new Map<string, Ranges>()

/** A Go Unicode class name (`L`, `Greek`, `Any`) as ranges; undefined when Go does not know it. */
function unicodeClass(name: string): Ranges | undefined {
  if (name === 'Any') return [0, MAX_RUNE]
  let out = properties.get(name)
  if (out !== undefined) return out
  let js: string
  if (name === 'C') js = '[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]'
  else if (CATEGORIES.has(name)) js = `\\p{gc=${name}}`
  else if (/^[A-Za-z_]+$/.test(name)) js = `\\p{Script=${name}}`
  else return undefined
  let re: RegExp
  try {
    re = new RegExp(`${js}+`, 'gu')
  } catch {
    return undefined // not a script either
  }
  out = scan(re)
  properties.set(name, out)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Emitting JS (no flags: UTF-16 units)

interface Emitted {
  src: string
  /** Whether a quantifier may follow src directly. */
  atom: boolean
}

const hex4 = (u: number): string => `\\u${u.toString(16).padStart(4, '0')}`
const unit = (u: number): string =>
  (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5a) || (u >= 0x61 && u <= 0x7a)
    ? String.fromCharCode(u)
    : hex4(u)

/** A class over UTF-16 units: the shorter of [...] and [^...] (which then names the surrogates it leaves out). */
function unitClass(r: Ranges, positive = false): string {
  if (r.length === 2 && r[0] === r[1]) return unit(r[0]!)
  const rest: Ranges = []
  let next = 0
  for (let i = 0; i < r.length; i += 2) {
    if (r[i]! > next) rest.push(next, r[i]! - 1)
    next = r[i + 1]! + 1
  }
  if (next <= 0xffff) rest.push(next, 0xffff)
  const [body, caret] = !positive && rest.length < r.length ? [rest, '^'] : [r, '']
  let out = ''
  for (let i = 0; i < body.length; i += 2) {
    out += body[i] === body[i + 1] ? unit(body[i]!) : `${unit(body[i]!)}-${unit(body[i + 1]!)}`
  }
  return `[${caret}${out}]`
}

function emitSet(r: Ranges): Emitted {
  const bmp: Ranges = []
  const astral: Ranges = []
  for (let i = 0; i < r.length; i += 2) {
    const lo = r[i]!
    const hi = r[i + 1]!
    if (lo <= 0xffff) bmp.push(lo, Math.min(hi, 0xffff))
    if (hi > 0xffff) astral.push(Math.max(lo, 0x10000), hi)
  }
  if (astral.length === 0) return { src: bmp.length === 0 ? '[]' : unitClass(bmp), atom: true }
  // Above the BMP: [high surrogates][low surrogates] pieces, one per high unit where the lows vary.
  const pieces: { h1: number; h2: number; low: Ranges }[] = []
  const add = (h1: number, h2: number, l1: number, l2: number) => {
    const last = pieces[pieces.length - 1]
    if (last !== undefined && h1 === h2 && last.h1 === h1 && last.h2 === h1) last.low.push(l1, l2)
    else pieces.push({ h1, h2, low: [l1, l2] })
  }
  for (let i = 0; i < astral.length; i += 2) {
    const lo = astral[i]! - 0x10000
    const hi = astral[i + 1]! - 0x10000
    const h1 = 0xd800 + (lo >> 10)
    const l1 = 0xdc00 + (lo & 0x3ff)
    const h2 = 0xd800 + (hi >> 10)
    const l2 = 0xdc00 + (hi & 0x3ff)
    if (h1 === h2) {
      add(h1, h1, l1, l2)
      continue
    }
    // A partial first high unit, the full ones between, a partial last one.
    const head = l1 > 0xdc00
    const tail = l2 < 0xdfff
    if (head) add(h1, h1, l1, 0xdfff)
    if (h1 + (head ? 1 : 0) <= h2 - (tail ? 1 : 0))
      add(h1 + (head ? 1 : 0), h2 - (tail ? 1 : 0), 0xdc00, 0xdfff)
    if (tail) add(h2, h2, 0xdc00, l2)
  }
  const alts = pieces.map(
    (p) => (p.h1 === p.h2 ? hex4(p.h1) : `[${hex4(p.h1)}-${hex4(p.h2)}]`) + unitClass(p.low, true),
  )
  if (bmp.length > 0) alts.unshift(unitClass(bmp))
  return alts.length === 1 ? { src: alts[0]!, atom: false } : { src: `(?:${alts.join('|')})`, atom: true }
}

type Node =
  | { k: 'set'; r: Ranges }
  | { k: 'empty'; js: string }
  | { k: 'group'; cap: boolean; alts: Node[][] }
  | { k: 'rep'; sub: Node; min: number; max: number; greedy: boolean; curly: boolean }

// An unrolled repeat may grow the source to this many characters; beyond, it stays a JS count.
const UNROLL_BUDGET = 1 << 16

function hasCapture(node: Node): boolean {
  if (node.k === 'rep') return hasCapture(node.sub)
  if (node.k === 'group') return node.cap || node.alts.some((alt) => alt.some(hasCapture))
  return false
}

function emit(node: Node): Emitted {
  switch (node.k) {
    case 'set':
      return emitSet(node.r)
    case 'empty':
      return { src: node.js, atom: false }
    case 'group':
      return { src: `(${node.cap ? '' : '?:'}${node.alts.map(emitSeq).join('|')})`, atom: true }
    case 'rep': {
      const sub = emit(node.sub)
      const x = sub.atom ? sub.src : `(?:${sub.src})`
      const lazy = node.greedy ? '' : '?'
      const { min, max } = node
      if (max < 0 && min <= 1) return { src: `${x}${min === 0 ? '*' : '+'}${lazy}`, atom: false }
      if (min === 0 && max === 1) return { src: `${x}?${lazy}`, atom: false }
      if (max === min && min <= 1) return { src: `${x}{${min}}`, atom: false }
      // Go's simplify: x{2,} is xx+, x{2,4} is xx(x(x)?)?. A capture would be duplicated, so that stays a count.
      if (!hasCapture(node.sub) && x.length * (max < 0 ? min : max) <= UNROLL_BUDGET) {
        if (max < 0) return { src: `${x.repeat(min - 1)}${x}+${lazy}`, atom: false }
        let tail = ''
        for (let k = min; k < max; k++) tail = `(?:${x}${tail})?${lazy}`
        return { src: x.repeat(min) + tail, atom: false }
      }
      const count = max === min ? `{${min}}` : max < 0 ? `{${min},}` : `{${min},${max}}`
      return { src: `${x}${count}${lazy}`, atom: false }
    }
  }
}

function emitSeq(nodes: Node[]): string {
  let out = ''
  for (const node of nodes) out += emit(node).src
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing Go syntax

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

/** Go's expression text, kept on one line. */
function excerpt(s: string): string {
  return s.replaceAll('\n', '\\n').replaceAll('\r', '\\r')
}

/** Parses Go regexp syntax (regexp.Compile, i.e. syntax.Perl). Throws PolicyError with Go's messages. */
function parse(pattern: string): { alts: Node[][]; names: string[] } {
  const s = Array.from(pattern)
  const n = s.length
  let pos = 0
  const text = (from: number, to: number): string => s.slice(from, to).join('')
  const fail = (code: string, expr: string, why = ''): never => {
    throw new PolicyError(
      `error parsing regexp: ${code}: \`${excerpt(expr)}\`${why === '' ? '' : `: ${why}`}`,
    )
  }
  let flags: Flags = { fold: false, oneLine: true, dotNL: false, nonGreedy: false }
  const names: string[] = ['']
  const root: Frame = { cap: false, alts: [], cur: [], saved: flags }
  const stack: Frame[] = [root]
  let frame = root

  const isOctal = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '7'
  const hexVal = (c: string | undefined): number =>
    c !== undefined && /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1
  // A class group (\d, [:alpha:], \pL) under (?i) is folded before it is negated, as Go does.
  const group = (set: Ranges, negated: boolean): Ranges => {
    const g = flags.fold ? fold(set) : set
    return negated ? negate(g) : g
  }

  // parseEscape: one escaped code point; pos is at the backslash.
  const parseEscape = (): number => {
    const start = pos
    pos++
    if (pos >= n) fail('trailing backslash at end of expression', '')
    const c = s[pos++]!
    const bad = (why = ''): never => fail('invalid escape sequence', text(start, pos), why)
    if (c >= '1' && c <= '7' && !isOctal(s[pos])) bad(BACKREFERENCE)
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
            if (r > MAX_RUNE) bad()
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
    return bad('89kg'.includes(c) ? BACKREFERENCE : '')
  }

  // parseUnicodeClass: \pL, \p{Greek}, \P{^Lu}; pos at the backslash.
  const parseUnicode = (): Ranges => {
    const start = pos
    let negated = s[pos + 1] === 'P'
    pos += 2
    let name: string
    if (s[pos] !== '{') {
      name = s[pos] ?? ''
      pos = Math.min(pos + 1, n)
    } else {
      const end = s.indexOf('}', pos)
      if (end < 0) fail('invalid character class range', text(start, n))
      name = text(pos + 1, end)
      pos = end + 1
    }
    if (name.startsWith('^')) {
      negated = !negated
      name = name.slice(1)
    }
    const set = unicodeClass(name)
    if (set === undefined) return fail('invalid character class range', text(start, pos))
    return group(set, negated)
  }

  // Perl class escapes \d \s \w and their negations; pos at the backslash. Undefined for any other escape.
  const parsePerl = (): Ranges | undefined => {
    const c = s[pos + 1]
    if (c === undefined || !'dDsSwW'.includes(c)) return undefined
    pos += 2
    const lower = c.toLowerCase()
    return group(PERL[lower]!, c !== lower)
  }

  const parseClass = (): Node => {
    const start = pos
    pos++
    let negated = false
    if (s[pos] === '^') {
      negated = true
      pos++
    }
    // Ranges are folded at the end, groups already are.
    const ranges: Ranges = []
    const groups: Ranges = []
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
          const inner = text(pos + 2, close)
          const neg = inner.startsWith('^')
          const name = neg ? inner.slice(1) : inner
          if (!Object.hasOwn(POSIX, name)) fail('invalid character class range', text(pos, close + 2))
          groups.push(...group(POSIX[name]!, neg))
          pos = close + 2
          continue
        }
      }
      if (s[pos] === '\\' && (s[pos + 1] === 'p' || s[pos + 1] === 'P')) {
        groups.push(...parseUnicode())
        continue
      }
      if (s[pos] === '\\') {
        const perl = parsePerl()
        if (perl !== undefined) {
          groups.push(...perl)
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
      ranges.push(lo, hi)
    }
    pos++
    const set = normalize([...(flags.fold ? fold(ranges) : ranges), ...groups])
    return { k: 'set', r: negated ? negate(set) : set }
  }

  const literal = (cp: number): Node => ({ k: 'set', r: flags.fold ? fold([cp, cp]) : [cp, cp] })

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
    if (sub === undefined) return fail('missing argument to repetition operator', text(before, after))
    const node: Node = { k: 'rep', sub, min, max, greedy, curly }
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
        if (s[pos + 2] === '<' && (s[pos + 3] === '=' || s[pos + 3] === '!')) {
          fail('invalid or unsupported Perl syntax', text(pos, pos + 4), LOOKAROUND)
        }
        // Named capture: (?P<name>…) and, since Go 1.22, (?<name>…).
        const named =
          (s[pos + 2] === 'P' && s[pos + 3] === '<' && n - pos > 4) || (s[pos + 2] === '<' && n - pos > 3)
        if (named) {
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
            const why = PERL_ONLY[f === 'P' ? `P${s[pos] ?? ''}` : f] ?? ''
            fail('invalid or unsupported Perl syntax', text(start, pos), why)
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
        push({ k: 'set', r: flags.dotNL ? [0, MAX_RUNE] : negate([0xa, 0xa]) })
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
          push(literal(0x7b))
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
          // Without the i and u flags JS word boundaries are ASCII, like Go's.
          push({ k: 'empty', js: `\\${e}` })
          pos += 2
          break
        }
        if (e === 'C') fail('invalid escape sequence', '\\C')
        if (e === 'Q') {
          let end = pos + 2
          while (end < n && !(s[end] === '\\' && s[end + 1] === 'E')) end++
          for (let i = pos + 2; i < end; i++) push(literal(s[i]!.codePointAt(0)!))
          pos = Math.min(end + 2, n)
          break
        }
        if (e === 'p' || e === 'P') {
          push({ k: 'set', r: parseUnicode() })
          break
        }
        const perl = parsePerl()
        if (perl !== undefined) {
          push({ k: 'set', r: perl })
          break
        }
        push(literal(parseEscape()))
        break
      }
      default:
        push(literal(c.codePointAt(0)!))
        pos++
    }
    lastRepeat = repeated
  }
  if (stack.length !== 1) fail('missing closing )', pattern)
  root.alts.push(root.cur)
  return { alts: root.alts, names }
}

// ---------------------------------------------------------------------------------------------------------------
// API

const groupsOf = new WeakMap<RegExp, readonly string[]>()

/**
 * Compiles a Go (RE2) regexp to a JS RegExp with the same matches and group numbers: unanchored for `test()`
 * the way Go's MatchString works (Flux's filterTags and exclusionList), or `anchored` the way kluctl builds
 * `"^" + r + "$"`: concatenated, without a group, so `a|b` means "starts with a, or ends with b".
 * Throws PolicyError with Go's `error parsing regexp: …` message; look-arounds and backreferences add that
 * RE2 syntax is required.
 */
export function compileGoRegex(pattern: string, options: { anchored?: boolean } = {}): RegExp {
  const go = options.anchored === true ? `^${pattern}$` : pattern
  const { alts, names } = parse(go)
  const source = alts.map(emitSeq).join('|')
  enableLinearFallback()
  let regex: RegExp
  try {
    regex = new RegExp(source)
  } catch (error) {
    throw new PolicyError(`error parsing regexp: ${(error as Error).message}: \`${excerpt(go)}\``)
  }
  groupsOf.set(regex, names)
  return regex
}

/** The group names of a RegExp from compileGoRegex: `names[i]` is group i's name, '' when unnamed. */
export function groupNames(regex: RegExp): readonly string[] {
  return groupsOf.get(regex) ?? []
}
