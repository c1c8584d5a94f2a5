// Masterminds/semver v3.4 in TypeScript: NewVersion (coerce mode, the default), Compare, NewConstraint and Check.
// Flux's semver policy and Gardener's image vectors both use that library, and npm `semver` differs from it
// (comma-AND, `!=`, `=>`, `=<`, leading zeros, partial versions with prereleases, the prerelease rule),
// so this follows the Go code (version.go, constraints.go) instead: the constraint grammar regex for regex,
// the version grammar as an equivalent single-pass scanner (it runs once per tag on lists of 100k).

/**
 * A version segment: a number up to Number.MAX_SAFE_INTEGER, a bigint above (Go parses uint64).
 * Keeping the two ranges apart makes `===` a value comparison; `<` and `>` are exact across both types.
 */
export type Segment = number | bigint

export interface SemVersion {
  readonly major: Segment
  readonly minor: Segment
  readonly patch: Segment
  /** Prerelease without the leading `-`, '' when there is none. */
  readonly prerelease: string
  /** Build metadata without the leading `+`, '' when there is none. Ignored by comparisons. */
  readonly metadata: string
  /** The string as given (keeps a `v` prefix, leading zeros and metadata): Go's `Original()`. */
  readonly original: string
}

/** A parsed Masterminds constraint: `||`-separated groups of AND-ed comparisons. */
export interface Constraint {
  /** The constraint string as given. */
  readonly source: string
  /** Go's `Constraints.Check`: a prerelease version only passes a group that names a prerelease itself. */
  check(v: SemVersion): boolean
}

const UINT64_MAX = '18446744073709551615'

/** strconv.ParseUint(s, 10, 64) on a string of ASCII digits; undefined on overflow. */
function parseSegment(digits: string): Segment | undefined {
  let i = 0
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++
  const d = i === 0 ? digits : digits.slice(i)
  if (d.length <= 15) return Number(d)
  if (d.length > 20 || (d.length === 20 && d > UINT64_MAX)) return undefined
  const big = BigInt(d)
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
}

const NUMERIC = /^[0-9]+$/
const INVALID = 'invalid semantic version'
const OUT_OF_RANGE = 'error parsing version segment: value out of range'

const isDigit = (c: number): boolean => c >= 48 && c <= 57
// [0-9A-Za-z-]
const isIdent = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45

/** The digits s[from, to) as a segment; short ones are summed in place (tag lists are long). */
function segmentAt(s: string, from: number, to: number): Segment | undefined {
  if (to - from > 15) return parseSegment(s.slice(from, to))
  let v = 0
  for (let i = from; i < to; i++) v = v * 10 + s.charCodeAt(i) - 48
  return v
}

/** End of a dot-separated identifier list starting at `from` (looseSemVerRegex), or -1 when it is malformed. */
function identifiersEnd(s: string, from: number): number {
  let i = from
  for (;;) {
    const start = i
    while (i < s.length && isIdent(s.charCodeAt(i))) i++
    if (i === start) return -1
    if (i < s.length && s.charCodeAt(i) === 46) i++
    else return i
  }
}

/** A SemVersion whose fields parseVersionInto overwrites: lets long tag lists be scanned without allocating. */
export interface MutableSemVersion {
  major: Segment
  minor: Segment
  patch: Segment
  prerelease: string
  metadata: string
  original: string
}

/** A fresh MutableSemVersion (0.0.0) for parseVersionInto. */
export function scratchVersion(): MutableSemVersion {
  return { major: 0, minor: 0, patch: 0, prerelease: '', metadata: '', original: '0.0.0' }
}

/**
 * NewVersion in coerce mode: looseSemVerRegex `v?N(.N)?(.N)?(-pre)?(+meta)?` with leading zeros allowed, then
 * ParseUint on each segment and validatePrerelease. The grammar is deterministic, so one scan decides it.
 * Fills `out` and returns undefined, or returns the reason the string is invalid (`out` is then garbage).
 */
