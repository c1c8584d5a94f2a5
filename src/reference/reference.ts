// Image reference grammar, ported from distribution/reference @ 0965666a (reference.go, normalize.go,
// regexp.go, helpers.go) and go-digest v1.0.0 digest validation. See shared/reference/registry.md §1.

// --- regexes (built exactly as regexp.go builds them) ---

const group = (...res: string[]): string => `(?:${res.join('')})`
const optional = (...res: string[]): string => `${group(...res)}?`
const anyTimes = (...res: string[]): string => `${group(...res)}*`
const capture = (...res: string[]): string => `(${res.join('')})`
const anchored = (...res: string[]): string => `^${res.join('')}$`

const alphanumeric = '[a-z0-9]+'
const separator = '(?:[._]|__|[-]+)'
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const optionalPort = '(?::[0-9]+)?'
const tagPat = '[\\w][\\w.-]{0,127}'
// Go's [[:xdigit:]] written out.
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}'
const identifier = '([a-f0-9]{64})'
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]'
const domainName = domainNameComponent + anyTimes('\\.', domainNameComponent)
const host = `(?:${domainName}|${ipv6address})`
const domainAndPort = host + optionalPort
const pathComponent = alphanumeric + anyTimes(separator, alphanumeric)
const remoteName = pathComponent + anyTimes('/', pathComponent)
const namePat = optional(domainAndPort, '/') + remoteName

/** The regex sources, exported so tests can compare them with the vectors' expansions. */
export const REGEX_SOURCES = {
  referenceRegexp: anchored(
    capture(namePat),
    optional(':', capture(tagPat)),
    optional('@', capture(digestPat)),
  ),
  anchoredNameRegexp: anchored(optional(capture(domainAndPort), '/'), capture(remoteName)),
  anchoredDomainAndPort: anchored(domainAndPort),
  anchoredTag: anchored(tagPat),
  anchoredDigest: anchored(digestPat),
  anchoredIdentifier: anchored(identifier),
} as const

export const referenceRegexp = new RegExp(REGEX_SOURCES.referenceRegexp)
export const anchoredNameRegexp = new RegExp(REGEX_SOURCES.anchoredNameRegexp)
export const anchoredDomainAndPortRegexp = new RegExp(REGEX_SOURCES.anchoredDomainAndPort)
export const anchoredTagRegexp = new RegExp(REGEX_SOURCES.anchoredTag)
export const anchoredDigestRegexp = new RegExp(REGEX_SOURCES.anchoredDigest)
export const anchoredIdentifierRegexp = new RegExp(REGEX_SOURCES.anchoredIdentifier)
// go-digest DigestRegexpAnchored: decides "unsupported" vs "invalid format" for unknown algorithms.
const goDigestRegexp = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

// --- errors ---

/** Upstream error texts; `InvalidReferenceError.reason` is one of these (or a normalize.go message). */
export const ReferenceErrors = {
  invalidFormat: 'invalid reference format',
  tagInvalidFormat: 'invalid tag format',
  digestInvalidFormat: 'invalid digest format',
  nameContainsUppercase: 'repository name must be lowercase',
  nameEmpty: 'repository name must have at least one component',
  nameTooLong: 'repository name must not be more than 255 characters',
  nameNotCanonical: 'repository name must be canonical',
  checksumInvalidLength: 'invalid checksum digest length',
  checksumUnsupported: 'unsupported digest algorithm',
  checksumInvalidFormat: 'invalid checksum digest format',
} as const

/** Longest input we run the regexes on; real references are far shorter. */
export const MAX_REFERENCE_LENGTH = 4096
/** distribution/reference NameTotalLengthMax: applies to the path only (since v0.6.0). */
export const NAME_TOTAL_LENGTH_MAX = 255

const quote = (s: string): string => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s)

/** A reference that does not parse. `reason` is the bare upstream message, `message` one line for users. */
export class InvalidReferenceError extends Error {
  readonly input: string
  readonly reason: string
  /** Which part is wrong, when known (e.g. `digest "sha256:ab"`). */
  readonly detail: string | undefined
  constructor(input: string, reason: string, detail?: string) {
    super(`invalid image reference ${quote(input)}: ${reason}${detail ? ` (${detail})` : ''}`)
    this.name = 'InvalidReferenceError'
    this.input = input
    this.reason = reason
    this.detail = detail
  }
}

