// A recording HTTP proxy in front of the test registry that injects faults and serves paginated tag lists
// (distribution 2.8 has no pagination at all; see registry.md §2.3).
import { createHash } from 'node:crypto'
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { connect, createServer as createNetServer, type Socket } from 'node:net'
import { networkInterfaces } from 'node:os'
import { closeServer, hostPort, listen, sleep } from './lifecycle.ts'

interface FaultBase {
  /** Regex (or regex source) tested against the path + query, e.g. /\/tags\/list/. */
  match: RegExp | string
  /** Only this method (case-insensitive). Default: any. */
  method?: string
  /** Apply to the first `times` matching requests only. Default: every matching request. */
  times?: number
}

export interface StatusFault extends FaultBase {
  kind: 'status'
  /** e.g. 429, 500, 503, 401. */
  status: number
  /** 429 helper: a number is delta-seconds, a Date becomes an HTTP-date, a string is sent verbatim (e.g. '1e9'). */
  retryAfter?: number | string | Date
  headers?: Record<string, string>
  /** Default: a distribution-style `{"errors":[...]}` body with a code matching the status. */
  body?: string | object
}

export interface ResetFault extends FaultBase {
  /** Destroy the connection (TCP RST) without any response. */
  kind: 'reset'
}

export interface DelayFault extends FaultBase {
  kind: 'delay'
  /** Wait this long before sending the status line and headers. */
  headersMs?: number
  /** Send headers, then wait this long before sending the body. */
  bodyMs?: number
}

export interface TruncateFault extends FaultBase {
  /** Declare the full Content-Length, send only part of the body, then close the connection. */
  kind: 'truncate'
  /** Bytes of the body to send. Default: half. */
  keepBytes?: number
}

export interface PaginationOptions {
  /** Page size when the request has no `n`. Default: everything after `last` (as distribution 3.x). */
  defaultPageSize?: number
  /** Clamp `n` to this, like distribution's `tags.maxtags`. */
  maxPageSize?: number
  /**
   * Order of the served list. 'sorted' (default, lexical) | 'reverse' | 'upstream' (as 2.8 returns it: unsorted) |
   * 'shuffled' (deterministic for a given tag set and `shuffleSeed`, so `last` stays meaningful across pages).
   */
  order?: 'sorted' | 'reverse' | 'upstream' | 'shuffled'
  shuffleSeed?: string
  /**
   * Form of the Link header: 'relative' (default, distribution 3.x: `</v2/x/tags/list?last=b&n=2>`), 'absolute'
   * (Quay: scheme + the request's Host), 'none' (no Link at all), or `{ base }` to point the next page at another
   * origin, e.g. `{ base: echo.url }` or `{ base: 'http://localhost:PORT' }`.
   */
  link?: 'relative' | 'absolute' | 'none' | { base: string }
  /** 'last' (default): `?last=<tag>&n=<n>`. 'opaque': old Quay style `?next_page=<token>&n=<n>`. */
  linkStyle?: 'last' | 'opaque'
  /** Include `n` in the Link. Default true. */
  linkIncludesN?: boolean
  /** Serve fewer than `n` tags per page (about half) while still sending Link. */
  shortPages?: boolean
  /** Start each next page at the `last` tag itself, so every page repeats the previous page's last tag. */
  inclusiveLast?: boolean
}

export interface PaginateFault extends FaultBase, PaginationOptions {
  /** GET .../tags/list: fetch the full list upstream, then serve it in pages. */
  kind: 'paginate'
}

/**
 * Faults are checked in order. Per group (status/reset, delay, truncate, paginate) the first matching fault with
 * `times` left applies to a request and is consumed; faults of different groups combine (e.g. paginate + delay).
 */
export type Fault = StatusFault | ResetFault | DelayFault | TruncateFault | PaginateFault

