import { readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { Agent, type Dispatcher, ProxyAgent, request, errors as undiciErrors } from 'undici'
import { requestDeadline, Semaphore, sleep } from '../util/limit.ts'
import { type ProxySettings, proxyFor } from '../util/proxy.ts'
import { RegistryError } from './errors.ts'

export interface TlsSettings {
  skipTlsVerify: boolean
  caFile?: string
}

export interface HttpOptions {
  /** Time allowed for one request (headers and body), in ms. */
  requestTimeoutMs: number
  /** Attempts after the first one for 408/429/5xx and broken connections. */
  retries: number
  /** Base of the exponential backoff, in ms. */
  backoffMs: number
  /** Longest wait a `Retry-After` may impose, in ms; longer values are capped to this. */
  maxRetryAfterMs: number
  /** Requests in flight per registry host. */
  concurrencyPerHost: number
  /** Largest response body we read, in bytes (a tag list of 100k tags is ~3 MB). */
  maxBodyBytes: number
  userAgent: string
  /** Proxies from the environment (src/util/proxy.ts decides per host); none when unset. */
  proxy?: ProxySettings
}

export const defaultHttpOptions: HttpOptions = {
  requestTimeoutMs: 30_000,
  retries: 4,
  backoffMs: 250,
  maxRetryAfterMs: 60_000,
  concurrencyPerHost: 64,
  maxBodyBytes: 64 * 1024 * 1024,
  userAgent: 'kubectl-images',
}

export interface HttpResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  url: URL
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504])

/** One header value, the first when it was sent several times. */
export function header(res: HttpResponse, name: string): string | undefined {
  const value = res.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Every value of a header sent several times (WWW-Authenticate may be). */
export function headerValues(res: HttpResponse, name: string): string[] {
  const value = res.headers[name]
  if (value === undefined) return []
  return Array.isArray(value) ? value : [value]
}

/** `Retry-After` as delta-seconds or an HTTP-date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * Sends registry requests: TLS settings per registry, bounded concurrency per host, a timeout per
 * request, and bounded retries with backoff that honour (a capped) `Retry-After`.
 * No redirects are followed here: the client decides where credentials may go.
 */
export class HttpTransport {
  readonly options: HttpOptions
  private readonly agents = new Map<string, Dispatcher>()
  /** Hosts that could not be connected to through every retry (see send). */
  private readonly unreachable = new Map<string, RegistryError>()
  private readonly limits = new Map<string, Semaphore>()
  /** Per host, until when (performance.now()) a rate limit (429, or 503 with Retry-After) stops sending. */
  private readonly pausedUntil = new Map<string, number>()

  constructor(options: Partial<HttpOptions> = {}) {
    this.options = { ...defaultHttpOptions, ...options }
  }

  private agentFor(tls: TlsSettings, url: URL): Dispatcher {
    const proxy = proxyFor(url, this.options.proxy)
    const key = `${tls.skipTlsVerify}|${tls.caFile ?? ''}|${proxy ?? ''}`
    let agent = this.agents.get(key)
    if (!agent) {
      let ca: Buffer | undefined
      if (tls.caFile) {
        try {
          ca = readFileSync(tls.caFile)
        } catch (error) {
          throw new RegistryError('config', `cannot read CA file ${tls.caFile}: ${(error as Error).message}`)
        }
      }
      const connect = { rejectUnauthorized: !tls.skipTlsVerify, ...(ca ? { ca } : {}) }
      const options = {
        connect,
        connections: this.options.concurrencyPerHost,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
        connectTimeout: Math.min(this.options.requestTimeoutMs, 10_000),
      }
      // Through a proxy the registry's TLS settings go in requestTls (the tunnel's far end).
      agent = proxy ? new ProxyAgent({ ...options, uri: proxy, requestTls: connect }) : new Agent(options)
      this.agents.set(key, agent)
    }
    return agent
  }

  private limitFor(host: string): Semaphore {
    let limit = this.limits.get(host)
    if (!limit) {
      limit = new Semaphore(this.options.concurrencyPerHost)
      this.limits.set(host, limit)
    }
    return limit
  }

  /** How long a host that rate-limited a request stays paused, in ms (0: not paused). */
  pausedMs(host: string): number {
    return Math.max(0, (this.pausedUntil.get(host) ?? 0) - performance.now())
  }

  /** One attempt: no retries, no redirects; the whole body is read. */
  async once(
    url: URL,
    init: { method: 'GET' | 'HEAD' | 'POST'; headers: Record<string, string>; body?: string },
    tls: TlsSettings,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    return this.limitFor(url.host).run(async () => {
      // A host that rate-limited one request gets none of the others until its Retry-After has passed (again
      // if another 429 moved it meanwhile), each a little later than the last, not all in one burst.
      for (let paused = this.pausedMs(url.host); paused > 0; paused = this.pausedMs(url.host))
        await sleep(paused + Math.random() * Math.min(1000, paused / 4), signal)
      // Counted from here, not from the call: waiting for a free connection is not the registry being slow.
      const deadline = requestDeadline(this.options.requestTimeoutMs, signal)
      try {
        const res = await request(url, {
          method: init.method,
          headers: { 'user-agent': this.options.userAgent, ...init.headers },
          ...(init.body === undefined ? {} : { body: init.body }),
          dispatcher: this.agentFor(tls, url),
          signal: deadline.signal,
        })
        const body = await readBody(res.body, this.options.maxBodyBytes, url.host)
        return { status: res.statusCode, headers: res.headers, body, url }
      } finally {
        deadline.done()
      }
    })
  }

  /**
   * Sends with retries. Retries 408/429/5xx and connection failures; waits `Retry-After` when given
   * (capped), else exponential backoff with jitter. Throws RegistryError when attempts run out.
   */
  async send(
    url: URL,
    init: { method: 'GET' | 'HEAD' | 'POST'; headers: Record<string, string>; body?: string },
    tls: TlsSettings,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const down = this.unreachable.get(url.host)
    if (down) throw down
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse | undefined
      let failure: unknown
      let unreachable = false
      try {
        res = await this.once(url, init, tls, signal)
      } catch (error) {
        if (signal?.aborted) throw deadlineError(url, signal)
        if (error instanceof RegistryError) throw error
        const mapped = mapNetworkError(url, error)
        if (!mapped.retry) throw mapped.error
        failure = mapped.error
        unreachable = mapped.unreachable
      }
      if (res && !RETRY_STATUS.has(res.status)) return res
      const retryAfter = res ? parseRetryAfter(header(res, 'retry-after')) : undefined
      const backoff = this.options.backoffMs * 2 ** attempt * (0.8 + Math.random() * 0.4)
      const wait = Math.min(retryAfter ?? backoff, this.options.maxRetryAfterMs)
      if (res && (res.status === 429 || (res.status === 503 && retryAfter !== undefined))) {
        const until = performance.now() + wait
        if (until > (this.pausedUntil.get(url.host) ?? 0)) this.pausedUntil.set(url.host, until)
      }
      const last = attempt >= this.options.retries
      if (last) {
        if (res) return res
        // Every attempt failed to connect: later requests to this host fail at once with the same error,
        // rather than each repository of a scan waiting through the same retries.
        if (unreachable) this.unreachable.set(url.host, failure as RegistryError)
        throw failure
      }
      try {
        await sleep(wait, signal)
      } catch {
        throw deadlineError(url, signal)
      }
    }
  }

  async close(): Promise<void> {
    // destroy, not close: a request still hanging (a stalled proxy after the deadline) must not hold the process.
    await Promise.all([...this.agents.values()].map((agent) => agent.destroy()))
    this.agents.clear()
  }
}