function scan(s: string, out: MutableSemVersion): string | undefined {
  const n = s.length
  let i = n > 0 && s.charCodeAt(0) === 118 ? 1 : 0
  let start = i
  while (i < n && isDigit(s.charCodeAt(i))) i++
  if (i === start) return INVALID
  const major = segmentAt(s, start, i)
  let minor: Segment | undefined = 0
  let patch: Segment | undefined = 0
  if (i < n && s.charCodeAt(i) === 46) {
    start = ++i
    while (i < n && isDigit(s.charCodeAt(i))) i++
    if (i === start) return INVALID
    minor = segmentAt(s, start, i)
    if (i < n && s.charCodeAt(i) === 46) {
      start = ++i
      while (i < n && isDigit(s.charCodeAt(i))) i++
      if (i === start) return INVALID
      patch = segmentAt(s, start, i)
    }
  }
  let prerelease = ''
  let metadata = ''
  if (i < n && s.charCodeAt(i) === 45) {
    start = i + 1
    i = identifiersEnd(s, start)
    if (i < 0) return INVALID
    prerelease = s.slice(start, i)
  }
  if (i < n && s.charCodeAt(i) === 43) {
    start = i + 1
    i = identifiersEnd(s, start)
    if (i < 0) return INVALID
    metadata = s.slice(start, i)
  }
  if (i !== n) return INVALID
  if (major === undefined || minor === undefined || patch === undefined) return OUT_OF_RANGE
  // validatePrerelease: numeric identifiers without leading zeros (metadata needs nothing more).
  if (prerelease !== '') {
    for (const part of prerelease.split('.')) {
      if (part.length > 1 && part.charCodeAt(0) === 48 && NUMERIC.test(part))
        return 'version segment starts with 0'
    }
  }
  out.major = major
  out.minor = minor
  out.patch = patch
  out.prerelease = prerelease
  out.metadata = metadata
  out.original = s
  return undefined
}

function parse(s: string): SemVersion | string {
  const out = scratchVersion()
  return scan(s, out) ?? out
}

/** NewVersion into `out`, for scanning many tags with one object; false (and `out` garbage) when invalid. */
export function parseVersionInto(s: string, out: MutableSemVersion): boolean {
  return scan(s, out) === undefined
}

/** Masterminds `NewVersion` (coerce mode): `v1.2`, `1`, `v2025.07.03` are fine. Throws Error when invalid. */
export function parseVersion(s: string): SemVersion {
  const v = parse(s)
  if (typeof v === 'string') throw new Error(`${v}: "${s}"`)
  return v
}

/** Like parseVersion, but undefined instead of an exception. */
export function tryParseVersion(s: string): SemVersion | undefined {
  const v = parse(s)
  return typeof v === 'string' ? undefined : v
}

function compareSegment(a: Segment, b: Segment): number {
  return a === b ? 0 : a < b ? -1 : 1
}

/** strconv.ParseUint(s, 10, 64) succeeds: all digits and fits in uint64. */
function isUint(s: string): boolean {
  if (!NUMERIC.test(s)) return false
  return parseSegment(s) !== undefined
}

function stripZeros(s: string): string {
  let i = 0
  while (i < s.length - 1 && s.charCodeAt(i) === 48) i++
  return s.slice(i)
}

// comparePrePart: numbers below strings; numbers by value; strings byte-wise; a missing part sorts first.
function comparePrePart(s: string, o: string): number {
  if (s === o) return 0
  if (s === '') return -1
  if (o === '') return 1
  const sNum = isUint(s)
  const oNum = isUint(o)
  if (!sNum && !oNum) return s > o ? 1 : -1
  if (!oNum) return -1
  if (!sNum) return 1
  const a = stripZeros(s)
  const b = stripZeros(o)
  // Go answers -1 for equal values too; prerelease validation rules that case out.
  return a.length !== b.length ? (a.length > b.length ? 1 : -1) : a > b ? 1 : -1
}

/** Precedence of two non-empty prerelease strings (Go's comparePrerelease). */
export function comparePrerelease(v: string, o: string): number {
  const sparts = v.split('.')
  const oparts = o.split('.')
  const l = Math.max(sparts.length, oparts.length)
  for (let i = 0; i < l; i++) {
    const d = comparePrePart(sparts[i] ?? '', oparts[i] ?? '')
    if (d !== 0) return d
  }
  return 0
}