export interface RecordedRequest {
  method: string
  /** Path + query as received. */
  path: string
  /** Host header as received. */
  host: string | undefined
  /** Whether an Authorization header was sent, and its scheme ('Basic', 'Bearer'). The value is never stored. */
  authorization: { present: boolean; scheme: string | null }
  /** Request headers, with authorization/cookie values replaced by '<redacted>' (scheme kept). */
  headers: Record<string, string>
  /** Kinds of the faults applied to this request. */
  faults: Fault['kind'][]
  /** Status sent (0 for a reset or before the response). */
  status: number
  at: number
}

export interface RecordingServer {
  /** http://HOST:PORT */
  url: string
  /** HOST:PORT */
  host: string
  readonly requests: RecordedRequest[]
  /** Requests whose path + query matches `pattern` (and method, if given). */
  count(pattern?: RegExp | string, method?: string): number
  clear(): void
  stop(): Promise<void>
}

export interface FaultProxy extends RecordingServer {
  upstream: string
  /** Replace all faults (hit counters restart). */
  setFaults(faults: Fault[]): void
  addFault(fault: Fault): void
  /** How many requests each current fault has been applied to, in setFaults order. */
  faultHits(): number[]
}

export interface FaultProxyOptions {
  faults?: Fault[]
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string
  /** Forward the client's Host header unchanged (default true), so registry Location URLs come back via the proxy. */
  preserveHost?: boolean
}

