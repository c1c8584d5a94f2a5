// kluctl's version filters (pkg/utils/versions/latest_version.go @ 65ce9dfe) as TagPolicy: semver(),
// prefix(), number(), regex(). All of them order by LooseVersion and pick what Go's `sort.Stable` puts last.
import { setFlagsFromString } from 'node:v8'
import { type VersionedPolicy, versionPart } from './distance.ts'
import { compareLoose, rankLoose } from './looseversion.ts'
import { PolicyError, type TagPolicy } from './types.ts'

/** A tag that holds a newline fails Go's `(.*)$` (`.` stops at \n), so no kluctl filter matches it. */
function hasNewline(tag: string): boolean {
  return tag.indexOf('\n') >= 0
}

/** `semver(allow_no_nums)`: `v?` then a digit, or anything with allow_no_nums. Not semver at all: it is loose. */
export function semver(allowNoNums = false): VersionedPolicy {
  const matches = (tag: string): boolean => {
    if (hasNewline(tag)) return false
    if (allowNoNums) return true
    const c = tag.charCodeAt(tag.charCodeAt(0) === 118 ? 1 : 0)
    return c >= 48 && c <= 57
  }
  return {
    expr: `semver(allow_no_nums=${allowNoNums})`,
    matches,
    rank: (tags) => rankLoose(tags, matches),
    compare: compareLoose,
    versionOf: (tag) => tag,
  }
}

/** `number()`: `^[0-9]+$`, ordered by LooseVersion (leading zeros ignored, values above 2^31-1 tie). */
export function number(): VersionedPolicy {
  const matches = (tag: string): boolean => {
    if (tag.length === 0) return false
    for (let i = 0; i < tag.length; i++) {
      const c = tag.charCodeAt(i)
      if (c < 48 || c > 57) return false
    }
    return true
  }
  return {
    expr: 'number()',
    matches,
    rank: (tags) => rankLoose(tags, matches),
    compare: compareLoose,
    // A build number: its distance is not patch/minor/major.
    versionOf: () => undefined,
  }
}

/** `regex(pattern)`: Go compiles `^` + pattern + `$` without a group, so `a|b` is "starts with a or ends with b". */
export function regex(pattern: string): VersionedPolicy {
  const re = compileGoRegexp(`^${pattern}$`)
  const matches = (tag: string): boolean => re.test(tag)
  return {
    expr: `regex(pattern=${quoteArg(pattern)})`,
    matches,
    rank: (tags) => rankLoose(tags, matches),
    compare: compareLoose,
    versionOf: (tag) => tag,
  }
}

/**
 * `prefix(prefix, suffix)`: Go compiles `^<prefix>(.*)$` with the prefix unescaped (`.` is any char, and a
 * group inside the prefix becomes group 1), the suffix filter judges and orders group 1, and the latest maps
 * back to the first tag with that remainder. The default suffix is `semver()` (Go; Python's was regex('.*')).
 */
export function prefix(prefix: string, suffix: TagPolicy = semver()): VersionedPolicy {
  const re = compileGoRegexp(`^${prefix}(.*)$`)
  const remainder = (tag: string): string | undefined => {
    const m = re.exec(tag)
    return m === null ? undefined : (m[1] ?? '')
  }
  return {
    expr: `prefix(prefix=${quoteArg(prefix)}, suffix=${suffix.expr})`,
    matches(tag) {
      const r = remainder(tag)
      return r !== undefined && suffix.matches(r)
    },
    rank(tags) {
      const byRemainder = new Map<string, string[]>()
      const remainders: string[] = []
      for (const tag of tags) {
        const r = remainder(tag)
        if (r === undefined || !suffix.matches(r)) continue
        remainders.push(r)
        const same = byRemainder.get(r)
        if (same === undefined) byRemainder.set(r, [tag])
        else same.push(tag)
      }
      // Tags sharing a remainder stay in input order: kluctl returns the first of them.
      const out: string[] = []
      for (const r of suffix.rank(remainders)) {
        const same = byRemainder.get(r)
        if (same === undefined) continue
        for (const tag of same) out.push(tag)
        byRemainder.delete(r)
      }
      return out
    },
    compare(a, b) {
      const ra = remainder(a)
      const rb = remainder(b)
      return ra !== undefined && rb !== undefined ? suffix.compare(ra, rb) : compareLoose(a, b)
    },
    versionOf(tag) {
      const r = remainder(tag)
      return r === undefined ? undefined : versionPart(suffix, r)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing string arguments

/** Whether `s` scans back unchanged between `q` quotes: a backslash takes the next char, no newline. */
function scansAs(s: string, q: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (c === '\n' || c === q) return false
    if (c === '\\') {
      i++
      if (i >= s.length || s[i] === '\n') return false
    }
  }
  return true
}

/**
 * A string argument as the policy language writes it: double quotes like kluctl's String(), single quotes
 * when that is the only exact spelling. Strings are not escape-processed, so a value holding both an unescaped
 * `'` and `"` has no exact spelling; it gets `\"` (and `\n`), which means the same in a regex.
 */
export function quoteArg(s: string): string {
  if (scansAs(s, '"')) return `"${s}"`
  if (scansAs(s, "'")) return `'${s}'`
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '\\' && i + 1 < s.length && s[i + 1] !== '\n') out += c + s[++i]
    else if (c === '\\') out += '\\\\'
    else if (c === '"') out += '\\"'
    else if (c === '\n') out += '\\n'
    else out += c
  }
  return `"${out}"`
}