/** SemVer precedence (Go's `Compare`): -1, 0 or 1; build metadata is ignored. */
export function compareVersions(a: SemVersion, b: SemVersion): number {
  const d =
    compareSegment(a.major, b.major) || compareSegment(a.minor, b.minor) || compareSegment(a.patch, b.patch)
  if (d !== 0) return d
  const ps = a.prerelease
  const po = b.prerelease
  if (ps === po) return 0
  if (ps === '') return 1
  if (po === '') return -1
  return comparePrerelease(ps, po)
}

// The grammar, transcribed from constraints.go. Go's `\s` is [\t\n\f\r ] (no \v, no Unicode spaces).
const WS = '[\\t\\n\\f\\r ]'
// Every operator of constraintOps; alternation order does not change what matches (see the report).
const OPS = '!=|>=|=>|<=|=<|~>|>|<|=|~|\\^|'
// cvRegex: note the `|` inside the segment classes, a quirk of the Go source kept on purpose.
const CV =
  'v?([0-9|x|X|\\*]+)(\\.[0-9|x|X|\\*]+)?(\\.[0-9|x|X|\\*]+)?' +
  '(-([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?' +
  '(\\+([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?'
const CONSTRAINT = new RegExp(`^${WS}*(${OPS})${WS}*(${CV})${WS}*$`)
const CONSTRAINT_RANGE = new RegExp(`${WS}*(${CV})${WS}+-${WS}+(${CV})${WS}*`, 'g')
const FIND_CONSTRAINT = new RegExp(`(${OPS})${WS}*(${CV})`, 'g')
const VALID_CONSTRAINT = new RegExp(
  `^(${WS}*(${OPS})${WS}*(${CV})${WS}*)((?:${WS}+|,${WS}*)(${OPS})${WS}*(${CV})${WS}*)*$`,
)
const WS_RUN = /[\t\n\f\r ]+/g

interface Atom {
  readonly op: string
  readonly con: SemVersion
  readonly dirty: boolean
  readonly minorDirty: boolean
  readonly patchDirty: boolean
}

function isX(s: string): boolean {
  return s === 'x' || s === 'X' || s === '*'
}

/** rewriteRange: `a - b` becomes `>= a, <= b `, replacing the first occurrence of each match's text. */
function rewriteRange(i: string): string {
  let o = i
  for (const m of i.matchAll(CONSTRAINT_RANGE)) {
    const at = o.indexOf(m[0])
    if (at >= 0) o = `${o.slice(0, at)}>= ${m[1]}, <= ${m[11]} ${o.slice(at + m[0].length)}`
  }
  return o
}

function parseAtom(s: string): Atom {
  const m = CONSTRAINT.exec(s)
  if (m === null) throw new Error(`improper constraint: "${s}"`)
  const op = m[1]!
  const major = m[3]!
  const minor = (m[4] ?? '').slice(1)
  const patch = (m[5] ?? '').slice(1)
  const pre = m[6] ?? ''
  let ver = m[2]!
  let dirty = false
  let minorDirty = false
  let patchDirty = false
  // A missing or wildcard segment makes the constraint "dirty": 1.2 means 1.2.x, 1 means 1.x.
  if (isX(major)) {
    ver = `0.0.0${pre}`
    dirty = true
  } else if (isX(minor) || minor === '') {
    ver = `${major}.0.0${pre}`
    dirty = true
    minorDirty = true
  } else if (isX(patch) || patch === '') {
    ver = `${major}.${minor}.0${pre}`
    dirty = true
    patchDirty = true
  }
  const con = parse(ver)
  if (typeof con === 'string') throw new Error(`improper constraint: "${s.trim()}" (${con})`)
  return { op, con, dirty, minorDirty, patchDirty }
}

function tilde(v: SemVersion, c: Atom): boolean {
  if (compareVersions(v, c.con) < 0) return false
  // ~0.0.0 and ~* accept everything.
  if (c.con.major === 0 && c.con.minor === 0 && c.con.patch === 0 && !c.minorDirty && !c.patchDirty)
    return true
  if (v.major !== c.con.major) return false
  return v.minor === c.con.minor || c.minorDirty
}

