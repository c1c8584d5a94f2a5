import { createHash } from 'node:crypto'
import { type AuthChallenge, parseChallenges } from './challenge.ts'
import { RegistryError, registryErrorDetail } from './errors.ts'
import {
  type HttpOptions,
  type HttpResponse,
  HttpTransport,
  header,
  headerValues,
  type TlsSettings,
} from './http.ts'

export interface RegistryCredentials {
  username?: string
  password?: string
  /** OAuth2 refresh token (docker config `identitytoken`). */
  identityToken?: string
  /** A ready bearer token (docker config `registrytoken`). */
  registryToken?: string
}

/** How to reach one registry: where it is, how to speak TLS, which credentials (if any). */
export interface RegistryAccess {
  credentials?: RegistryCredentials
  /** Plain HTTP instead of HTTPS. */
  insecure: boolean
  skipTlsVerify: boolean
  caFile?: string
  /** Where the credentials came from, safe to print (never the secret itself). */
  source: string
}

export type AccessResolver = (domain: string) => Promise<RegistryAccess>

/** A repository in a registry: the reference domain (`docker.io`, `localhost:5000`) and its path. */
export interface RepositoryRef {
  domain: string
  path: string
}

export interface ManifestDigest {
  digest: string
  mediaType: string
}

export interface RegistryClientOptions {
  access: AccessResolver
  http?: Partial<HttpOptions>
  /** Tag-list pages followed at most, so a huge or looping repository cannot hang a run. */
  maxPages?: number
}

export interface RegistryStats {
  requests: number
  tagListRequests: number
  manifestRequests: number
  tokenRequests: number
}

/** The full Accept list, so registries do not negotiate multi-arch tags down to one platform. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ')

const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$|^sha384:[a-f0-9]{96}$/
/** Scopes asked for in one token request at most (each is a query parameter). */
const MAX_SCOPES_PER_TOKEN = 25
/** Renew tokens this long before they expire. */
const TOKEN_MARGIN_MS = 10_000
const MAX_REDIRECTS = 5

interface CachedToken {
  header: string
  expiresAt: number
}

interface RegistryState {
  domain: string
  base: URL
  access: RegistryAccess
  tls: TlsSettings
  challenge?: AuthChallenge
  tokens: Map<string, CachedToken>
  pendingTokens: Map<string, Promise<CachedToken>>
  /** Credentials for single repositories (pull secrets), overriding the registry's own. */
  scopeAccess: Map<string, ScopedCredentials>
}

interface ScopedCredentials {
  credentials?: RegistryCredentials
  source: string
}

/** The API host behind a reference domain: Docker Hub's references say docker.io, its API is elsewhere. */
export function registryApiHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain
}

/** Page size to ask for: registries cap `n` (Quay at 100, ECR and ACR at 1000). */
export function tagPageSize(domain: string): number {
  return domain === 'quay.io' || domain.endsWith('.quay.io') ? 100 : 1000
}

/**
 * Talks the OCI distribution API: tag lists (following Link pages on the same host), manifest
 * digests, and the Basic/Bearer auth dance with token caching. One instance per run: it caches
 * tag lists per repository, tokens per scope and challenges per registry.
 */
export class RegistryClient {
  readonly stats: RegistryStats = { requests: 0, tagListRequests: 0, manifestRequests: 0, tokenRequests: 0 }
  private readonly http: HttpTransport
  private readonly resolveAccess: AccessResolver
  private readonly maxPages: number
  private readonly registries = new Map<string, Promise<RegistryState>>()
  private readonly tagLists = new Map<string, Promise<string[]>>()
  /** Per reference domain, the scopes callers said they will need, asked for together in one token request. */
  private readonly expectedScopes = new Map<string, Set<string>>()
  /** Per reference domain, credentials for single repositories (see useCredentials). */
  private readonly scopeAccess = new Map<string, Map<string, ScopedCredentials>>()