// --- digests (go-digest) ---

/** Hex length of each algorithm go-digest knows. */
const DIGEST_SIZES: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 }
/** What kubelet links (pkg/util/parsers imports crypto/sha512): the product default. */
export const KUBELET_DIGEST_ALGORITHMS: readonly string[] = ['sha256', 'sha384', 'sha512']
/** What the upstream distribution/reference tests link: only sha256 (sha512 is "unsupported" there). */
export const UPSTREAM_TEST_DIGEST_ALGORITHMS: readonly string[] = ['sha256']

export interface ParseOptions {
  /** Registered digest algorithms; defaults to KUBELET_DIGEST_ALGORITHMS. */
  readonly digestAlgorithms?: readonly string[]
}

/** go-digest Parse/Validate; returns the error message or undefined when valid. */
export function validateDigest(
  d: string,
  algorithms: readonly string[] = KUBELET_DIGEST_ALGORITHMS,
): string | undefined {
  const i = d.indexOf(':')
  if (i <= 0 || i + 1 === d.length) return ReferenceErrors.checksumInvalidFormat
  const alg = d.slice(0, i)
  const encoded = d.slice(i + 1)
  const size = Object.hasOwn(DIGEST_SIZES, alg) ? DIGEST_SIZES[alg] : undefined
  if (size === undefined || !algorithms.includes(alg)) {
    return goDigestRegexp.test(d)
      ? ReferenceErrors.checksumUnsupported
      : ReferenceErrors.checksumInvalidFormat
  }
  if (encoded.length !== size) return ReferenceErrors.checksumInvalidLength
  return /^[a-f0-9]+$/.test(encoded) ? undefined : ReferenceErrors.checksumInvalidFormat
}

// --- plain references ---

/** A parsed reference. `name` is `domain/path` (or `path` when there is no domain). */
export interface Reference {
  readonly name: string
  /** '' when the reference has no domain (only possible with the plain `parseReference`). */
  readonly domain: string
  readonly path: string
  readonly tag?: string
  readonly digest?: string
}

/** A Docker-normalised reference (ParseNormalizedNamed). */
export interface ImageReference extends Reference {
  readonly kind: 'named'
  /** FamiliarName: `ubuntu`, `user/app`, `ghcr.io/org/app`. */
  readonly familiarName: string
  /** String(): `docker.io/library/ubuntu:22.04`. */
  readonly canonical: string
  /** FamiliarString: `ubuntu:22.04`. */
  readonly familiar: string
}

/** A digest-only reference (ParseAnyReference of a bare id or `sha256:...`). */
export interface DigestReference {
  readonly kind: 'digest'
  readonly digest: string
  readonly canonical: string
  readonly familiar: string
}

export type AnyReference = ImageReference | DigestReference

const joinName = (domain: string, path: string): string => (domain === '' ? path : `${domain}/${path}`)