/** Headers that belong to one connection and are not forwarded (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

const STATUS_CODES: Record<number, string> = {
  401: 'UNAUTHORIZED',
  403: 'DENIED',
  404: 'NAME_UNKNOWN',
  429: 'TOOMANYREQUESTS',
}

function toRegExp(m: RegExp | string): RegExp {
  return typeof m === 'string' ? new RegExp(m) : m
}

function sanitizeHeaders(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue
    const value = Array.isArray(v) ? v.join(', ') : v
    if (k === 'authorization' || k === 'proxy-authorization') {
      out[k] = `${value.split(' ')[0] ?? ''} <redacted>`
    } else if (k === 'cookie') {
      out[k] = '<redacted>'
    } else {
      out[k] = value
    }
  }
  return out
}

function record(req: IncomingMessage): RecordedRequest {
  const auth = req.headers.authorization
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    host: req.headers.host,
    authorization: { present: auth !== undefined, scheme: auth ? (auth.split(' ')[0] ?? null) : null },
    headers: sanitizeHeaders(req.headers),
    faults: [],
    status: 0,
    at: Date.now(),
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

interface Reply {
  status: number
  headers: Record<string, string | string[]>
  body: Buffer
}

function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: Buffer.from(JSON.stringify(body)),
  }
}

function forward(
  agent: Agent,
  upstream: URL,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
  preserveHost: boolean,
): Promise<Reply> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v
  }
  if (!preserveHost) out.host = upstream.host
  if (body.length > 0 || out['content-length'] !== undefined) out['content-length'] = String(body.length)
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: upstream.hostname, port: upstream.port, method, path, headers: out, agent },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const h: Record<string, string | string[]> = {}
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined && !HOP_BY_HOP.has(k)) h[k] = v
          }
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) })
        })
      },
    )
    r.on('error', reject)
    r.end(body)
  })
}

function statusReply(f: StatusFault): Reply {
  const headers: Record<string, string> = { ...f.headers }
  if (f.retryAfter !== undefined) {
    headers['retry-after'] = f.retryAfter instanceof Date ? f.retryAfter.toUTCString() : String(f.retryAfter)
  }
  if (typeof f.body === 'string') {
    return {
      status: f.status,
      headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
      body: Buffer.from(f.body),
    }
  }
  const body = f.body ?? {
    errors: [
      {
        code: STATUS_CODES[f.status] ?? 'UNAVAILABLE',
        message: `injected ${f.status} by the test proxy`,
        detail: null,
      },
    ],
  }
  return jsonReply(f.status, body, headers)
}

function orderTags(tags: string[], p: PaginationOptions): string[] {
  const order = p.order ?? 'sorted'
  if (order === 'upstream') return [...tags]
  const sorted = [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  if (order === 'sorted') return sorted
  if (order === 'reverse') return sorted.reverse()
  const seed = p.shuffleSeed ?? 'shuffle'
  const key = (t: string) => createHash('sha256').update(`${seed}\0${t}`).digest('hex')
  const keys = new Map(sorted.map((t) => [t, key(t)]))
  return sorted.sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : 1))
}

async function paginate(
  p: PaginateFault,
  name: string,
  query: URLSearchParams,
  requestHost: string | undefined,
  fetchAll: () => Promise<Reply>,
): Promise<Reply> {
  const rawN = query.get('n')
  let n: number | undefined = p.defaultPageSize
  if (rawN !== null) {
    if (!/^\d+$/.test(rawN)) {
      return jsonReply(400, {
        errors: [
          {
            code: 'PAGINATION_NUMBER_INVALID',
            message: 'invalid number of results requested',
            detail: { n: rawN },
          },
        ],
      })
    }
    n = Number.parseInt(rawN, 10)
  }
  if (n !== undefined && p.maxPageSize !== undefined) n = Math.min(n, p.maxPageSize)
  if (n === 0) return jsonReply(200, { name, tags: [] })
  const upstream = await fetchAll()
  if (upstream.status !== 200) return upstream
  const all = orderTags(
    (JSON.parse(upstream.body.toString('utf8')) as { tags?: string[] | null }).tags ?? [],
    p,
  )
  const opaque = query.get('next_page')
  const last = opaque !== null ? Buffer.from(opaque, 'base64url').toString('utf8') : query.get('last')
  let start = 0
  if (last !== null && last !== '') {
    const i = all.indexOf(last)
    if (i >= 0) start = p.inclusiveLast ? i : i + 1
    else if ((p.order ?? 'sorted') === 'sorted') start = all.findIndex((t) => t > last)
    else start = -1
    if (start < 0) start = all.length
  }
  const size = n === undefined ? all.length : p.shortPages ? Math.max(1, Math.floor(n / 2)) : n
  const page = all.slice(start, start + size)
  const headers: Record<string, string> = {}
  const link = p.link ?? 'relative'
  const lastServed = page[page.length - 1]
  if (start + page.length < all.length && lastServed !== undefined && link !== 'none') {
    const q = new URLSearchParams()
    if ((p.linkStyle ?? 'last') === 'opaque')
      q.set('next_page', Buffer.from(lastServed).toString('base64url'))
    else q.set('last', lastServed)
    if ((p.linkIncludesN ?? true) && n !== undefined) q.set('n', String(n))
    const path = `/v2/${name}/tags/list?${q.toString()}`
    const target =
      link === 'relative'
        ? path
        : link === 'absolute'
          ? `http://${requestHost ?? 'localhost'}${path}`
          : `${link.base.replace(/\/+$/, '')}${path}`
    headers.link = `<${target}>; rel="next"`
  }
  return jsonReply(200, { name, tags: page }, headers)
}

function deliver(
  req: IncomingMessage,
  res: ServerResponse,
  reply: Reply,
  delay: DelayFault | undefined,
  truncate: TruncateFault | undefined,
): Promise<void> {
  return new Promise((resolve) => {
    // The client may have gone away (e.g. it timed out during a delay): never write to a dead socket, never hang.
    res.once('close', () => resolve())
    res.on('error', () => resolve())
    if (res.destroyed || req.socket.destroyed) {
      resolve()
      return
    }
    const headers = { ...reply.headers }
    const isHead = req.method === 'HEAD'
    if (!isHead || headers['content-length'] === undefined)
      headers['content-length'] = String(reply.body.length)
    res.writeHead(reply.status, headers)
    if (isHead || reply.body.length === 0) {
      res.end(() => resolve())
      return
    }
    if (truncate) {
      const keep = Math.max(
        0,
        Math.min(reply.body.length - 1, truncate.keepBytes ?? Math.floor(reply.body.length / 2)),
      )
      res.flushHeaders()
      const socket = req.socket
      // Write straight to the socket: the bytes are on the wire before the close, and 0 bytes works too.
      socket.write(reply.body.subarray(0, keep), () => {
        socket.destroy()
        resolve()
      })
      return
    }
    if (delay?.bodyMs) {
      res.flushHeaders()
      setTimeout(() => {
        if (res.destroyed) resolve()
        else res.end(reply.body, () => resolve())
      }, delay.bodyMs)
      return
    }
    res.end(reply.body, () => resolve())
  })
}

interface ActiveFault {
  fault: Fault
  re: RegExp
  hits: number
}

function createRecorder(): Omit<RecordingServer, 'url' | 'host' | 'stop'> {
  const requests: RecordedRequest[] = []
  return {
    requests,
    count(pattern, method) {
      const re = pattern === undefined ? undefined : toRegExp(pattern)
      return requests.filter(
        (r) => (!re || re.test(r.path)) && (!method || r.method.toUpperCase() === method.toUpperCase()),
      ).length
    },
    clear() {
      requests.length = 0
    },
  }
}

export async function startFaultProxy(upstream: string, opts: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstreamUrl = new URL(upstream)
  const agent = new Agent({ keepAlive: true, maxSockets: 32 })
  const recorder = createRecorder()
  let active: ActiveFault[] = []
  const toActive = (f: Fault): ActiveFault => ({ fault: f, re: toRegExp(f.match), hits: 0 })
  active = (opts.faults ?? []).map(toActive)
  const preserveHost = opts.preserveHost ?? true

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const rec = record(req)
    recorder.requests.push(rec)
    const path = req.url ?? '/'
    // Per group (terminal = status|reset, delay, truncate, paginate) the first matching fault that still has
    // `times` left applies and is consumed; so [{429, times: 1}, {503, times: 2}] gives 429, 503, 503, then upstream.
    const applied: Fault[] = []
    const used = new Set<string>()
    for (const a of active) {
      const group = a.fault.kind === 'reset' ? 'status' : a.fault.kind
      if (used.has(group)) continue
      if (!a.re.test(path)) continue
      if (a.fault.method && a.fault.method.toUpperCase() !== (req.method ?? '').toUpperCase()) continue
      if (a.fault.times !== undefined && a.hits >= a.fault.times) continue
      a.hits++
      used.add(group)
      applied.push(a.fault)
    }
    rec.faults = applied.map((f) => f.kind)
    const find = <K extends Fault['kind']>(kind: K) =>
      applied.find((f): f is Extract<Fault, { kind: K }> => f.kind === kind)

    if (find('reset')) {
      req.socket.resetAndDestroy()
      return
    }
    const body = await readBody(req)
    const delay = find('delay')
    if (delay?.headersMs) await sleep(delay.headersMs)
    let reply: Reply
    const status = find('status')
    const pages = find('paginate')
    const tagsMatch = /^\/v2\/(.+)\/tags\/list$/.exec(path.split('?')[0] ?? '')
    const fwd = (p: string) =>
      forward(agent, upstreamUrl, req.method ?? 'GET', p, req.headers, body, preserveHost)
    try {
      if (status) {
        reply = statusReply(status)
      } else if (pages && tagsMatch && (req.method === 'GET' || req.method === 'HEAD')) {
        const query = new URL(path, 'http://x').searchParams
        reply = await paginate(pages, tagsMatch[1] ?? '', query, req.headers.host, () =>
          fwd(`/v2/${tagsMatch[1]}/tags/list`),
        )
      } else {
        reply = await fwd(path)
      }
    } catch (err) {
      reply = jsonReply(502, {
        errors: [{ code: 'UNAVAILABLE', message: `proxy: ${(err as Error).message}` }],
      })
    }
    rec.status = reply.status
    await deliver(req, res, reply, delay, find('truncate'))
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy())
  })
  const host = opts.host ?? '127.0.0.1'
  const port = await listen(server, host)
  return {
    ...recorder,
    url: `http://${hostPort(host, port)}`,
    host: hostPort(host, port),
    upstream: upstreamUrl.origin,
    setFaults(faults) {
      active = faults.map(toActive)
    },
    addFault(fault) {
      active.push(toActive(fault))
    },
    faultHits() {
      return active.map((a) => a.hits)
    },
    async stop() {
      await closeServer(server)
      agent.destroy()
    },
  }
}

export interface EchoHostOptions {
  /** Loopback address. Default 127.0.0.2 (falls back to 127.0.0.1 on another port if it cannot bind). */
  host?: string
  /** Forward every request there (e.g. the fault proxy or registry URL) after recording it. */
  forwardTo?: string
  /** Otherwise answer with this. Default: 404 with a JSON NAME_UNKNOWN error. */
  respond?: (req: RecordedRequest) => {
    status: number
    headers?: Record<string, string>
    body?: string | object
  }
}