/** A response body's bytes, refused past `limit` bytes (a registry answer that never ends is not read whole). */
function readBody(body: Readable, limit: number, host: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    body.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit)
        body.destroy(new RegistryError('protocol', `response from ${host} is larger than ${limit} bytes`))
      else chunks.push(chunk)
    })
    body.once('error', reject)
    body.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
  })
}

function deadlineError(url: URL, signal?: AbortSignal): RegistryError {
  const reason = signal?.reason as Error | undefined
  return new RegistryError(
    'timeout',
    `gave up on ${url.host}: ${reason?.name === 'TimeoutError' ? 'the overall deadline passed' : 'cancelled'}`,
  )
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH'])

/** Maps an undici/socket failure to a RegistryError, and says whether another attempt may help. */
function mapNetworkError(
  url: URL,
  error: unknown,
): { error: RegistryError; retry: boolean; unreachable: boolean } {
  const err = error as Error & { code?: string; cause?: { code?: string; message?: string } }
  const code = err.code ?? err.cause?.code ?? ''
  const mapped = classifyNetworkError(url, err, code)
  return {
    error: mapped,
    retry: mapped.kind === 'timeout' || (mapped.kind === 'network' && code !== 'ENOTFOUND'),
    // No connection at all (not a slow or failing answer): the host, not this request, is the problem.
    unreachable: UNREACHABLE_CODES.has(code) || err instanceof undiciErrors.ConnectTimeoutError,
  }
}

function classifyNetworkError(url: URL, err: Error, code: string): RegistryError {
  const error = err
  // undici refuses to send it (a credential with a line break makes an invalid header): sending again won't help.
  if (code === 'UND_ERR_INVALID_ARG') {
    return new RegistryError(
      'config',
      `cannot send a request to ${url.host}: ${oneLine(err.message)}; check the credentials configured for it`,
      { cause: error },
    )
  }
  if (
    err.name === 'TimeoutError' ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new RegistryError('timeout', `${url.host} did not answer in time`, { cause: error })
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return new RegistryError('timeout', `could not connect to ${url.host} in time`, { cause: error })
  }
  // A plain-HTTP server answering a TLS handshake: checked before the other TLS errors, which it resembles.
  if (
    code === 'EPROTO' ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    /wrong version number|packet length too long/i.test(err.message)
  ) {
    return new RegistryError(
      'tls',
      `${url.host} does not speak HTTPS; if it is a plain HTTP registry, pass --insecure (or set KUBECTL_IMAGES_REGISTRY_HOST=<host> with KUBECTL_IMAGES_REGISTRY_INSECURE=true)`,
      { cause: error },
    )
  }
  const tlsReason = TLS_REASONS[code]
  if (
    tlsReason ||
    /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code) ||
    /certificate/i.test(err.message)
  ) {
    return new RegistryError(
      'tls',
      `TLS error talking to ${url.host}: ${tlsReason ?? oneLine(err.message || code)}; pass --ca-file with the registry's CA, or --insecure-skip-tls-verify to skip verification`,
      { cause: error },
    )
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryError('network', `cannot resolve registry host ${url.hostname}`, { cause: error })
  }
  if (code === 'ECONNREFUSED') {
    return new RegistryError('network', `connection to ${url.host} refused`, { cause: error })
  }
  return new RegistryError('network', `connection to ${url.host} failed: ${oneLine(err.message || code)}`, {
    cause: error,
  })
}

/** What OpenSSL's certificate codes mean, in words a user can act on (Node's texts suggest Node flags). */
const TLS_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is signed by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is signed by an unknown authority',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in an untrusted self-signed certificate',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it presents an untrusted self-signed certificate',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate is not valid for this host name',
}

/** The first line of a message, trimmed: OpenSSL texts end in newlines and file positions. */
function oneLine(text: string): string {
  return text.split('\n')[0]!.trim()
}