/** String() of a reference: `name[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  return ref.name + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '')
}

function plain(domain: string, path: string, tag?: string, digest?: string): Reference {
  const ref: { name: string; domain: string; path: string; tag?: string; digest?: string } = {
    name: joinName(domain, path),
    domain,
    path,
  }
  if (tag) ref.tag = tag
  if (digest) ref.digest = digest
  return ref
}

function checkLength(s: string): void {
  if (s.length > MAX_REFERENCE_LENGTH) {
    throw new InvalidReferenceError(
      s,
      ReferenceErrors.invalidFormat,
      `longer than ${MAX_REFERENCE_LENGTH} characters`,
    )
  }
}

// Says which part of a reference that does not match is at fault; a best-effort hint for users.
function diagnose(s: string): string | undefined {
  let rest = s
  const at = rest.indexOf('@')
  if (at >= 0) {
    const digest = rest.slice(at + 1)
    if (!anchoredDigestRegexp.test(digest)) return `bad digest ${quote(digest)}`
    rest = rest.slice(0, at)
  }
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    const tag = rest.slice(colon + 1)
    const name = rest.slice(0, colon)
    if (!anchoredTagRegexp.test(tag) && anchoredNameRegexp.test(name)) {
      return tag === '' ? 'empty tag' : `bad tag ${quote(tag)}`
    }
    if (!anchoredNameRegexp.test(name)) rest = name
  }
  if (rest === '') return 'no repository name'
  return anchoredNameRegexp.test(rest) ? undefined : `bad repository name ${quote(rest)}`
}

/** distribution/reference Parse: no normalisation (no docker.io, no library/). */
export function parseReference(s: string, opts: ParseOptions = {}): Reference {
  checkLength(s)
  const m = referenceRegexp.exec(s)
  if (m === null) {
    if (s === '') throw new InvalidReferenceError(s, ReferenceErrors.nameEmpty)
    if (referenceRegexp.test(s.toLowerCase())) {
      throw new InvalidReferenceError(s, ReferenceErrors.nameContainsUppercase)
    }
    throw new InvalidReferenceError(s, ReferenceErrors.invalidFormat, diagnose(s))
  }
  const name = m[1] ?? ''
  const nm = anchoredNameRegexp.exec(name)
  const domain = nm?.[1] ?? ''
  const path = nm ? (nm[2] ?? '') : name
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(s, ReferenceErrors.nameTooLong, `path has ${path.length}`)
  }
  const tag = m[2]
  const digest = m[3]
  if (digest) {
    const err = validateDigest(digest, opts.digestAlgorithms)
    if (err) throw new InvalidReferenceError(s, err, `digest ${quote(digest)}`)
  }
  return plain(domain, path, tag, digest)
}

/** WithName: a bare repository name, no tag or digest. */
export function withName(name: string): Reference {
  checkLength(name)
  const m = anchoredNameRegexp.exec(name)
  if (m === null) throw new InvalidReferenceError(name, ReferenceErrors.invalidFormat, diagnose(name))
  const path = m[2] ?? ''
  if (path.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(name, ReferenceErrors.nameTooLong, `path has ${path.length}`)
  }
  return plain(m[1] ?? '', path)
}

function rebuild<T extends Reference>(ref: T, tag: string | undefined, digest: string | undefined): T {
  if ((ref as Partial<ImageReference>).kind === 'named')
    return image(ref.domain, ref.path, tag, digest) as unknown as T
  return plain(ref.domain, ref.path, tag, digest) as T
}

/** WithTag: replaces the tag, keeps any digest (name:tag@digest). */
export function withTag<T extends Reference>(ref: T, tag: string): T {
  if (!anchoredTagRegexp.test(tag)) {
    throw new InvalidReferenceError(
      `${ref.name}:${tag}`,
      ReferenceErrors.tagInvalidFormat,
      `tag ${quote(tag)}`,
    )
  }
  return rebuild(ref, tag, ref.digest)
}

/** WithDigest: sets the digest, keeps any tag. Checks only the digest regex, as upstream does. */
export function withDigest<T extends Reference>(ref: T, digest: string): T {
  if (!anchoredDigestRegexp.test(digest)) {
    throw new InvalidReferenceError(
      `${ref.name}@${digest}`,
      ReferenceErrors.digestInvalidFormat,
      `digest ${quote(digest)}`,
    )
  }
  return rebuild(ref, ref.tag, digest)
}

// --- Docker normalisation ---

export const DEFAULT_DOMAIN = 'docker.io'
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io'
const OFFICIAL_REPO_PREFIX = 'library/'

function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return joinName(domain, path)
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length)
    if (!rest.includes('/')) return rest
  }
  return path
}

function image(domain: string, path: string, tag?: string, digest?: string): ImageReference {
  const base = plain(domain, path, tag, digest)
  const fam = familiarName(domain, path)
  const suffix = (tag ? `:${tag}` : '') + (digest ? `@${digest}` : '')
  return { kind: 'named', ...base, familiarName: fam, canonical: base.name + suffix, familiar: fam + suffix }
}