  constructor(options: RegistryClientOptions) {
    this.http = new HttpTransport(options.http)
    this.resolveAccess = options.access
    this.maxPages = options.maxPages ?? 1000
  }

  /** Says which repositories will be read, so one token request can cover several of them. */
  async expect(repositories: readonly RepositoryRef[]): Promise<void> {
    // Only remembered: a run whose tag lists all come from the cache must not contact the registry.
    for (const repo of repositories) {
      let scopes = this.expectedScopes.get(repo.domain)
      if (!scopes) {
        scopes = new Set()
        this.expectedScopes.set(repo.domain, scopes)
      }
      scopes.add(pullScope(repo.path))
    }
  }

  /**
   * Uses these credentials for one repository instead of the registry's (Kubernetes pull secrets can
   * differ per repository path). Call before the repository is read. Only remembered: a registry that
   * cannot be reached fails its own rows later, not this call.
   */
  useCredentials(repo: RepositoryRef, credentials: RegistryCredentials, source: string): void {
    this.scopeAccessOf(repo.domain).set(pullScope(repo.path), { credentials, source })
  }

  private scopeAccessOf(domain: string): Map<string, ScopedCredentials> {
    let scoped = this.scopeAccess.get(domain)
    if (!scoped) {
      scoped = new Map()
      this.scopeAccess.set(domain, scoped)
    }
    return scoped
  }

  /** Every tag of a repository, de-duplicated and sorted ascending byte-wise (never registry order). */
  listTags(repo: RepositoryRef, signal?: AbortSignal): Promise<string[]> {
    const key = `${repo.domain}/${repo.path}`
    let cached = this.tagLists.get(key)
    if (!cached) {
      cached = this.fetchTags(repo, signal)
      this.tagLists.set(key, cached)
      cached.catch(() => this.tagLists.delete(key))
    }
    return cached
  }

  /** The digest a tag (or digest) points at: for a multi-arch tag the index digest, as pods pin it. */
  async resolveDigest(repo: RepositoryRef, reference: string, signal?: AbortSignal): Promise<ManifestDigest> {
    const state = await this.registry(repo.domain, signal)
    const url = new URL(`/v2/${repo.path}/manifests/${encodeURIComponent(reference)}`, state.base)
    const what = `${repo.domain}/${repo.path}:${reference}`
    this.stats.manifestRequests++
    const head = await this.authorized(state, url, 'HEAD', { accept: MANIFEST_ACCEPT }, repo.path, signal)
    if (head.status === 200) {
      const digest = header(head, 'docker-content-digest')
      if (digest && DIGEST.test(digest)) return { digest, mediaType: mediaTypeOf(head) }
    } else if (head.status !== 405) {
      throw this.failure(state, head, what, 'manifest', repo.path)
    }
    // Older registries omit the digest on HEAD: the digest is then the sha256 of the bytes served.
    const { digest, mediaType } = await this.getManifest(repo, reference, signal)
    return { digest, mediaType }
  }

  /**
   * The manifest bytes of a tag or digest, verified: the digest is the sha256 of the bytes, and must
   * match what the registry says it sent (and the digest asked for).
   */
  async getManifest(
    repo: RepositoryRef,
    reference: string,
    signal?: AbortSignal,
  ): Promise<ManifestDigest & { body: Buffer }> {
    const state = await this.registry(repo.domain, signal)
    const url = new URL(`/v2/${repo.path}/manifests/${encodeURIComponent(reference)}`, state.base)
    const what = `${repo.domain}/${repo.path}${reference.includes(':') ? '@' : ':'}${reference}`
    this.stats.manifestRequests++
    const get = await this.authorized(state, url, 'GET', { accept: MANIFEST_ACCEPT }, repo.path, signal)
    if (get.status !== 200) throw this.failure(state, get, what, 'manifest', repo.path)
    const computed = `sha256:${createHash('sha256').update(get.body).digest('hex')}`
    const sent = header(get, 'docker-content-digest')
    const asked = reference.startsWith('sha256:') ? reference : undefined
    if ((sent?.startsWith('sha256:') && sent !== computed) || (asked && asked !== computed)) {
      throw new RegistryError(
        'protocol',
        `${state.domain} sent a manifest for ${what} whose digest does not match`,
      )
    }
    return { digest: computed, mediaType: mediaTypeOf(get), body: get.body }
  }

