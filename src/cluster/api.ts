// One connection to the API server for a read: client-node's typed APIs over a transport that keeps one TLS
// connection pool (client-node builds a new undici Agent, so a new handshake and an idle socket, per request),
// retries transient failures, and turns failures into ApiStatus (an HTTP status the caller may tolerate) or a
// one-line UserError. Error texts never include request headers or bodies we sent (credentials).

import { pipeline } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type {
  AppsV1Api,
  BatchV1Api,
  ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  RequestContext,
  ResponseContext,
  VersionApi,
} from '@kubernetes/client-node'
import type { Dispatcher } from 'undici'
import { UserError, withoutCredentials } from '../util/errors.ts'
import { requestDeadline, Semaphore, sleep } from '../util/limit.ts'
import { type FieldPick, parseList } from './json-pick.ts'
import { impersonationHeaders } from './kubeconfig.ts'

/** A 2xx list that is JSON but not a list of objects (`items: "x"`, a null item). */
export class MalformedAnswer extends Error {}

/** An HTTP error status from the API server, with the Status object's reason and message. */
export class ApiStatus extends Error {
  readonly code: number
  readonly reason: string
  readonly statusMessage: string
  constructor(code: number, reason: string, statusMessage: string) {
    super(`${code} ${reason}: ${statusMessage}`)
    this.name = 'ApiStatus'
    this.code = code
    this.reason = reason
    this.statusMessage = statusMessage
  }
}

export interface SessionOptions {
  concurrency?: number
  signal?: AbortSignal
  /** Per request, headers and body. Default 60 s. */
  requestTimeoutMs?: number
  /** Attempts after the first for 429/5xx and reset connections. Default 2. */
  retries?: number
  backoffMs?: number
  /**
   * Ask for gzipped bodies, as kubectl does: the API server compresses answers over 128 KiB, a list page of
   * pods to a tenth. Default true; false for a cluster with `disable-compression: true` (or
   * `--disable-compression`), where a fast link makes the server's compression cost more than it saves.
   */
  compression?: boolean
}

export interface ApiSession {
  apps: AppsV1Api
  batch: BatchV1Api
  core: CoreV1Api
  version: VersionApi
  context: string
  server: string
  /** Runs one API request (`o` goes to the client-node call): limited, the first one alone, errors mapped. */
  call<T>(what: string, fn: (o: ConfigurationOptions) => Promise<T>): Promise<T>
  /**
   * Like `call` for a list request, but the 2xx body is read from its bytes instead of into client-node's
   * typed model (whose deserialisation of a page of Pods costs far more time and memory than the few fields
   * we read): each element of its `items`, reduced to `itemPick`, goes to `onItem`, and the list's other
   * members are returned (see json-pick.ts). Errors are those of `call`.
   */
  list(
    what: string,
    fn: (o: ConfigurationOptions) => Promise<unknown>,
    itemPick: FieldPick,
    onItem: (item: unknown) => void,
  ): Promise<Record<string, unknown>>
  /** Maps an ApiStatus (or anything) the caller does not tolerate to a UserError. */
  fatal(err: unknown, what: string): Error
  close(): Promise<void>
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504])
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])
const TLS_CODES = /^(?:ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/

function errCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } }
  const code = typeof e?.code === 'string' ? e.code : e?.cause?.code
  return typeof code === 'string' ? code : undefined
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? ''
}

/** `Retry-After` in seconds (what the API server sends with 429), capped. */
function retryAfterMs(value: string | undefined, cap: number): number | undefined {
  if (!value || !/^\d+$/.test(value.trim())) return undefined
  return Math.min(Number(value) * 1000, cap)
}

/** client-node's ApiException: `{code, body, headers}`; body is the response text (a Status JSON). */
function asApiStatus(err: unknown): ApiStatus | undefined {
  if (err instanceof ApiStatus) return err
  const e = err as { code?: unknown; body?: unknown; headers?: unknown }
  if (!e || typeof e.code !== 'number' || !('headers' in e)) return undefined
  let reason = ''
  let message = ''
  if (typeof e.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { reason?: unknown; message?: unknown }
      if (typeof status.reason === 'string') reason = status.reason
      if (typeof status.message === 'string') message = status.message
    } catch {
      message = firstLine(e.body).slice(0, 200)
    }
  }
  return new ApiStatus(e.code, reason, message)
}