/** splitDockerDomain from normalize.go. */
export function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/')
  if (i < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name }
  const first = name.slice(0, i)
  let domain: string
  let remainder: string
  if (first === 'localhost') [domain, remainder] = [first, name.slice(i + 1)]
  else if (first === LEGACY_DEFAULT_DOMAIN) [domain, remainder] = [DEFAULT_DOMAIN, name.slice(i + 1)]
  else if (/[.:]/.test(first) || first.toLowerCase() !== first)
    [domain, remainder] = [first, name.slice(i + 1)]
  else [domain, remainder] = [DEFAULT_DOMAIN, name]
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder
  return { domain, remainder }
}

/**
 * ParseNormalizedNamed: what kubelet, docker and containerd do with a pod's image string.
 * `ubuntu` becomes `docker.io/library/ubuntu`; no default tag is added.
 */
export function parseImageReference(s: string, opts: ParseOptions = {}): ImageReference {
  checkLength(s)
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidReferenceError(
      s,
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
      'looks like an image ID, not a name',
    )
  }
  const { domain, remainder } = splitDockerDomain(s)
  const colon = remainder.indexOf(':')
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(
      s,
      `invalid reference format: repository name (${remote}) must be lowercase`,
    )
  }
  let ref: Reference
  try {
    ref = parseReference(`${domain}/${remainder}`, opts)
  } catch (err) {
    // Report the user's spelling, not the normalised one.
    if (err instanceof InvalidReferenceError) {
      const detail = err.reason === ReferenceErrors.invalidFormat ? diagnose(s) : err.detail
      throw new InvalidReferenceError(s, err.reason, detail)
    }
    throw err
  }
  return image(ref.domain, ref.path, ref.tag, ref.digest)
}

/** ParseNamed: like parseImageReference, but the input must already be canonical. */
export function parseNamed(s: string, opts: ParseOptions = {}): ImageReference {
  const ref = parseImageReference(s, opts)
  if (ref.canonical !== s) {
    throw new InvalidReferenceError(
      s,
      ReferenceErrors.nameNotCanonical,
      `canonical form is ${quote(ref.canonical)}`,
    )
  }
  return ref
}

/** ParseAnyReference: a bare 64-hex id or a valid digest gives a digest reference, else a named one. */
export function parseAnyReference(s: string, opts: ParseOptions = {}): AnyReference {
  checkLength(s)
  if (anchoredIdentifierRegexp.test(s)) {
    const digest = `sha256:${s}`
    return { kind: 'digest', digest, canonical: digest, familiar: digest }
  }
  if (validateDigest(s, opts.digestAlgorithms) === undefined) {
    return { kind: 'digest', digest: s, canonical: s, familiar: s }
  }
  return parseImageReference(s, opts)
}

/** ParseDockerRef: normalise; with a digest drop the tag, otherwise default the tag to `latest`. */
export function parseDockerRef(s: string, opts: ParseOptions = {}): ImageReference {
  const ref = parseImageReference(s, opts)
  if (ref.digest) return image(ref.domain, ref.path, undefined, ref.digest)
  return tagNameOnly(ref)
}

/** TagNameOnly: adds `latest` only when there is neither a tag nor a digest. */
export function tagNameOnly(ref: ImageReference): ImageReference {
  return ref.tag || ref.digest ? ref : image(ref.domain, ref.path, 'latest')
}

/**
 * FamiliarMatch: Go path.Match of `pattern` against the familiar string, then the familiar name.
 * Throws on a malformed pattern (Go's ErrBadPattern).
 */
export function familiarMatch(pattern: string, ref: AnyReference): boolean {
  if (goPathMatch(pattern, ref.familiar)) return true
  return ref.kind === 'named' && goPathMatch(pattern, ref.familiarName)
}

