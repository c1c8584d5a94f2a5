// Bearer token flows of the registry client against the real registry and the docker token-spec server: anonymous
// tokens, OAuth2 refresh tokens (docker `identitytoken`), ready tokens (`registrytoken`), token lifetime, and the
// manifest digest fallback when HEAD carries no Docker-Content-Digest.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import { rejection } from '../support/assertions.ts'
import { startFaultProxy } from '../support/proxy.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'
import type { TokenServer } from '../support/token-server.ts'

const fast = { retries: 2, backoffMs: 20, requestTimeoutMs: 5000 }

function accessFor(credentials?: RegistryAccess['credentials']) {
  return async (): Promise<RegistryAccess> => ({
    insecure: true,
    skipTlsVerify: false,
    source: 'test credentials',
    ...(credentials ? { credentials } : {}),
  })
}

describe('registry client bearer tokens', () => {
  let registry: TestRegistry
  let ts: TokenServer
  let multiDigest: string
  const repo = (path: string, domain = registry.host) => ({ domain, path })
  const tokenRequests = () => ts.requests.filter((r) => r.path.startsWith('/token'))

  before(async () => {
    registry = await startRegistry({ auth: 'token', users: { carol: 'carol-pw-31' }, anonymousPull: true })
    ts = registry.tokenServer!
    await Promise.all([
      registry.pushTags('public/one', ['1.0.0', '1.1.0']),
      registry.pushTags('public/two', ['2.0.0']),
      registry.pushTags('public/three', ['3.0.0']),
      registry.pushTags('private/app', ['0.1.0', '0.2.0']),
    ])
    multiDigest = (await registry.push('public/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] }))
      .digest
  })
  after(() => registry?.stop())

  test('anonymous: one token request covers every expected repository and grants pull', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    try {
      const repos = ['public/one', 'public/two', 'public/three'].map((p) => repo(p))
      ts.clear()
      await client.expect(repos)
      const lists = await Promise.all(repos.map((r) => client.listTags(r)))
      assert.deepEqual(lists, [['1.0.0', '1.1.0'], ['2.0.0'], ['3.0.0']])
      await client.resolveDigest(repos[1]!, '2.0.0')
      const requests = tokenRequests()
      assert.equal(requests.length, 1, 'one token request for the three scopes and the manifest')
      const [req] = requests
      assert.equal(req!.method, 'GET')
      assert.equal(req!.authScheme, null, 'anonymous: no Authorization header')
      assert.equal(req!.user, null)
      assert.equal(req!.service, ts.service)
      assert.deepEqual(req!.granted.map((g) => `${g.type}:${g.name}:${g.actions.join(',')}`).sort(), [
        'repository:public/one:pull',
        'repository:public/three:pull',
        'repository:public/two:pull',
      ])
      assert.equal(client.stats.tokenRequests, 1)
    } finally {
      await client.close()
    }
  })

  test('identityToken: the OAuth2 refresh-token POST, no Basic header, then the tags', async () => {
    const refresh = ts.issueRefreshToken('carol')
    const client = new RegistryClient({ access: accessFor({ identityToken: refresh }), http: fast })
    try {
      ts.clear()
      assert.deepEqual(await client.listTags(repo('private/app')), ['0.1.0', '0.2.0'])
      const requests = tokenRequests()
      assert.equal(requests.length, 1)
      const [req] = requests
      assert.equal(req!.method, 'POST')
      assert.equal(req!.grantType, 'refresh_token')
      assert.match(req!.contentType ?? '', /^application\/x-www-form-urlencoded\b/)
      assert.equal(req!.authScheme, null, 'the refresh token travels in the form, not a header')
      assert.equal(req!.service, ts.service)
      assert.ok(req!.clientId, 'a client_id is sent')
      assert.deepEqual(req!.scopes, ['repository:private/app:pull'])
      assert.equal(req!.user, 'carol')
      assert.equal(req!.status, 200)
      assert.doesNotMatch(JSON.stringify(ts.requests), new RegExp(refresh), 'the record holds no secret')
    } finally {
      await client.close()
    }
  })

  test('identityToken the token server does not know: unauthorized, the token never in the message', async () => {
    const bogus = 'kit-refresh-not-issued-by-this-server'
    const client = new RegistryClient({ access: accessFor({ identityToken: bogus }), http: fast })
    try {
      ts.clear()
      const error = await rejection(client.listTags(repo('private/app')))
      assert.equal(error.kind, 'unauthorized')
      assert.match(error.message, /token server .* rejected the credentials from test credentials/)
      assert.ok(!error.message.includes(bogus))
      assert.equal(tokenRequests()[0]?.status, 401)
    } finally {
      await client.close()
    }
  })

  test('registryToken: sent as-is as Bearer, no token-server request', async () => {
    const token = ts.mint('carol', [{ type: 'repository', name: 'private/app', actions: ['pull'] }])
    const client = new RegistryClient({ access: accessFor({ registryToken: token }), http: fast })
    try {
      ts.clear()
      assert.deepEqual(await client.listTags(repo('private/app')), ['0.1.0', '0.2.0'])
      await client.resolveDigest(repo('private/app'), '0.2.0')
      assert.equal(ts.requests.length, 0)
      assert.equal(client.stats.tokenRequests, 0)
    } finally {
      await client.close()
    }
  })

  test('a token without expires_in lives 60 s', async (t) => {
    ts.settings.omitExpiresIn = true
    // Only Date is faked: sockets and timeouts keep real time. The registry accepts the tokens minted "in the
    // future" below, as its leeway for nbf/iat is 60 s.
    const start = Date.now()
    t.mock.timers.enable({ apis: ['Date'], now: start })
    const client = new RegistryClient({ access: accessFor(), http: fast })
    try {
      const one = repo('public/one')
      ts.clear()
      await client.listTags(one)
      assert.equal(tokenRequests().length, 1)
      await client.resolveDigest(one, '1.0.0')
      assert.equal(tokenRequests().length, 1, 'reused right away')
      t.mock.timers.setTime(start + 45_000)
      await client.resolveDigest(one, '1.1.0')
      assert.equal(tokenRequests().length, 1, 'still reused 45 s later')
      t.mock.timers.setTime(start + 55_000)
      await client.resolveDigest(one, '1.1.0')
      assert.equal(tokenRequests().length, 2, 'renewed 55 s later, inside the 10 s renewal margin of 60 s')
      assert.ok(tokenRequests().every((r) => r.status === 200))
    } finally {
      ts.settings.omitExpiresIn = false
      await client.close()
    }
  })

  test('HEAD 200 without Docker-Content-Digest: the digest is the sha256 of the manifest GET', async () => {
    const proxy = await startFaultProxy(registry.url, {
      faults: [{ kind: 'status', match: /\/manifests\//, method: 'HEAD', status: 200, body: '' }],
    })
    const client = new RegistryClient({ access: accessFor(), http: fast })
    try {
      const resolved = await client.resolveDigest(repo('public/multi', proxy.host), 'v1')
      assert.equal(resolved.digest, multiDigest)
      assert.equal(resolved.mediaType, 'application/vnd.oci.image.index.v1+json')
      assert.equal(proxy.count(/\/manifests\/v1$/, 'HEAD'), 1)
      assert.equal(proxy.count(/\/manifests\/v1$/, 'GET'), 1)
      assert.equal(client.stats.manifestRequests, 2)
    } finally {
      await Promise.all([client.close(), proxy.stop()])
    }
  })
})

describe('token server OAuth2 POST (harness)', () => {
  let registry: TestRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'token', users: { dan: 'dan-pw-9' } })
  })
  after(() => registry?.stop())

  const post = async (form: Record<string, string>) => {
    const res = await fetch(registry.tokenServer!.realm, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  test('password grant with access_type=offline gives a refresh token; the refresh grant takes it', async () => {
    const ts = registry.tokenServer!
    const scope = 'repository:x/y:pull repository:x/z:pull,push'
    const common = { service: ts.service, client_id: 'kit-test', scope }
    const bad = await post({ ...common, grant_type: 'password', username: 'dan', password: 'nope' })
    assert.equal(bad.status, 401)
    const pw = await post({
      ...common,
      grant_type: 'password',
      username: 'dan',
      password: 'dan-pw-9',
      access_type: 'offline',
    })
    assert.equal(pw.status, 200)
    assert.equal(typeof pw.body.access_token, 'string')
    assert.equal(pw.body.expires_in, 300)
    assert.equal(pw.body.scope, scope)
    assert.ok(!Number.isNaN(Date.parse(String(pw.body.issued_at))))
    assert.equal(typeof pw.body.refresh_token, 'string')
    const refreshed = await post({
      ...common,
      grant_type: 'refresh_token',
      refresh_token: String(pw.body.refresh_token),
    })
    assert.equal(refreshed.status, 200)
    assert.equal(refreshed.body.refresh_token, pw.body.refresh_token)
    assert.equal((await post({ ...common, grant_type: 'refresh_token', refresh_token: 'x' })).status, 401)
    assert.equal((await post({ ...common, grant_type: 'client_credentials' })).status, 400)
    assert.equal((await post({ scope, grant_type: 'password', username: 'dan', password: 'x' })).status, 400)
    const posts = ts.requests.filter((r) => r.method === 'POST')
    assert.deepEqual(
      posts.map((r) => [r.grantType, r.status, r.user]),
      [
        ['password', 401, null],
        ['password', 200, 'dan'],
        ['refresh_token', 200, 'dan'],
        ['refresh_token', 401, null],
        ['client_credentials', 400, null],
        ['password', 400, null],
      ],
    )
    assert.doesNotMatch(JSON.stringify(ts.requests), /dan-pw-9/)
    assert.doesNotMatch(JSON.stringify(ts.requests), new RegExp(String(pw.body.refresh_token)))

    ts.settings.oauthPost = false
    assert.equal(
      (await post({ ...common, grant_type: 'password', username: 'dan', password: 'x' })).status,
      404,
    )
    ts.settings.oauthPost = true
  })
})
