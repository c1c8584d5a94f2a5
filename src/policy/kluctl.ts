// kluctl's version filters (pkg/utils/versions/latest_version.go @ 65ce9dfe) as TagPolicy: semver(),
// prefix(), number(), regex(). All of them order by LooseVersion and pick what Go's `sort.Stable` puts last.
import { type VersionedPolicy, versionPart } from './distance.ts'
import { compileGoRegex } from './goregex.ts'
import { compareLoose, rankLoose } from './looseversion.ts'
import type { TagPolicy } from './types.ts'

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
  const re = compileGoRegex(pattern, { anchored: true })
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
  const re = compileGoRegex(`${prefix}(.*)`, { anchored: true })
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