/** The API host serving a reference domain: Docker Hub's `docker.io` is served by `registry-1.docker.io`. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain
}

// --- Go path.Match / filepath.Match (Unix: separator '/', '\' escapes) ---

export class BadPatternError extends Error {
  constructor(pattern: string) {
    super(`syntax error in pattern ${quote(pattern)}`)
    this.name = 'BadPatternError'
  }
}

type Chunk = { star: boolean; chunk: string[]; rest: string[] }

function scanChunk(p: string[]): Chunk {
  let star = false
  let k = 0
  while (k < p.length && p[k] === '*') {
    k++
    star = true
  }
  const pattern = p.slice(k)
  let inrange = false
  let i = 0
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case '\\':
        if (i + 1 < pattern.length) i++
        break
      case '[':
        inrange = true
        break
      case ']':
        inrange = false
        break
      case '*':
        if (!inrange) break scan
        break
    }
  }
  return { star, chunk: pattern.slice(0, i), rest: pattern.slice(i) }
}

const BAD = Symbol('bad pattern')

// One (possibly escaped) character of a class; BAD on malformed input.
function getEsc(chunk: string[], at: number): { r: string; next: number } | typeof BAD {
  let i = at
  if (i >= chunk.length || chunk[i] === '-' || chunk[i] === ']') return BAD
  if (chunk[i] === '\\') {
    i++
    if (i >= chunk.length) return BAD
  }
  const r = chunk[i] as string
  i++
  if (i >= chunk.length) return BAD
  return { r, next: i }
}

const cp = (s: string): number => s.codePointAt(0) ?? -1

// Matches chunk against the start of s; returns the rest of s, null for no match, BAD for a bad pattern.
function matchChunk(chunkIn: string[], sIn: string[]): string[] | null | typeof BAD {
  let c = 0
  let s = 0
  let failed = false
  while (c < chunkIn.length) {
    if (!failed && s >= sIn.length) failed = true
    const ch = chunkIn[c]
    if (ch === '[') {
      let r = -1
      if (!failed) r = cp(sIn[s++] as string)
      c++
      let negated = false
      if (c < chunkIn.length && chunkIn[c] === '^') {
        negated = true
        c++
      }
      let match = false
      let nrange = 0
      for (;;) {
        if (c < chunkIn.length && chunkIn[c] === ']' && nrange > 0) {
          c++
          break
        }
        const lo = getEsc(chunkIn, c)
        if (lo === BAD) return BAD
        c = lo.next
        let hi = lo.r
        if (chunkIn[c] === '-') {
          const h = getEsc(chunkIn, c + 1)
          if (h === BAD) return BAD
          c = h.next
          hi = h.r
        }
        if (cp(lo.r) <= r && r <= cp(hi)) match = true
        nrange++
      }
      if (match === negated) failed = true
    } else if (ch === '?') {
      if (!failed) {
        if (sIn[s] === '/') failed = true
        s++
      }
      c++
    } else {
      if (ch === '\\') {
        c++
        if (c >= chunkIn.length) return BAD
      }
      if (!failed) {
        if (chunkIn[c] !== sIn[s]) failed = true
        s++
      }
      c++
    }
  }
  return failed ? null : sIn.slice(s)
}

/** Go's path.Match (and filepath.Match on Unix). Throws BadPatternError like Go returns ErrBadPattern. */
export function goPathMatch(pattern: string, name: string): boolean {
  let p = Array.from(pattern)
  let n = Array.from(name)
  outer: while (p.length > 0) {
    const { star, chunk, rest } = scanChunk(p)
    p = rest
    if (star && chunk.length === 0) return !n.includes('/')
    const t = matchChunk(chunk, n)
    if (t !== null && t !== BAD && (t.length === 0 || p.length > 0)) {
      n = t
      continue
    }
    if (t === BAD) throw new BadPatternError(pattern)
    if (star) {
      for (let i = 0; i < n.length && n[i] !== '/'; i++) {
        const t2 = matchChunk(chunk, n.slice(i + 1))
        if (t2 === BAD) throw new BadPatternError(pattern)
        if (t2 !== null) {
          if (p.length === 0 && t2.length > 0) continue
          n = t2
          continue outer
        }
      }
    }
    // Before reporting no match, make sure the rest of the pattern is well formed.
    while (p.length > 0) {
      const next = scanChunk(p)
      p = next.rest
      if (matchChunk(next.chunk, []) === BAD) throw new BadPatternError(pattern)
    }
    return false
  }
  return n.length === 0
}
