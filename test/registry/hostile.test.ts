// Registries and hosts that misbehave in ways the reference registry cannot show: small HTTP servers that answer
// exactly the case under test.
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { test } from 'node:test'
import { parseTimeout } from '../../src/cli/base.ts'
import { RegistryClient, type RegistryCredentials } from '../../src/registry/client.ts'
import { rejection } from '../support/assertions.ts'
import { CertFactory } from '../support/certs.ts'
import { closeServer, listen, makeTempDir } from '../support/lifecycle.ts'

type Handler = (req: IncomingMessage, res: ServerResponse, port: number) => void

/** A plain HTTP server on 127.0.0.1 that records what it was sent. */
async function serve(handler: Handler): Promise<{ port: number; seen: IncomingMessage[]; server: Server }> {
  const seen: IncomingMessage[] = []
  let port = 0
  const server = createServer((req, res) => {
    seen.push(req)
    handler(req, res, port)
  })
  port = await listen(server, '127.0.0.1')
  return { port, seen, server }
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function client(credentials?: RegistryCredentials, http: object = {}): RegistryClient {
  return new RegistryClient({
    access: async () => ({
      insecure: true,
      skipTlsVerify: false,
      source: 'test config',
      ...(credentials ? { credentials } : {}),
    }),
    http: { retries: 0, backoffMs: 10, ...http },
  })
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

test('a host the registry redirects to cannot collect its credentials with a challenge of its own', async () => {
  const other = await serve((req, res, port) => {
    if (req.url?.startsWith('/token')) return json(res, { token: 'theirs' })
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="x"` })
    res.end()
  })
  const registry = await serve((req, res) => {
    if (req.headers.authorization !== basic('alice', 's3cret')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' })
      return res.end()
    }
    if (req.url?.includes('/manifests/')) {
      res.writeHead(307, { location: `http://localhost:${other.port}${req.url}` })
      return res.end()
    }
    json(res, { name: 'team/other', tags: ['1.0.0'] })
  })
  const c = client({ username: 'alice', password: 's3cret' })
  try {
    const domain = `127.0.0.1:${registry.port}`
    const error = await rejection(c.resolveDigest({ domain, path: 'team/app' }, '1.0'))
    assert.equal(error.kind, 'unauthorized')
    // The registry's own challenge still holds for its next repository.
    assert.deepEqual(await c.listTags({ domain, path: 'team/other' }), ['1.0.0'])
    assert.ok(other.seen.length > 0, 'the redirect was followed')
    assert.ok(
      other.seen.every((req) => req.headers.authorization === undefined && !req.url?.startsWith('/token')),
      'no credentials and no token request went to the other host',
    )
  } finally {
    await c.close()
    await closeServer(registry.server)
    await closeServer(other.server)
  }
})

test("the run's deadline bounds the first check of a registry, whatever Retry-After says", async () => {
  const registry = await serve((_req, res) => {
    res.writeHead(503, { 'retry-after': '2' })
    res.end()
  })
  const c = client(undefined, { retries: 3 })
  try {
    const start = Date.now()
    const error = await rejection(
      c.listTags({ domain: `127.0.0.1:${registry.port}`, path: 'a/b' }, AbortSignal.timeout(300)),
    )
    assert.equal(error.kind, 'timeout')
    assert.ok(Date.now() - start < 1500, `took ${Date.now() - start} ms`)
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('a next-page Link back to a page already read stops the listing at once', async () => {
  const registry = await serve((req, res) => {
    if (req.url === '/v2/') return json(res, {})
    json(res, { name: 'a/b', tags: ['a', 'b'] }, { link: '</v2/a/b/tags/list?n=2&last=b>; rel="next"' })
  })
  const c = client()
  try {
    const error = await rejection(c.listTags({ domain: `127.0.0.1:${registry.port}`, path: 'a/b' }))
    assert.equal(error.kind, 'protocol')
    assert.match(error.message, /back to a page already read/)
    assert.equal(c.stats.tagListRequests, 2)
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('an identity token falls back to the GET token flow when the token server has no OAuth2 POST', async () => {
  const registry = await serve((req, res, port) => {
    if (req.url?.startsWith('/token')) {
      if (req.method === 'POST') {
        res.writeHead(404)
        return res.end('404 page not found')
      }
      return json(res, { token: 'granted' })
    }
    if (req.headers.authorization !== 'Bearer granted') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="s"` })
      return res.end()
    }
    json(res, { name: 'a/b', tags: ['1.0.0'] })
  })
  const c = client({ identityToken: 'refresh-me' })
  try {
    assert.deepEqual(await c.listTags({ domain: `127.0.0.1:${registry.port}`, path: 'a/b' }), ['1.0.0'])
    const tokenRequests = registry.seen.filter((req) => req.url?.startsWith('/token'))
    assert.deepEqual(
      tokenRequests.map((req) => req.method),
      ['POST', 'GET'],
    )
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('a credential that cannot be sent is one error, not retried, and not shown', async () => {
  const registry = await serve((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1/token"' })
    res.end()
  })
  const c = client({ registryToken: 'token-secret\r\nX-Injected: 1' }, { retries: 3, backoffMs: 500 })
  try {
    const start = Date.now()
    const error = await rejection(c.listTags({ domain: `127.0.0.1:${registry.port}`, path: 'a/b' }))
    assert.equal(error.kind, 'config')
    assert.match(error.message, /^cannot send a request to 127\.0\.0\.1:\d+: .+; check the credentials/)
    assert.doesNotMatch(error.message, /secret/)
    assert.ok(Date.now() - start < 400, 'no backoff')
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('credentials for one repository are remembered without contacting its registry', async () => {
  const registry = await serve((_req, res) => json(res, {}))
  const port = registry.port
  await closeServer(registry.server)
  const c = client()
  try {
    // Nothing listens there any more: this must neither throw nor wait.
    c.useCredentials({ domain: `127.0.0.1:${port}`, path: 'a/b' }, { username: 'u', password: 'p' }, 'secret')
    const error = await rejection(c.listTags({ domain: `127.0.0.1:${port}`, path: 'a/b' }))
    assert.equal(error.kind, 'network')
  } finally {
    await c.close()
  }
})

test('timeouts take 1ms to 596h', () => {
  assert.equal(parseTimeout('30s', 'timeout'), 30_000)
  assert.equal(parseTimeout('596h', 'timeout'), 596 * 3_600_000)
  assert.throws(() => parseTimeout('0s', 'timeout'), /--timeout must be between 1ms and 596h \(got "0s"\)/)
  assert.throws(() => parseTimeout('600h', 'request-timeout'), /--request-timeout must be between/)
  assert.throws(() => parseTimeout('soon', 'timeout'), /takes a duration/)
})

test('a token server that refuses a whole batch for one scope: each repository then asks alone', async () => {
  const registry = await serve((req, res, port) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/token') {
      const scopes = url.searchParams.getAll('scope')
      // Like Harbor or GitLab: one scope the account may not pull fails the request.
      if (scopes.some((s) => s.includes('locked/'))) {
        res.writeHead(401)
        return res.end()
      }
      return json(res, { token: scopes.join(' ') })
    }
    const repo = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname)?.[1]
    if (repo && (req.headers.authorization ?? '').includes(`repository:${repo}:pull`))
      return json(res, { name: repo, tags: ['1.0.0'] })
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="s"` })
    res.end()
  })
  const c = client({ username: 'u', password: 'p' })
  try {
    const domain = `127.0.0.1:${registry.port}`
    await c.expect([
      { domain, path: 'team/app' },
      { domain, path: 'locked/app' },
    ])
    assert.deepEqual(await c.listTags({ domain, path: 'team/app' }), ['1.0.0'])
    const error = await rejection(c.listTags({ domain, path: 'locked/app' }))
    assert.equal(error.kind, 'unauthorized')
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('a relative next-page Link is read against the URL that answered, after a redirect', async () => {
  const registry = await serve((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/v2/') return json(res, {})
    if (url.pathname === '/v2/a/b/tags/list' && !url.searchParams.has('last')) {
      res.writeHead(307, { location: `/mirror/v2/a/b/tags/list${url.search}` })
      return res.end()
    }
    if (url.pathname === '/mirror/v2/a/b/tags/list') {
      if (url.searchParams.get('last') === 'b') return json(res, { name: 'a/b', tags: ['c'] })
      return json(res, { name: 'a/b', tags: ['a', 'b'] }, { link: '<list?last=b&n=2>; rel="next"' })
    }
    res.writeHead(404)
    res.end()
  })
  const c = client()
  try {
    assert.deepEqual(await c.listTags({ domain: `127.0.0.1:${registry.port}`, path: 'a/b' }), ['a', 'b', 'c'])
  } finally {
    await c.close()
    await closeServer(registry.server)
  }
})

test('credentials withheld from a plain-HTTP token realm on another host: the error says so', async () => {
  const tokens = await serve((_req, res) => {
    res.writeHead(401)
    res.end()
  })
  // An HTTPS registry (self-signed, verification skipped) whose realm is plain HTTP elsewhere.
  const dir = await makeTempDir('hostile-tls')
  const cert = await (await CertFactory.create(dir.path, 1)).issue('/CN=127.0.0.1', 'server_ext')
  const registry = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${tokens.port}/token"` })
    res.end()
  })
  const port = await listen(registry, '127.0.0.1')
  const c = new RegistryClient({
    access: async () => ({
      insecure: false,
      skipTlsVerify: true,
      source: 'docker config auths',
      credentials: { username: 'u', password: 'hunter2' },
    }),
    http: { retries: 0 },
  })
  try {
    const error = await rejection(c.listTags({ domain: `127.0.0.1:${port}`, path: 'a/b' }))
    assert.equal(error.kind, 'unauthorized')
    assert.match(
      error.message,
      /^the token server for 127\.0\.0\.1:\d+ refused a request without credentials: the credentials from docker config auths are not sent to its plain-HTTP realm on another host \(localhost:\d+\)/,
    )
    assert.ok(tokens.seen.every((req) => req.headers.authorization === undefined))
  } finally {
    await c.close()
    await closeServer(registry)
    await closeServer(tokens.server)
    await dir.remove()
  }
})