/**
 * Buffers for response bodies, reused across requests: a list page is read into one, parsed, and the buffer
 * goes back. Concatenating each page into a fresh buffer left a page-sized ArrayBuffer per request for the
 * garbage collector, which (Bun's above all) lets such external memory pile up to the size of the whole read.
 */
class BufferPool {
  private readonly free: Buffer[] = []

  /** The largest free buffer if it holds `size` bytes, else a new one. */
  acquire(size: number): Buffer {
    let best = -1
    for (let i = 0; i < this.free.length; i++)
      if (best < 0 || this.free[i]!.length > this.free[best]!.length) best = i
    if (best >= 0 && this.free[best]!.length >= size) return this.free.splice(best, 1)[0]!
    return Buffer.allocUnsafe(Math.max(size, 64 * 1024))
  }

  /** Takes back a pooled buffer, or a view of one (what readBody returned). */
  release(view: Buffer): void {
    if (this.free.length < 8) this.free.push(Buffer.from(view.buffer, 0, view.buffer.byteLength))
  }
}

/**
 * A gzipped body inflated chunk by chunk on libuv's thread pool. An error on either side (a cut connection, a
 * corrupt stream) ends both and reaches the reader.
 */
function inflate(body: NodeJS.ReadableStream): AsyncIterable<Buffer> {
  const gunzip = createGunzip({ chunkSize: 64 * 1024 })
  pipeline(body, gunzip, () => {})
  return gunzip
}

/** The body's bytes in a pooled buffer (a view of its first bytes); give it back with `release`. */
async function readBody(body: AsyncIterable<Buffer>, pool: BufferPool): Promise<Buffer> {
  let buf = pool.acquire(0)
  let length = 0
  for await (const chunk of body) {
    if (length + chunk.length > buf.length) {
      const bigger = pool.acquire(Math.max(buf.length * 2, length + chunk.length))
      buf.copy(bigger, 0, 0, length)
      pool.release(buf)
      buf = bigger
    }
    chunk.copy(buf, length)
    length += chunk.length
  }
  return buf.subarray(0, length)
}