// ---------------------------------------------------------------------------------------------------------------
// Go RE2 syntax on JS RegExp
//
// kluctl compiles its patterns with Go's regexp (RE2). We translate them to a JS pattern without the `u`
// flag: V8 can then fall back to its linear-time engine when a pattern backtracks too much (RE2 never
// backtracks, so a pattern like `(a+)+$` must not hang us either). Exact for ASCII tags, which is all an OCI
// tag can hold: (?i) becomes explicit [xX] classes, Go's \s and POSIX classes become explicit sets,
// `.` becomes [^\n]. Look-arounds and backreferences do not exist in RE2 and are rejected.

let linearFallback = false

/** Lets V8 switch to its non-backtracking engine on excessive backtracking (process-wide, results unchanged). */
function enableLinearFallback(): void {
  if (linearFallback) return
  linearFallback = true
  try {
    setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks')
  } catch {
    // An engine without the flag still works, only without the safety net.
  }
}

const RE2_REQUIRED = 'RE2 syntax is required'

type Ranges = number[] // flat [lo, hi, lo, hi, ...] over UTF-16 code units

const DIGIT: Ranges = [48, 57]
const SPACE: Ranges = [9, 10, 12, 13, 32, 32]
const WORD: Ranges = [48, 57, 65, 90, 95, 95, 97, 122]
const POSIX: Record<string, Ranges> = {
  alnum: [48, 57, 65, 90, 97, 122],
  alpha: [65, 90, 97, 122],
  ascii: [0, 0x7f],
  blank: [9, 9, 32, 32],
  cntrl: [0, 0x1f, 0x7f, 0x7f],
  digit: DIGIT,
  graph: [0x21, 0x7e],
  lower: [97, 122],
  print: [0x20, 0x7e],
  punct: [0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e],
  space: [9, 13, 32, 32],
  upper: [65, 90],
  word: WORD,
  xdigit: [48, 57, 65, 70, 97, 102],
}

function normalize(r: Ranges): Ranges {
  const pairs: [number, number][] = []
  for (let i = 0; i < r.length; i += 2) pairs.push([r[i]!, r[i + 1]!])
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
  const out: Ranges = []
  let next = 0
  const n = normalize(r)
  for (let i = 0; i < n.length; i += 2) {
    if (n[i]! > next) out.push(next, n[i]! - 1)
    next = n[i + 1]! + 1
  }
  if (next <= 0xffff) out.push(next, 0xffff)
  return out
}

/** ASCII case folding: adds the other case of every letter in the ranges. */
function fold(r: Ranges): Ranges {
  const out = r.slice()
  for (let i = 0; i < r.length; i += 2) {
    const lo = r[i]!
    const hi = r[i + 1]!
    for (const [from, to, delta] of [
      [65, 90, 32],
      [97, 122, -32],
    ] as const) {
      const a = Math.max(lo, from)
      const b = Math.min(hi, to)
      if (a <= b) out.push(a + delta, b + delta)
    }
  }
  return out
}

function unit(c: number): string {
  return `\\u${c.toString(16).padStart(4, '0')}`
}