export interface EchoHost extends RecordingServer {}

/** A plain HTTP server on another loopback address that records requests: proves what (not) gets sent to foreign hosts. */
export async function startEchoHost(opts: EchoHostOptions = {}): Promise<EchoHost> {
  const wanted = opts.host ?? '127.0.0.2'
  if (opts.forwardTo) {
    try {
      return await startFaultProxy(opts.forwardTo, { host: wanted })
    } catch (err) {
      if (opts.host !== undefined) throw err
      return startFaultProxy(opts.forwardTo, { host: '127.0.0.1' })
    }
  }
  const recorder = createRecorder()
  const server = createServer((req, res) => {
    const rec = record(req)
    recorder.requests.push(rec)
    req.resume()
    req.on('end', () => {
      const r: ReturnType<NonNullable<EchoHostOptions['respond']>> = opts.respond?.(rec) ?? {
        status: 404,
        body: { errors: [{ code: 'NAME_UNKNOWN', message: 'echo host', detail: null }] },
      }
      const isText = typeof r.body === 'string'
      const body = Buffer.from(isText ? (r.body as string) : JSON.stringify(r.body ?? ''))
      rec.status = r.status
      res.writeHead(r.status, {
        'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
        'content-length': String(body.length),
        ...r.headers,
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
  })
  let host = wanted
  let port: number
  try {
    port = await listen(server, host)
  } catch (err) {
    if (opts.host !== undefined) throw err
    host = '127.0.0.1'
    port = await listen(server, host)
  }
  return {
    ...recorder,
    url: `http://${hostPort(host, port)}`,
    host: hostPort(host, port),
    stop: () => closeServer(server),
  }
}

/** A forward proxy as corporate ones work: CONNECT tunnels for HTTPS, absolute-form requests for plain HTTP. */
export interface ConnectProxy {
  url: string
  /** `host:port` of each tunnel or forwarded request, in order. */
  tunnels: string[]
  stop(): Promise<void>
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    let target: URL
    try {
      target = new URL(req.url ?? '')
    } catch {
      res.writeHead(400)
      res.end()
      return
    }
    tunnels.push(target.host)
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? ''
    tunnels.push(target)
    const colon = target.lastIndexOf(':')
    const upstream = connect(
      Number(target.slice(colon + 1)),
      target.slice(0, colon).replace(/^\[|\]$/g, ''),
      () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      },
    )
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    }
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  const port = await listen(server, '127.0.0.1')
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    async stop() {
      for (const socket of sockets) socket.destroy()
      await closeServer(server)
    },
  }
}

/** For a describe() that needs nonLoopbackAddress(): skipped, with the reason, on a machine without one. */
export function needsNonLoopbackAddress(): { skip: string | false } {
  return { skip: nonLoopbackAddress() ? false : 'this machine has no non-loopback IPv4 address' }
}

/** An IPv4 address of this machine that is not loopback (proxies are never used for loopback), if it has one. */
export function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const address of list ?? [])
      if (address.family === 'IPv4' && !address.internal) return address.address
  return undefined
}

/** Forwards TCP connections from `host` (a port of its own) to 127.0.0.1:`port`. */
export async function startTcpForwarder(
  host: string,
  port: number,
): Promise<{ host: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createNetServer((client) => {
    const upstream = connect(port, '127.0.0.1')
    client.pipe(upstream)
    upstream.pipe(client)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  return {
    host: `${host}:${(server.address() as { port: number }).port}`,
    async stop() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
