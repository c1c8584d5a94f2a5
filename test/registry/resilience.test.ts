import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import type { HttpTransport } from '../../src/registry/http.ts'
import { rejection } from '../support/assertions.ts'
import { type EchoHost, type FaultProxy, startEchoHost, startFaultProxy } from '../support/proxy.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

// Faults the reference registry cannot show, injected by a proxy in front of it.
const fast = { retries: 3, backoffMs: 10, requestTimeoutMs: 5000 }
const TAGS = Array.from({ length: 250 }, (_, i) => `1.${Math.floor(i / 10)}.${i % 10}`)

function client(options: { credentials?: RegistryAccess['credentials']; http?: object } = {}) {
  return new RegistryClient({
    access: async () => ({
      insecure: true,
      skipTlsVerify: false,
      source: 'test',
      ...(options.credentials ? { credentials: options.credentials } : {}),
    }),
    http: { ...fast, ...options.http },
  })
}

describe('registry client behind a fault proxy', () => {
  let registry: TestRegistry
  let proxy: FaultProxy
  let echo: EchoHost
  const repo = () => ({ domain: proxy.host, path: 'big/repo' })
  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { carol: 'pw-carol-1' }, storage: 'inmemory' })
    await registry.pushTags('big/repo', TAGS)
    proxy = await startFaultProxy(registry.url)
    echo = await startEchoHost()
  })
  after(async () => {
    await Promise.all([proxy.stop(), echo.stop(), registry.stop()])
  })
  const creds = { username: 'carol', password: 'pw-carol-1' }

  test('follows relative Link pages of shuffled tags to the end', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /tags\/list/, maxPageSize: 100, order: 'shuffled' }])
    proxy.clear()
    const c = client({ credentials: creds })
    const tags = await c.listTags(repo())
    assert.deepEqual(tags, [...TAGS].sort())
    assert.equal(c.stats.tagListRequests, 3)
    await c.close()
  })

  test('reads a tag repeated on two pages once', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /tags\/list/, maxPageSize: 100, inclusiveLast: true }])
    const c = client({ credentials: creds })
    assert.deepEqual(await c.listTags(repo()), [...TAGS].sort())
    assert.equal(c.stats.tagListRequests, 3)
    await c.close()
  })

  test('sorts a single page the registry sent out of order', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /tags\/list/, maxPageSize: 1000, order: 'shuffled' }])
    const c = client({ credentials: creds })
    assert.deepEqual(await c.listTags(repo()), [...TAGS].sort())
    assert.equal(c.stats.tagListRequests, 1)
    await c.close()
  })

  test('does not stop on a short page while a Link remains, and follows absolute Links', async () => {
    proxy.setFaults([
      { kind: 'paginate', match: /tags\/list/, maxPageSize: 60, shortPages: true, link: 'absolute' },
    ])
    const c = client({ credentials: creds })
    assert.deepEqual(await c.listTags(repo()), [...TAGS].sort())
    assert.ok(c.stats.tagListRequests > 5)
    await c.close()
  })

  test('refuses a next-page Link to another host and sends it nothing', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /tags\/list/, maxPageSize: 100, link: { base: echo.url } }])
    echo.clear()
    const c = client({ credentials: creds })
    const error = await rejection(c.listTags(repo()))
    assert.equal(error.kind, 'protocol')
    assert.match(error.message, /next-page link .* to another host/)
    assert.equal(echo.requests.length, 0)
    await c.close()
  })

  test('never forwards credentials on a redirect to another host', async () => {
    proxy.setFaults([
      {
        kind: 'status',
        match: /manifests/,
        status: 307,
        headers: { location: `${echo.url}/v2/big/repo/manifests/1.0.0` },
        body: '',
      },
    ])
    echo.clear()
    const c = client({ credentials: creds })
    await rejection(c.resolveDigest(repo(), '1.0.0'))
    assert.equal(echo.requests.length, 1)
    assert.equal(echo.requests[0]!.authorization.present, false)
    await c.close()
  })

  test('waits out 429 with Retry-After, and caps an absurd one', async () => {
    proxy.setFaults([{ kind: 'status', match: /tags\/list/, status: 429, retryAfter: 1, times: 1 }])
    const c = client({ credentials: creds })
    assert.equal((await c.listTags(repo())).length, TAGS.length)
    await c.close()
    proxy.setFaults([{ kind: 'status', match: /tags\/list/, status: 429, retryAfter: '999999999', times: 2 }])
    const capped = client({ credentials: creds, http: { maxRetryAfterMs: 50 } })
    assert.equal((await capped.listTags(repo())).length, TAGS.length)
    assert.equal(proxy.faultHits()[0], 2)
    await capped.close()
  })

  test('after a 429 the host gets no other request until its Retry-After has passed', async () => {
    proxy.setFaults([{ kind: 'status', match: /tags\/list/, status: 429, retryAfter: 1, times: 1 }])
    proxy.clear()
    const c = client({ credentials: creds })
    const first = c.listTags(repo())
    // Until the client has read the 429 (no request can be held back before it has).
    const transport = (c as unknown as { http: HttpTransport }).http
    while (transport.pausedMs(proxy.host) === 0) await new Promise((r) => setTimeout(r, 5))
    const limited = proxy.requests.find((r) => r.status === 429)!
    // Sent while the host is paused: held back, not sent into the rate limit.
    const others = ['1.0.0', '1.0.1', '1.1.0'].map((tag) => c.resolveDigest(repo(), tag))
    assert.equal((await first).length, TAGS.length)
    for (const { digest } of await Promise.all(others)) assert.match(digest, /^sha256:/)
    const after = proxy.requests.filter((r) => r.at > limited.at)
    assert.ok(after.length >= 4, `${after.length} requests after the 429`)
    for (const r of after)
      assert.ok(r.at - limited.at >= 900, `${r.method} ${r.path} sent ${r.at - limited.at} ms after the 429`)
    await c.close()
  })

  test('retries 503 and resets, then gives up with the status after bounded attempts', async () => {
    proxy.setFaults([
      { kind: 'status', match: /tags\/list/, status: 503, times: 2 },
      { kind: 'reset', match: /manifests/, times: 1 },
    ])
    const c = client({ credentials: creds })
    assert.equal((await c.listTags(repo())).length, TAGS.length)
    assert.match((await c.resolveDigest(repo(), '1.0.0')).digest, /^sha256:[a-f0-9]{64}$/)
    await c.close()
    proxy.setFaults([{ kind: 'status', match: /tags\/list/, status: 503 }])
    proxy.clear()
    const failing = client({ credentials: creds, http: { retries: 2 } })
    const error = await rejection(failing.listTags(repo()))
    assert.equal(error.kind, 'unavailable')
    assert.match(error.message, /HTTP 503 .* after 3 attempts/)
    assert.equal(proxy.count(/tags\/list/), 3)
    await failing.close()
  })

  test('retries a truncated body', async () => {
    proxy.setFaults([{ kind: 'truncate', match: /tags\/list/, times: 1, keepBytes: 20 }])
    const c = client({ credentials: creds })
    assert.equal((await c.listTags(repo())).length, TAGS.length)
    assert.equal(proxy.faultHits()[0], 1)
    await c.close()
  })

  test('times out a slow request, and honours the overall deadline', async () => {
    proxy.setFaults([{ kind: 'delay', match: /tags\/list/, headersMs: 1200 }])
    const slow = client({ credentials: creds, http: { requestTimeoutMs: 200, retries: 0 } })
    const error = await rejection(slow.listTags(repo()))
    assert.equal(error.kind, 'timeout')
    await slow.close()
    const patient = client({ credentials: creds, http: { requestTimeoutMs: 10_000, retries: 0 } })
    const deadline = await rejection(patient.listTags(repo(), AbortSignal.timeout(200)))
    assert.equal(deadline.kind, 'timeout')
    assert.match(deadline.message, /deadline/)
    await patient.close()
    proxy.setFaults([])
  })

  test('a request waiting for a free connection gets its whole timeout once it is sent', async () => {
    const repos = ['queue/r0', 'queue/r1', 'queue/r2', 'queue/r3']
    for (const path of repos) await registry.pushTags(path, ['1.0.0'])
    // One request at a time, each answered after 300 ms: the last waits ~900 ms for its turn, more than the
    // 700 ms a request may take.
    proxy.setFaults([{ kind: 'delay', match: /queue\/.*tags\/list/, headersMs: 300 }])
    const c = client({
      credentials: creds,
      http: { requestTimeoutMs: 700, retries: 0, concurrencyPerHost: 1 },
    })
    try {
      const lists = await Promise.all(repos.map((path) => c.listTags({ domain: proxy.host, path })))
      assert.deepEqual(lists, [['1.0.0'], ['1.0.0'], ['1.0.0'], ['1.0.0']])
    } finally {
      await c.close()
      proxy.setFaults([])
    }
  })

  test('refuses an answer larger than the body limit, and sends no second request for it', async () => {
    proxy.setFaults([])
    proxy.clear()
    const c = client({ credentials: creds, http: { maxBodyBytes: 1000 } })
    const error = await rejection(c.listTags(repo()))
    assert.match(error.message, /^response from 127\.0\.0\.1:\d+ is larger than 1000 bytes$/)
    assert.equal(proxy.count(/tags\/list/), 1)
    await c.close()
  })

  test('reads an unreadable tag list as a protocol error', async () => {
    proxy.setFaults([{ kind: 'status', match: /tags\/list/, status: 200, body: 'not json {' }])
    const c = client({ credentials: creds })
    const error = await rejection(c.listTags(repo()))
    assert.equal(error.kind, 'protocol')
    assert.match(error.message, /unreadable tag list/)
    await c.close()
    proxy.setFaults([])
  })

  test('a host that refuses every attempt fails later requests at once, without connecting again', async () => {
    // A port that is free: nothing listens, so connections are refused.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as { port: number }
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const down = { domain: `127.0.0.1:${port}`, path: 'team/app' }
    const c = client({ http: { retries: 1 } })
    const first = await rejection(c.listTags(down))
    assert.match(first.message, /connection to 127\.0\.0\.1:\d+ refused/)

    // Something listens there now; the client that gave up on the host does not try it again this run.
    const sockets: Socket[] = []
    const listener = createServer((socket) => {
      sockets.push(socket)
      socket.destroy()
    })
    await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve))
    try {
      const again = await rejection(c.listTags({ ...down, path: 'team/other' }))
      assert.equal(again.message, first.message)
      assert.equal(sockets.length, 0)
      const fresh = client({ http: { retries: 0 } })
      await rejection(fresh.listTags(down))
      assert.ok(sockets.length > 0, 'a new client connects')
      await fresh.close()
    } finally {
      await c.close()
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    }
  })
})