function caret(v: SemVersion, c: Atom): boolean {
  if (compareVersions(v, c.con) < 0) return false
  // ^1.2.3, ^1.x, ^0: same major.
  if (c.con.major > 0 || c.minorDirty) return v.major === c.con.major
  if (v.major > 0) return false
  // ^0.2.3, ^0.0: same minor.
  if (c.con.minor > 0 || c.patchDirty) return v.minor === c.con.minor
  if (v.minor > 0) return false
  // ^0.0.3: that patch only.
  return v.patch === c.con.patch
}

function notEqual(v: SemVersion, c: Atom): boolean {
  if (c.dirty) {
    if (c.con.major !== v.major) return true
    if (c.con.minor !== v.minor && !c.minorDirty) return true
    if (c.minorDirty) return false
    if (c.con.patch !== v.patch && !c.patchDirty) return true
    if (c.patchDirty) {
      if (v.prerelease !== '' || c.con.prerelease !== '') {
        return comparePrerelease(v.prerelease, c.con.prerelease) !== 0
      }
      return false
    }
  }
  return compareVersions(v, c.con) !== 0
}

function greaterThan(v: SemVersion, c: Atom): boolean {
  if (!c.dirty) return compareVersions(v, c.con) === 1
  if (v.major > c.con.major) return true
  if (v.major < c.con.major) return false
  // >11 needs 12 or higher; >11.1 needs 11.2 or higher.
  if (c.minorDirty) return false
  if (c.patchDirty) return v.minor > c.con.minor
  return compareVersions(v, c.con) === 1
}

function lessThanEqual(v: SemVersion, c: Atom): boolean {
  if (!c.dirty) return compareVersions(v, c.con) <= 0
  if (v.major > c.con.major) return false
  if (v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty) return false
  return true
}

function checkAtom(v: SemVersion, c: Atom, includePre: boolean): boolean {
  // The group decides whether prereleases are in play at all.
  if (v.prerelease !== '' && !includePre) return false
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(v, c) : compareVersions(v, c.con) === 0
    case '!=':
      return notEqual(v, c)
    case '>':
      return greaterThan(v, c)
    case '<':
      return compareVersions(v, c.con) < 0
    case '>=':
    case '=>':
      return compareVersions(v, c.con) >= 0
    case '<=':
    case '=<':
      return lessThanEqual(v, c)
    case '~':
    case '~>':
      return tilde(v, c)
    default:
      return caret(v, c)
  }
}

interface Group {
  readonly atoms: Atom[]
  /** Some constraint of the group names a prerelease (v3.4 #267: the whole AND group then admits them). */
  readonly hasPre: boolean
}

/** Masterminds `NewConstraint`. Throws Error (`improper constraint: "…"`) when the string is not valid. */
export function parseConstraint(s: string): Constraint {
  const groups: Group[] = []
  for (const part of rewriteRange(s).split('||')) {
    // Runs of whitespace are interchangeable in this grammar; collapsing them keeps the JS backtracking linear.
    if (!VALID_CONSTRAINT.test(part.replace(WS_RUN, ' '))) throw new Error(`improper constraint: "${part}"`)
    const found = Array.from(part.matchAll(FIND_CONSTRAINT), (m) => m[0])
    if (found.length === 0) found.push(part)
    const atoms = found.map(parseAtom)
    groups.push({ atoms, hasPre: atoms.some((a) => a.con.prerelease !== '') })
  }
  return {
    source: s,
    check(v: SemVersion): boolean {
      for (const g of groups) {
        let ok = true
        for (const atom of g.atoms) {
          if (!checkAtom(v, atom, g.hasPre)) {
            ok = false
            break
          }
        }
        if (ok) return true
      }
      return false
    },
  }
}

/** Whether `version` satisfies `constraint`, both parsed the Masterminds way. Throws when either is invalid. */
export function satisfies(version: string, constraint: string): boolean {
  return parseConstraint(constraint).check(parseVersion(version))
}