export async function openSession(kc: KubeConfig, opts: SessionOptions = {}): Promise<ApiSession> {
  const k8s = await import('./k8s.ts')
  const context = kc.getCurrentContext() ?? ''
  // For messages: a server URL may carry a user and password.
  const server = withoutCredentials(kc.getCurrentCluster()?.server ?? '')
  const signal = opts.signal
  const timeoutMs = opts.requestTimeoutMs ?? 60_000
  const retries = opts.retries ?? 2
  const backoffMs = opts.backoffMs ?? 250
  const compression = opts.compression ?? true
  const sem = new Semaphore(opts.concurrency ?? 8)
  const buffers = new BufferPool()
  const impersonate = impersonationHeaders(kc)
  /** Whether the server has answered a request of this session (so auth, and the plugin, ran). */
  let answered = false
  let pool: Dispatcher | undefined

  /** `raw` takes a 2xx body (and returns what client-node gets instead); errors always reach client-node. */
  async function send(req: RequestContext, raw?: (body: Buffer) => string): Promise<ResponseContext> {
    // client-node hands every request a fresh Agent carrying the cluster's TLS settings and client
    // certificate; the first one serves the whole read so connections are reused and closed at the end.
    const offered = req.getDispatcher() as unknown as Dispatcher | undefined
    if (offered && !pool) pool = offered
    else if (offered && offered !== pool) void offered.close()
    const body = req.getBody()
    for (let attempt = 0; ; attempt++) {
      const deadline = requestDeadline(timeoutMs, signal)
      try {
        const res = await k8s.undiciRequest(req.getUrl(), {
          method: req.getHttpMethod() as Dispatcher.HttpMethod,
          headers: {
            ...req.getHeaders(),
            ...impersonate,
            ...(compression ? { 'accept-encoding': 'gzip' } : {}),
          },
          body: typeof body === 'string' ? body : undefined,
          dispatcher: pool,
          signal: deadline.signal,
        })
        answered = true
        const bytes = await readBody(
          res.headers['content-encoding'] === 'gzip' ? inflate(res.body) : res.body,
          buffers,
        )
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
        }
        if (RETRY_STATUS.has(res.statusCode) && attempt < retries) {
          await sleep(retryAfterMs(headers['retry-after'], 5_000) ?? backoffMs * 2 ** attempt, signal)
          continue
        }
        let text: string
        try {
          text = raw && res.statusCode >= 200 && res.statusCode < 300 ? raw(bytes) : bytes.toString('utf8')
        } finally {
          buffers.release(bytes)
        }
        return new k8s.ResponseContext(res.statusCode, headers, {
          text: async () => text,
          binary: async () => Buffer.from(text),
          stream: () => null,
        })
      } catch (err) {
        if (signal?.aborted) throw abortError()
        if (deadline.timedOut()) {
          throw new UserError(
            `the cluster at ${server} did not answer within ${Math.round(timeoutMs / 1000)} s`,
          )
        }
        const code = errCode(err)
        if (code && RETRY_CODES.has(code) && attempt < retries) {
          await sleep(backoffMs * 2 ** attempt, signal)
          continue
        }
        throw err
      } finally {
        deadline.done()
      }
    }
  }

  const options: ConfigurationOptions = { httpApi: k8s.wrapHttpLibrary({ send: (req) => send(req) }) }

  /** Why the read stopped: the run's --timeout, as one line, or whatever else aborted it. */
  function abortError(): Error {
    const reason = signal?.reason as { name?: unknown } | undefined
    if (reason?.name === 'TimeoutError')
      return new UserError(`the run's --timeout passed while reading the cluster at ${server}`)
    return reason instanceof Error ? reason : new Error('aborted')
  }

  function fatal(err: unknown, what: string): Error {
    if (signal?.aborted) return abortError()
    if (err instanceof UserError) return err
    const status = asApiStatus(err)
    if (status) {
      const detail = status.statusMessage ? `: ${status.statusMessage}` : ''
      if (status.code === 401) {
        return new UserError(
          `the cluster rejected the credentials of context ${context} (401); log in again or check the user in the kubeconfig`,
        )
      }
      if (status.code === 403) return new UserError(`cannot ${what}: forbidden${detail}`)
      return new UserError(`the cluster at ${server} answered ${status.code} to ${what}${detail}`)
    }
    const code = errCode(err)
    const cause = (err as { cause?: { message?: unknown } })?.cause
    const message = firstLine(
      typeof cause?.message === 'string' && (err as Error).message === 'fetch failed'
        ? cause.message
        : String((err as Error)?.message ?? err),
    )
    const reach = `cannot reach the cluster at ${server}`
    // client-node's ExecAuth rejects with the spawn error, the plugin's stderr, or a JSON.parse error whose
    // message quotes stdout (a credential): never pass that one on.
    const user = kc.getCurrentUser()
    const plugin = user?.exec?.command ?? user?.authProvider?.config?.exec?.command
    const syscall = (err as { syscall?: unknown })?.syscall
    if (typeof syscall === 'string' && syscall.startsWith('spawn')) {
      const why =
        code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'permission denied' : (code ?? message)
      return new UserError(
        `context ${context}: cannot run the credential plugin ${plugin ?? syscall.slice(6)}: ${why}`,
        {
          cause: err,
        },
      )
    }
    if (err instanceof MalformedAnswer) {
      return new UserError(`the cluster at ${server} sent a malformed answer to ${what}: ${err.message}`, {
        cause: err,
      })
    }
    if (err instanceof SyntaxError) {
      // client-node runs the plugin before it sends anything: once an answer came, the answer is to blame.
      return new UserError(
        plugin && !answered
          ? `context ${context}: the credential plugin ${plugin} did not print an ExecCredential`
          : `the cluster at ${server} did not answer JSON to ${what}`,
        { cause: err },
      )
    }
    switch (code) {
      case 'ECONNREFUSED':
        return new UserError(`${reach}: connection refused`, { cause: err })
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new UserError(`${reach}: host not found`, { cause: err })
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new UserError(`${reach}: connection timed out`, { cause: err })
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new UserError(`${reach}: host unreachable`, { cause: err })
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
        return new UserError(`${reach}: connection reset`, { cause: err })
      case 'ENOENT':
      case 'EACCES': {
        // client-node reads certificate-authority / client-certificate / client-key files per request.
        const path = (err as { path?: unknown }).path
        const reason = code === 'ENOENT' ? 'file not found' : 'permission denied'
        return new UserError(
          `context ${context}: cannot read ${typeof path === 'string' ? path : 'a file'}: ${reason}`,
          {
            cause: err,
          },
        )
      }
    }
    if (code?.startsWith('Z_')) {
      return new UserError(
        `the cluster at ${server} sent a corrupt gzip body to ${what}; retry, or run with --disable-compression`,
        { cause: err },
      )
    }
    if (code && TLS_CODES.test(code)) {
      return new UserError(
        `${reach}: TLS verification failed (${message}); check the cluster's certificate-authority in the kubeconfig`,
        { cause: err },
      )
    }
    if (plugin && !code) {
      return new UserError(
        `context ${context}: the credential plugin ${plugin} failed: ${message || 'no error message'}`,
        {
          cause: err,
        },
      )
    }
    // Other authenticators (oidc, azure, gcp) fail before any request is sent.
    return new UserError(`cannot ${what} with context ${context}: ${message}`, { cause: err })
  }

  let gate: Promise<void> | undefined
  // After a fatal error (401, unreachable...) every later call fails the same way without another request.
  let failed: Error | undefined
  async function call<T>(what: string, fn: (o: ConfigurationOptions) => Promise<T>): Promise<T> {
    const run = async () => {
      if (signal?.aborted) throw abortError()
      if (failed) throw failed
      try {
        return await sem.run(() => fn(options))
      } catch (err) {
        if (signal?.aborted) throw abortError()
        const status = asApiStatus(err)
        if (status && status.code !== 401) throw status
        failed ??= fatal(err, what)
        throw failed
      }
    }
    // The first request goes alone: it runs an exec credential plugin once (client-node caches the result)
    // and a wrong address or credential fails once instead of once per kind.
    if (!gate) {
      const first = run()
      gate = first.then(
        () => undefined,
        () => undefined,
      )
      return first
    }
    await gate
    return run()
  }

  async function list(
    what: string,
    fn: (o: ConfigurationOptions) => Promise<unknown>,
    itemPick: FieldPick,
    onItem: (item: unknown) => void,
  ): Promise<Record<string, unknown>> {
    let rest: Record<string, unknown> = {}
    const raw = (body: Buffer): string => {
      // A SyntaxError here is the server's answer, not a credential plugin's output (see fatal()).
      rest = parseList(body, onItem, itemPick)
      if ('items' in rest) throw new MalformedAnswer('its items are not a list')
      return '{}'
    }
    const own: ConfigurationOptions = { httpApi: k8s.wrapHttpLibrary({ send: (req) => send(req, raw) }) }
    await call(what, () => fn(own))
    return rest
  }

  let apis: Pick<ApiSession, 'apps' | 'batch' | 'core' | 'version'>
  try {
    apis = {
      apps: kc.makeApiClient(k8s.AppsV1Api),
      batch: kc.makeApiClient(k8s.BatchV1Api),
      core: kc.makeApiClient(k8s.CoreV1Api),
      version: kc.makeApiClient(k8s.VersionApi),
    }
  } catch (err) {
    throw new UserError(`context ${context}: ${firstLine((err as Error).message)}`, { cause: err })
  }

  return {
    ...apis,
    context,
    server,
    call,
    list,
    fatal,
    async close() {
      // destroy, not close: a request still hanging (a stalled proxy after --timeout) must not hold the process.
      await pool?.destroy()
    },
  }
}
