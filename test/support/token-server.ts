// A docker token-spec auth server (distribution docs/spec/auth/token.md) running in the test process.
// Tokens are ES256 JWTs with an `x5c` header holding the self-signed signing cert, which is also the registry's
// `rootcertbundle`: distribution 2.8 verifies the x5c chain against that bundle, then the signature with the leaf key.
import { execFile } from 'node:child_process'
import { createPrivateKey, type KeyObject, randomBytes, randomUUID, sign, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { closeServer, hostPort, listen } from './lifecycle.ts'

const run = promisify(execFile)

export interface TokenAccess {
  type: string
  name: string
  actions: string[]
}

export interface TokenAclRequest {
  /** Authenticated user name, or undefined for an anonymous request. */
  user: string | undefined
  type: string
  name: string
  actions: string[]
}

export interface TokenRequestRecord {
  method: string
  /** Path + query as received. */
  path: string
  /** From the query (GET) or the form (POST). */
  service: string | null
  /**
   * Every `scope` parameter, in order (one parameter may itself hold space-separated scopes; split here). For a POST,
   * the form's space-separated `scope`.
   */
  scopes: string[]
  account: string | null
  /** POST only: the form's `grant_type` ('refresh_token', 'password'), else null. */
  grantType: string | null
  /** POST only: the form's `client_id`, else null. */
  clientId: string | null
  /** POST only: the form's `access_type` ('online', 'offline'), else null. */
  accessType: string | null
  /** POST only: the Content-Type header as received, else null. */
  contentType: string | null
  /** Scheme of the Authorization header (e.g. 'Basic'), or null when none was sent. Secrets are never stored. */
  authScheme: string | null
  /** The user that authenticated, or null (anonymous or bad credentials). */
  user: string | null
  status: number
  granted: TokenAccess[]
}

export interface TokenServerSettings {
  /** `expires_in` and exp-iat of issued tokens. Default 300. */
  ttlSeconds: number
  /** Whether anonymous requests get `pull`. Default false. */
  anonymousPull: boolean
  /** Omit `expires_in` from the response (clients must then assume 60 s). Default false. */
  omitExpiresIn: boolean
  /**
   * Mint tokens whose `exp` is already past the registry's 60 s leeway, so the registry rejects them with
   * `error="invalid_token"` while the response still claims `expires_in: ttlSeconds`. Default false.
   */
  issueExpired: boolean
  /** Which actions to grant. Default: authenticated users get everything asked; anonymous gets pull if anonymousPull. */
  acl: ((req: TokenAclRequest) => string[]) | undefined
  /**
   * Answer docker's OAuth2 `POST <realm>` (grant_type refresh_token or password, docs/spec/auth/oauth.md). Default true;
   * false answers POST with 404 like a server that only speaks the GET flow.
   */
  oauthPost: boolean
}

export interface TokenServerFault {
  status: number
  /** How many upcoming requests fail. */
  times: number
  headers?: Record<string, string>
  body?: string
}

export interface TokenServer {
  /** The realm, e.g. http://127.0.0.1:PORT/token */
  realm: string
  service: string
  issuer: string
  /** Path of the PEM cert bundle the registry trusts. */
  certPath: string
  /** Every request to the token server (GET /token and anything else), oldest first. */
  readonly requests: TokenRequestRecord[]
  /** Mutable at runtime. */
  settings: TokenServerSettings
  /** Fail the next `times` token requests with `status` (e.g. 429 + Retry-After). */
  failNext(fault: TokenServerFault): void
  /** Mint a token directly (no HTTP request, not recorded). */
  mint(user: string | undefined, access: TokenAccess[], ttlSeconds?: number): string
  /**
   * A refresh token for `user` (one of the users), as `docker login` stores it as `identitytoken`: good for
   * `POST <realm>` with grant_type=refresh_token and this server's service until the server stops.
   */
  issueRefreshToken(user: string): string
  /** Number of recorded requests, optionally only those whose scopes include `scope`. */
  count(scope?: string): number
  clear(): void
  stop(): Promise<void>
}

export interface TokenServerOptions {
  users: Record<string, string>
  /** Directory for the key and cert (the caller owns and removes it). */
  dir: string
  service?: string
  issuer?: string
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string
  ttlSeconds?: number
  anonymousPull?: boolean
  acl?: (req: TokenAclRequest) => string[]
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

/** Split `type:name:actions`; the name may itself contain ':' (e.g. a port), so split on the first and last colon. */
export function parseScope(scope: string): TokenAccess | null {
  const first = scope.indexOf(':')
  const last = scope.lastIndexOf(':')
  if (first <= 0 || last <= first) return null
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '')
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions }
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= limit) chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function parseBasic(header: string | undefined): { user: string; pass: string } | null {
  if (!header) return null
  const m = /^basic\s+(\S+)\s*$/i.exec(header)
  if (!m) return null
  const decoded = Buffer.from(m[1] ?? '', 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return null
  return { user: decoded.slice(0, i), pass: decoded.slice(i + 1) }
}

/** Generate an EC P-256 key and self-signed cert with openssl (node:crypto cannot create X.509 certs). */
async function makeSigningCert(
  dir: string,
): Promise<{ key: KeyObject; certDerB64: string; certPath: string }> {
  const keyPath = join(dir, 'token-key.pem')
  const certPath = join(dir, 'token-cert.pem')
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    '/CN=kubectl-images test token issuer',
  ])
  const [keyPem, certPem] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')])
  const cert = new X509Certificate(certPem)
  return { key: createPrivateKey(keyPem), certDerB64: cert.raw.toString('base64'), certPath }
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const host = opts.host ?? '127.0.0.1'
  const service = opts.service ?? 'kubectl-images-test-registry'
  const issuer = opts.issuer ?? 'kubectl-images-test-issuer'
  const { key, certDerB64, certPath } = await makeSigningCert(opts.dir)
  const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDerB64] }))
  const requests: TokenRequestRecord[] = []
  const faults: TokenServerFault[] = []
  const settings: TokenServerSettings = {
    ttlSeconds: opts.ttlSeconds ?? 300,
    anonymousPull: opts.anonymousPull ?? false,
    omitExpiresIn: false,
    issueExpired: false,
    acl: opts.acl,
    oauthPost: true,
  }
  /** refresh token -> user */
  const refreshTokens = new Map<string, string>()
  const issueRefreshToken = (user: string): string => {
    const token = `kit-refresh-${randomBytes(18).toString('base64url')}`
    refreshTokens.set(token, user)
    return token
  }

  const mint = (
    user: string | undefined,
    access: TokenAccess[],
    ttlSeconds = settings.ttlSeconds,
  ): string => {
    const now = Math.floor(Date.now() / 1000)
    const exp = settings.issueExpired ? now - 120 : now + ttlSeconds
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    }
    const signingInput = `${header}.${b64url(JSON.stringify(claims))}`
    // JOSE wants the raw r||s signature, not DER.
    const sig = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
    return `${signingInput}.${b64url(sig)}`
  }

  const grant = (user: string | undefined, want: TokenAccess): string[] => {
    if (settings.acl) return settings.acl({ user, type: want.type, name: want.name, actions: want.actions })
    if (user !== undefined) return want.actions
    if (settings.anonymousPull && want.type === 'repository') return want.actions.filter((a) => a === 'pull')
    return []
  }

  const grantAll = (user: string | undefined, scopes: readonly string[]): TokenAccess[] => {
    const access: TokenAccess[] = []
    for (const s of scopes) {
      const want = parseScope(s)
      if (!want) continue
      const actions = grant(user, want)
      if (actions.length > 0) access.push({ type: want.type, name: want.name, actions })
    }
    return access
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.invalid')
    const authHeader = req.headers.authorization
    const isPost = req.method === 'POST'
    const record: TokenRequestRecord = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      service: url.searchParams.get('service'),
      scopes: url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x !== '')),
      account: url.searchParams.get('account'),
      grantType: null,
      clientId: null,
      accessType: null,
      contentType: isPost ? (req.headers['content-type'] ?? null) : null,
      authScheme: authHeader ? (authHeader.split(' ')[0] ?? null) : null,
      user: null,
      status: 0,
      granted: [],
    }
    requests.push(record)
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status
      const text = typeof body === 'string' ? body : JSON.stringify(body)
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        ...headers,
      })
      res.end(text)
    }
    // Go's PostFormValue reads the body only for this content type; anything else has no form values.
    let form = new URLSearchParams()
    if (isPost) {
      const body = await readBody(req)
      const type = (record.contentType ?? '').split(';')[0]!.trim().toLowerCase()
      if (type === 'application/x-www-form-urlencoded') form = new URLSearchParams(body.toString('utf8'))
      if (url.pathname === '/token') {
        record.service = form.get('service')
        record.scopes = (form.get('scope') ?? '').split(' ').filter((x) => x !== '')
        record.grantType = form.get('grant_type')
        record.clientId = form.get('client_id')
        record.accessType = form.get('access_type')
      }
    } else {
      req.resume()
    }
    const fault = faults[0]
    if (fault) {
      fault.times--
      if (fault.times <= 0) faults.shift()
      send(
        fault.status,
        fault.body ?? { errors: [{ code: 'UNAVAILABLE', message: 'injected' }] },
        fault.headers,
      )
      return
    }
    if (url.pathname !== '/token') {
      send(404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] })
      return
    }
    if (isPost && settings.oauthPost) {
      const answer = postToken(form, record)
      send(answer.status, answer.body)
      return
    }
    if (req.method !== 'GET') {
      // Without OAuth2 POST support: per oauth.md, clients fall back to GET on 404.
      send(404, { errors: [{ code: 'UNSUPPORTED', message: 'oauth2 POST not supported' }] })
      return
    }
    let user: string | undefined
    if (authHeader) {
      const basic = parseBasic(authHeader)
      const expected = basic ? opts.users[basic.user] : undefined
      if (!basic || expected === undefined || expected !== basic.pass) {
        send(
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] },
          { 'www-authenticate': 'Basic realm="token"' },
        )
        return
      }
      user = basic.user
      record.user = user
    }
    const access = grantAll(user, record.scopes)
    record.granted = access
    const token = mint(user, access)
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      issued_at: new Date().toISOString(),
    }
    if (!settings.omitExpiresIn) body.expires_in = settings.ttlSeconds
    send(200, body)
  }

  /** distribution's contrib/token-server postToken: required fields, then the grant, then the answer. */
  const postToken = (
    form: URLSearchParams,
    record: TokenRequestRecord,
  ): { status: number; body: unknown } => {
    const error = (status: number, code: string, message: string) => ({
      status,
      body: { errors: [{ code, message, detail: null }] },
    })
    const grantType = form.get('grant_type') ?? ''
    if (grantType === '') return error(400, 'MISSING_REQUIRED_FIELD', 'missing grant_type value')
    if ((form.get('service') ?? '') === '')
      return error(400, 'MISSING_REQUIRED_FIELD', 'missing service value')
    if ((form.get('client_id') ?? '') === '')
      return error(400, 'MISSING_REQUIRED_FIELD', 'missing client_id value')
    const accessType = form.get('access_type') ?? ''
    if (accessType !== '' && accessType !== 'online' && accessType !== 'offline')
      return error(400, 'UNSUPPORTED_VALUE', 'unknown access_type value')
    let user: string
    let refreshToken: string | undefined
    if (grantType === 'refresh_token') {
      refreshToken = form.get('refresh_token') ?? ''
      if (refreshToken === '') return error(400, 'UNSUPPORTED_VALUE', 'missing refresh_token value')
      const owner = refreshTokens.get(refreshToken)
      if (owner === undefined || form.get('service') !== service)
        return error(401, 'UNAUTHORIZED', 'invalid refresh token')
      user = owner
    } else if (grantType === 'password') {
      user = form.get('username') ?? ''
      if (user === '') return error(400, 'UNSUPPORTED_VALUE', 'missing username value')
      const password = form.get('password') ?? ''
      if (password === '') return error(400, 'UNSUPPORTED_VALUE', 'missing password value')
      if (opts.users[user] === undefined || opts.users[user] !== password)
        return error(401, 'UNAUTHORIZED', 'invalid credentials')
    } else {
      return error(400, 'UNSUPPORTED_VALUE', 'unknown grant_type value')
    }
    record.user = user
    const access = grantAll(user, record.scopes)
    record.granted = access
    const token = mint(user, access)
    if (accessType === 'offline') refreshToken = issueRefreshToken(user)
    const body: Record<string, unknown> = {
      access_token: token,
      scope: access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' '),
      issued_at: new Date().toISOString(),
    }
    if (!settings.omitExpiresIn) body.expires_in = settings.ttlSeconds
    if (refreshToken !== undefined) body.refresh_token = refreshToken
    return { status: 200, body }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy())
  })
  const port = await listen(server, host)
  return {
    realm: `http://${hostPort(host, port)}/token`,
    service,
    issuer,
    certPath,
    requests,
    settings,
    failNext(fault) {
      faults.push({ ...fault })
    },
    mint,
    issueRefreshToken(user) {
      if (opts.users[user] === undefined)
        throw new Error(`issueRefreshToken: unknown user ${JSON.stringify(user)}`)
      return issueRefreshToken(user)
    },
    count(scope) {
      return scope === undefined ? requests.length : requests.filter((r) => r.scopes.includes(scope)).length
    },
    clear() {
      requests.length = 0
    },
    stop: () => closeServer(server),
  }
}