  async close(): Promise<void> {
    await this.http.close()
  }

  /** The registry's state, checked once with `GET /v2/` (within the first caller's deadline). */
  private registry(domain: string, signal?: AbortSignal): Promise<RegistryState> {
    let state = this.registries.get(domain)
    if (!state) {
      state = this.resolveAccess(domain).then(async (access) => {
        const created: RegistryState = {
          domain,
          base: new URL(`${access.insecure ? 'http' : 'https'}://${registryApiHost(domain)}/`),
          access,
          tls: { skipTlsVerify: access.skipTlsVerify, ...(access.caFile ? { caFile: access.caFile } : {}) },
          tokens: new Map(),
          pendingTokens: new Map(),
          scopeAccess: this.scopeAccessOf(domain),
        }
        await this.ping(created, signal)
        return created
      })
      this.registries.set(domain, state)
      state.catch(() => this.registries.delete(domain))
    }
    return state
  }

  /**
   * Learns the registry's auth challenge once with `GET /v2/`, so concurrent first requests
   * do not each collect a 401 (distribution's client pings the same way).
   */
  private async ping(state: RegistryState, signal?: AbortSignal): Promise<void> {
    this.stats.requests++
    const res = await this.http.send(
      new URL('/v2/', state.base),
      { method: 'GET', headers: {} },
      state.tls,
      signal,
    )
    if (res.status === 400 && /HTTP request to an HTTPS server/i.test(res.body.toString('utf8'))) {
      throw new RegistryError(
        'tls',
        `${state.domain} speaks HTTPS, not plain HTTP; drop --insecure (or KUBECTL_IMAGES_REGISTRY_<N>_INSECURE) for it`,
      )
    }
    if (res.status !== 401) return
    const challenges = parseChallenges(headerValues(res, 'www-authenticate').join(', '))
    const challenge =
      challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
    if (challenge) state.challenge = challenge
  }

  private async fetchTags(repo: RepositoryRef, signal?: AbortSignal): Promise<string[]> {
    const state = await this.registry(repo.domain, signal)
    const what = `${repo.domain}/${repo.path}`
    let tags: string[] = []
    let pageSize = tagPageSize(repo.domain)
    let url = new URL(`/v2/${repo.path}/tags/list?n=${pageSize}`, state.base)
    const pagesRead = new Set<string>()
    for (let page = 0; ; page++) {
      if (page >= this.maxPages) {
        throw new RegistryError(
          'protocol',
          `${what} has more than ${this.maxPages} pages of tags (${sortedUnique(tags).length} read); the listing was stopped`,
        )
      }
      this.stats.tagListRequests++
      let res = await this.authorized(state, url, 'GET', { accept: 'application/json' }, repo.path, signal)
      // Some registries reject a large `n` (Quay 413, ECR 405, distribution 400 for a bad number): ask for less.
      if (
        (res.status === 413 || res.status === 405 || res.status === 400) &&
        url.searchParams.has('n') &&
        pageSize > 100
      ) {
        pageSize = 100
        url.searchParams.set('n', String(pageSize))
        this.stats.tagListRequests++
        res = await this.authorized(state, url, 'GET', { accept: 'application/json' }, repo.path, signal)
      }
      if (res.status !== 200) throw this.failure(state, res, what, 'repository', repo.path)
      const pageTags = parseTagList(res.body, what, state.domain)
      if (tags.length === 0) tags = pageTags
      else for (const tag of pageTags) tags.push(tag)
      const next = nextLink(res)
      if (!next) break
      // Relative to the URL that answered (after any redirect), as a browser resolves it.
      const target = new URL(next, res.url)
      pagesRead.add(url.href)
      if (pagesRead.has(target.href)) {
        throw new RegistryError(
          'protocol',
          `${state.domain} sent a next-page link for ${what} back to a page already read; the listing was stopped`,
        )
      }
      if (target.origin !== state.base.origin) {
        throw new RegistryError(
          'protocol',
          `${state.domain} sent a next-page link for ${what} to another host (${target.host}); refusing to follow it`,
        )
      }
      url = target
    }
    return sortedUnique(tags)
  }