function emitSet(r: Ranges): string {
  const n = normalize(r)
  if (n.length === 2 && n[0] === 0 && n[1] === 0xffff) return '[^]'
  let out = '['
  for (let i = 0; i < n.length; i += 2)
    out += n[i] === n[i + 1] ? unit(n[i]!) : `${unit(n[i]!)}-${unit(n[i + 1]!)}`
  return `${out}]`
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

function isAsciiPunct(c: number): boolean {
  return (
    (c >= 0x21 && c <= 0x2f) ||
    (c >= 0x3a && c <= 0x40) ||
    (c >= 0x5b && c <= 0x60) ||
    (c >= 0x7b && c <= 0x7e)
  )
}

interface Flags {
  fold: boolean
  dotNL: boolean
  ungreedy: boolean
}

type Escape =
  | { kind: 'char'; c: number; next: number }
  | { kind: 'set'; r: Ranges; next: number }
  | { kind: 'js'; js: string; next: number }

/** Translates a Go regexp to a JS pattern (no flags needed). Throws PolicyError. */
export function translateGoRegexp(pattern: string): string {
  const p = pattern
  const n = p.length
  const fail = (reason: string): never => {
    throw new PolicyError(`invalid regex ${JSON.stringify(pattern)}: ${reason}`)
  }
  const isOctal = (j: number): boolean => j < n && p[j]! >= '0' && p[j]! <= '7'

  // The escape after the backslash at j-1; `inClass` limits it to what Go allows inside [...].
  const parseEscape = (j: number, inClass: boolean): Escape => {
    if (j >= n) return fail('trailing backslash at end of expression')
    const ch = p[j]!
    const c = p.charCodeAt(j)
    if (ch >= '1' && ch <= '9' && !(ch <= '7' && isOctal(j + 1))) {
      return fail(`backreferences are not supported (\\${ch}): ${RE2_REQUIRED}`)
    }
    if (ch >= '0' && ch <= '7') {
      let v = c - 48
      let k = j + 1
      while (k < j + 3 && isOctal(k)) v = v * 8 + p.charCodeAt(k++) - 48
      return { kind: 'char', c: v, next: k }
    }
    switch (ch) {
      case 'a':
        return { kind: 'char', c: 7, next: j + 1 }
      case 'f':
        return { kind: 'char', c: 12, next: j + 1 }
      case 't':
        return { kind: 'char', c: 9, next: j + 1 }
      case 'n':
        return { kind: 'char', c: 10, next: j + 1 }
      case 'r':
        return { kind: 'char', c: 13, next: j + 1 }
      case 'v':
        return { kind: 'char', c: 11, next: j + 1 }
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W': {
        const base = ch === 'd' || ch === 'D' ? DIGIT : ch === 's' || ch === 'S' ? SPACE : WORD
        return { kind: 'set', r: ch === ch.toUpperCase() ? negate(base) : base, next: j + 1 }
      }
      case 'x': {
        const m = /^x(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2}))/.exec(p.slice(j, j + 16))
        if (m === null) return fail('invalid escape sequence \\x')
        const v = Number.parseInt((m[1] ?? m[2])!, 16)
        if (v > 0xffff) return fail('characters above U+FFFF are not supported')
        return { kind: 'char', c: v, next: j + m[0].length }
      }
      case 'p':
      case 'P':
        return fail(`Unicode classes (\\${ch}) are not supported: tags are ASCII, use e.g. [A-Za-z]`)
      case 'k':
        return fail(`backreferences are not supported (\\k): ${RE2_REQUIRED}`)
    }
    if (!inClass) {
      if (ch === 'b' || ch === 'B') return { kind: 'js', js: `\\${ch}`, next: j + 1 }
      if (ch === 'A') return { kind: 'js', js: '^', next: j + 1 }
      if (ch === 'z') return { kind: 'js', js: '$', next: j + 1 }
    }
    if (isAsciiPunct(c)) return { kind: 'char', c, next: j + 1 }
    return fail(`invalid escape sequence \\${ch}`)
  }

  let flags: Flags = { fold: false, dotNL: false, ungreedy: false }
  const stack: Flags[] = []
  const literal = (c: number): string => {
    if (flags.fold && isAsciiLetter(c)) return emitSet(fold([c, c]))
    return isAsciiLetter(c) || (c >= 48 && c <= 57) ? String.fromCharCode(c) : unit(c)
  }
  // The `?` that makes a repetition lazy, swapped under (?U).
  const lazy = (j: number): [string, number] => {
    const nonGreedy = p[j] === '?'
    return [nonGreedy !== flags.ungreedy ? '?' : '', nonGreedy ? j + 1 : j]
  }
  let out = ''
  let i = 0
  while (i < n) {
    const ch = p[i]!
    switch (ch) {
      case '\\': {
        if (p[i + 1] === 'Q') {
          // \Q...\E: literal text.
          const end = p.indexOf('\\E', i + 2)
          const text = p.slice(i + 2, end < 0 ? n : end)
          for (let k = 0; k < text.length; k++) out += literal(text.charCodeAt(k))
          i = end < 0 ? n : end + 2
          break
        }
        const e = parseEscape(i + 1, false)
        out += e.kind === 'char' ? literal(e.c) : e.kind === 'set' ? emitSet(e.r) : e.js
        i = e.next
        break
      }
      case '[': {
        let j = i + 1
        const negated = p[j] === '^'
        if (negated) j++
        let r: Ranges = []
        let first = true
        for (;;) {
          if (j >= n) return fail('missing closing ]')
          if (p[j] === ']' && !first) {
            j++
            break
          }
          first = false
          if (p[j] === '[' && p[j + 1] === ':') {
            const end = p.indexOf(':]', j + 2)
            if (end >= 0) {
              const name = p.slice(j + 2, end)
              const neg = name.startsWith('^')
              const set = POSIX[neg ? name.slice(1) : name]
              if (set === undefined) return fail(`invalid character class range [:${name}:]`)
              r.push(...(neg ? negate(flags.fold ? fold(set) : set) : set))
              j = end + 2
              continue
            }
          }
          let lo: number
          if (p[j] === '\\') {
            const e = parseEscape(j + 1, true)
            if (e.kind === 'set') {
              r.push(...(flags.fold ? fold(e.r) : e.r))
              j = e.next
              continue
            }
            lo = e.kind === 'char' ? e.c : fail('invalid escape in character class')
            j = e.next
          } else {
            lo = p.charCodeAt(j++)
          }
          let hi = lo
          if (p[j] === '-' && j + 1 < n && p[j + 1] !== ']') {
            if (p[j + 1] === '\\') {
              const e = parseEscape(j + 2, true)
              hi = e.kind === 'char' ? e.c : fail('invalid character class range')
              j = e.next
            } else {
              hi = p.charCodeAt(j + 1)
              j += 2
            }
            if (hi < lo) return fail('invalid character class range')
          }
          r.push(lo, hi)
        }
        if (flags.fold) r = fold(r)
        out += emitSet(negated ? negate(r) : r)
        i = j
        break
      }
      case '(': {
        if (p[i + 1] !== '?') {
          stack.push(flags)
          out += '('
          i++
          break
        }
        const j = i + 2
        const named = p.startsWith('P<', j)
          ? j + 2
          : p[j] === '<' && p[j + 1] !== '=' && p[j + 1] !== '!'
            ? j + 1
            : -1
        if (named >= 0) {
          const end = p.indexOf('>', named)
          const name = end < 0 ? '' : p.slice(named, end)
          if (!/^[A-Za-z0-9_]+$/.test(name)) return fail('invalid named capture')
          // Only group numbers matter to kluctl, so the name is dropped (JS names are stricter than Go's).
          stack.push(flags)
          out += '('
          i = end + 1
          break
        }
        if (p[j] === '=' || p[j] === '!' || p.startsWith('<=', j) || p.startsWith('<!', j)) {
          return fail(`look-arounds are not supported: ${RE2_REQUIRED}`)
        }
        if (p.startsWith('P=', j) || p.startsWith('P>', j)) {
          return fail(`backreferences are not supported: ${RE2_REQUIRED}`)
        }
        const m = /^([imsU]*)(?:-([imsU]+))?([:)])/.exec(p.slice(j, j + 16))
        if (m === null || (m[1] === '' && m[2] === undefined))
          return fail('invalid or unsupported Perl syntax')
        const next = { ...flags }
        for (const [set, on] of [
          [m[1]!, true],
          [m[2] ?? '', false],
        ] as const) {
          if (set.includes('i')) next.fold = on
          if (set.includes('s')) next.dotNL = on
          if (set.includes('U')) next.ungreedy = on
          // (?m) changes ^ and $ only around newlines, which tags do not have.
        }
        if (m[3] === ')') {
          flags = next
        } else {
          stack.push(flags)
          flags = next
          out += '(?:'
        }
        i = j + m[0].length
        break
      }
      case ')':
        if (stack.length === 0) return fail('unexpected )')
        flags = stack.pop()!
        out += ')'
        i++
        break
      case '|':
      case '^':
      case '$':
        out += ch
        i++
        break
      case '.':
        out += flags.dotNL ? '[^]' : '[^\\n]'
        i++
        break
      case '*':
      case '+':
      case '?': {
        const [q, next] = lazy(i + 1)
        out += ch + q
        i = next
        break
      }
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24))
        if (m === null) {
          // Not a repetition: a literal brace, as in Go.
          out += unit(123)
          i++
          break
        }
        const min = Number(m[1])
        const max = m[2] === undefined ? min : m[3] === '' ? -1 : Number(m[3])
        if (min > 1000 || max > 1000 || (max >= 0 && max < min)) return fail(`invalid repeat count ${m[0]}`)
        const [q, next] = lazy(i + m[0].length)
        out += m[0] + q
        i = next
        break
      }
      default:
        out += literal(p.charCodeAt(i))
        i++
    }
  }
  if (stack.length > 0) return fail('missing closing )')
  return out
}

/** Compiles a Go regexp (as Go's regexp.Compile would take it) to an equivalent JS RegExp. Throws PolicyError. */
export function compileGoRegexp(pattern: string): RegExp {
  const js = translateGoRegexp(pattern)
  enableLinearFallback()
  try {
    return new RegExp(js)
  } catch (error) {
    throw new PolicyError(`invalid regex ${JSON.stringify(pattern)}: ${(error as Error).message}`)
  }
}