  /**
   * Sends a request with whatever auth the registry asked for, answering one 401 challenge, and
   * follows redirects itself so credentials never leave the registry's scheme, host and port.
   */
  private async authorized(
    state: RegistryState,
    url: URL,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    path: string,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const scope = pullScope(path)
    let auth = await this.authHeader(state, scope, false, signal)
    let res = await this.follow(state, url, method, headers, auth, signal)
    // A 401 from a host the registry redirected to is that host's: its challenge must not send the
    // registry's credentials to a realm it names.
    if (res.status !== 401 || res.url.origin !== state.base.origin) return res
    const challenges = parseChallenges(headerValues(res, 'www-authenticate').join(', '))
    const challenge =
      challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
    if (!challenge) return res
    const hadAuth = auth !== undefined
    state.challenge = challenge
    state.tokens.delete(scope)
    // After a rejected token ask for this scope alone; a batch may have been granted less than asked.
    auth = await this.authHeader(state, scope, hadAuth, signal)
    if (auth === undefined) {
      if (hadAuth || challenge.scheme === 'basic') throw this.authRequired(state, scope)
      return res
    }
    res = await this.follow(state, url, method, headers, auth, signal)
    return res
  }

  private async follow(
    state: RegistryState,
    start: URL,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    auth: string | undefined,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    let url = start
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === state.base.origin
      this.stats.requests++
      const res = await this.http.send(
        url,
        { method, headers: { ...headers, ...(auth && sameOrigin ? { authorization: auth } : {}) } },
        state.tls,
        signal,
      )
      const location = header(res, 'location')
      if (res.status < 300 || res.status >= 400 || !location || res.status === 304) return res
      if (hop >= MAX_REDIRECTS) {
        throw new RegistryError('protocol', `${state.domain} redirected more than ${MAX_REDIRECTS} times`)
      }
      url = new URL(location, url)
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new RegistryError('protocol', `${state.domain} redirected to an unsupported URL scheme`)
      }
    }
  }

  /** The Authorization header for a scope, fetching a token when needed and `fresh` allows. */
  private async authHeader(
    state: RegistryState,
    scope: string,
    fresh: boolean,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const { credentials: creds } = this.accessFor(state, scope)
    const challenge = state.challenge
    if (!challenge) return undefined
    if (challenge.scheme === 'basic') {
      if (creds?.username === undefined || creds.password === undefined) return undefined
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
    }
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`
    const cached = state.tokens.get(scope)
    if (cached && cached.expiresAt - TOKEN_MARGIN_MS > Date.now()) return cached.header
    const pending = state.pendingTokens.get(scope)
    if (pending) return (await pending).header
    // Repository-specific credentials get a token of their own.
    const scopes = fresh || state.scopeAccess.has(scope) ? [scope] : this.batchScopes(state, scope)
    // Some token servers (Harbor, GitLab) refuse a whole request when one scope in it is not allowed: then
    // this repository asks alone, and the others ask for themselves.
    let granted = scopes
    const request = this.fetchToken(state, challenge, scopes, signal).catch((error: unknown) => {
      if (scopes.length > 1 && error instanceof RegistryError && error.kind === 'unauthorized') {
        granted = [scope]
        return this.fetchToken(state, challenge, granted, signal)
      }
      throw error
    })
    for (const s of scopes) state.pendingTokens.set(s, request)
    try {
      const token = await request
      for (const s of granted) state.tokens.set(s, token)
      return token.header
    } finally {
      for (const s of scopes) state.pendingTokens.delete(s)
    }
  }

  /** The scope needed now plus expected scopes that have no valid token yet. */
  private batchScopes(state: RegistryState, scope: string): string[] {
    const scopes = [scope]
    for (const s of this.expectedScopes.get(state.domain) ?? []) {
      if (scopes.length >= MAX_SCOPES_PER_TOKEN) break
      if (s === scope || state.pendingTokens.has(s) || state.scopeAccess.has(s)) continue
      const cached = state.tokens.get(s)
      if (cached && cached.expiresAt - TOKEN_MARGIN_MS > Date.now()) continue
      scopes.push(s)
    }
    return scopes
  }

  private async fetchToken(
    state: RegistryState,
    challenge: AuthChallenge,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const realmText = challenge.params.realm
    if (!realmText)
      throw new RegistryError('protocol', `${state.domain} asked for a bearer token without a realm`)
    let realm: URL
    try {
      realm = new URL(realmText)
    } catch {
      throw new RegistryError('protocol', `${state.domain} sent an invalid token realm`)
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('protocol', `${state.domain} sent a token realm with an unsupported scheme`)
    }
    const { credentials: creds, source } = this.accessFor(state, scopes[0]!)
    // Credentials go to the realm only over HTTPS, or where the user allowed plain HTTP for this registry.
    const mayCarryCredentials =
      realm.protocol === 'https:' || realm.origin === state.base.origin || state.access.insecure
    const service = challenge.params.service
    this.stats.tokenRequests++
    this.stats.requests++
    const get = () => {
      const url = new URL(realm)
      if (service) url.searchParams.set('service', service)
      for (const s of scopes) url.searchParams.append('scope', s)
      const headers: Record<string, string> = {}
      if (creds?.username !== undefined && creds.password !== undefined && mayCarryCredentials) {
        url.searchParams.set('account', creds.username)
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
      }
      return this.http.send(url, { method: 'GET', headers }, state.tls, signal)
    }
    let res: HttpResponse
    if (creds?.identityToken && mayCarryCredentials) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'kubectl-images',
        scope: scopes.join(' '),
        ...(service ? { service } : {}),
      })
      res = await this.http.send(
        realm,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
        },
        state.tls,
        signal,
      )
      // Not every token server speaks OAuth2: on 404 the plain GET flow (distribution's client does the same).
      if (res.status === 404) {
        this.stats.requests++
        res = await get()
      }
    } else {
      res = await get()
    }
    if (res.status === 401 || res.status === 403) {
      const sent = creds && (creds.identityToken || creds.username !== undefined) && mayCarryCredentials
      throw new RegistryError(
        'unauthorized',
        sent
          ? `the token server for ${state.domain} rejected the credentials from ${source}; ${LOGIN_HINT}`
          : creds
            ? `the token server for ${state.domain} refused a request without credentials: the credentials from ${source} are not sent to its plain-HTTP realm on another host (${realm.host}); the registry should name an https realm`
            : `the token server for ${state.domain} rejected an anonymous request; ${LOGIN_HINT}`,
        { status: res.status },
      )
    }
    if (res.status !== 200) {
      throw new RegistryError(
        res.status === 429 ? 'rate-limited' : res.status >= 500 ? 'unavailable' : 'protocol',
        `the token server for ${state.domain} answered HTTP ${res.status}`,
        { status: res.status },
      )
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown }
    try {
      body = JSON.parse(res.body.toString('utf8'))
    } catch {
      throw new RegistryError(
        'protocol',
        `the token server for ${state.domain} sent an unreadable answer (not JSON)`,
      )
    }
    const token = typeof body.access_token === 'string' && body.access_token ? body.access_token : body.token
    if (typeof token !== 'string' || !token) {
      throw new RegistryError('protocol', `the token server for ${state.domain} sent no token`)
    }
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in >= 60 ? body.expires_in : 60
    return { header: `Bearer ${token}`, expiresAt: Date.now() + expiresIn * 1000 }
  }

  private accessFor(state: RegistryState, scope: string): ScopedCredentials {
    return state.scopeAccess.get(scope) ?? state.access
  }

  private authRequired(state: RegistryState, scope: string): RegistryError {
    const { credentials: creds, source } = this.accessFor(state, scope)
    return new RegistryError(
      'unauthorized',
      creds
        ? `${state.domain} rejected the credentials from ${source}; ${LOGIN_HINT}`
        : `${state.domain} requires authentication and no credentials were found; ${LOGIN_HINT}`,
      { status: 401 },
    )
  }

  private failure(
    state: RegistryState,
    res: HttpResponse,
    what: string,
    object: 'repository' | 'manifest',
    path: string,
  ) {
    const { code, message } = registryErrorDetail(res.body)
    const detail = code ? ` (${code}${message ? `: ${message}` : ''})` : ''
    const status = res.status
    if (status === 404) {
      const missing = object === 'manifest' && code !== 'NAME_UNKNOWN' ? 'tag or digest' : 'repository'
      return new RegistryError('not-found', `${missing} ${what} not found${detail}`, { status })
    }
    if (status === 401) return this.authRequired(state, pullScope(path))
    if (status === 403) {
      return new RegistryError('denied', `access to ${what} denied by ${state.domain}${detail}`, { status })
    }
    if (status === 429) {
      return new RegistryError(
        'rate-limited',
        `${state.domain} kept rate-limiting requests for ${what} (HTTP 429 after ${this.http.options.retries + 1} attempts); try again later`,
        { status },
      )
    }
    if (status >= 500) {
      return new RegistryError(
        'unavailable',
        `${state.domain} answered HTTP ${status} for ${what} after ${this.http.options.retries + 1} attempts${detail}`,
        { status },
      )
    }
    return new RegistryError('protocol', `${state.domain} answered HTTP ${status} for ${what}${detail}`, {
      status,
    })
  }
}

const LOGIN_HINT =
  'run `docker login`, or set KUBECTL_IMAGES_REGISTRY_HOST=<host> with KUBECTL_IMAGES_REGISTRY_USERNAME and _PASSWORD'

function pullScope(path: string): string {
  return `repository:${path}:pull`
}

function mediaTypeOf(res: HttpResponse): string {
  return (header(res, 'content-type') ?? '').split(';')[0]!.trim()
}

/** The `rel="next"` target of a Link header, if any. */
export function nextLink(res: HttpResponse): string | undefined {
  for (const value of headerValues(res, 'link')) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(part)
      if (match && /;\s*rel="?next"?/i.test(match[2]!)) return match[1]
    }
  }
  return undefined
}

/** Sorts in place and drops repeats (a tag on two pages). */
function sortedUnique(tags: string[]): string[] {
  // distribution sends a page sorted: then there is nothing to sort.
  let sorted = true
  for (let i = 1; i < tags.length && sorted; i++) sorted = tags[i - 1]! < tags[i]!
  if (sorted) return tags
  tags.sort()
  let kept = 0
  for (let i = 0; i < tags.length; i++) if (i === 0 || tags[i] !== tags[kept - 1]) tags[kept++] = tags[i]!
  tags.length = kept
  return tags
}

function parseTagList(body: Buffer, what: string, domain: string): string[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw new RegistryError('protocol', `${domain} sent an unreadable tag list for ${what} (not JSON)`)
  }
  const tags = (parsed as { tags?: unknown } | null)?.tags
  if (tags === null || tags === undefined) return []
  if (!Array.isArray(tags))
    throw new RegistryError('protocol', `${domain} sent a tag list for ${what} without a tags array`)
  // A copy only when something in it is not a tag.
  for (const tag of tags)
    if (typeof tag !== 'string') return tags.filter((t): t is string => typeof t === 'string')
  return tags as string[]
}
