import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import { rejection } from '../support/assertions.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const fast = { retries: 2, backoffMs: 20, requestTimeoutMs: 5000 }

function accessFor(credentials?: RegistryAccess['credentials']) {
  return async (): Promise<RegistryAccess> => ({
    insecure: true,
    skipTlsVerify: false,
    source: 'test credentials',
    ...(credentials ? { credentials } : {}),
  })
}

describe('registry client against an anonymous registry', () => {
  let registry: TestRegistry
  const cosign = `sha256-${'a'.repeat(64)}.sig`
  before(async () => {
    registry = await startRegistry({ auth: 'none' })
    await registry.pushTags('team/app', ['1.10.0', '1.2.0', '1.9.0', 'latest', cosign])
  })
  after(() => registry.stop())

  test('lists every tag, sorted by us rather than in registry order', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const tags = await client.listTags({ domain: registry.host, path: 'team/app' })
    assert.deepEqual(tags, ['1.10.0', '1.2.0', '1.9.0', 'latest', cosign])
    await client.close()
  })

  test('asks the registry once per repository and run', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const repo = { domain: registry.host, path: 'team/app' }
    await Promise.all([client.listTags(repo), client.listTags(repo), client.listTags(repo)])
    assert.equal(client.stats.tagListRequests, 1)
    await client.close()
  })

  test('resolves the index digest of a multi-arch tag', async () => {
    const pushed = await registry.push('team/multi', 'v2.0.0', { platforms: ['linux/amd64', 'linux/arm64'] })
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const resolved = await client.resolveDigest({ domain: registry.host, path: 'team/multi' }, 'v2.0.0')
    assert.equal(resolved.digest, pushed.digest)
    assert.equal(resolved.mediaType, 'application/vnd.oci.image.index.v1+json')
    const docker = await registry.push('team/multi', 'docker', { mediaType: 'docker' })
    const single = await client.resolveDigest({ domain: registry.host, path: 'team/multi' }, 'docker')
    assert.equal(single.digest, docker.digest)
    await client.close()
  })

  test('names a missing repository and a missing tag', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const repoError = await rejection(client.listTags({ domain: registry.host, path: 'nope/missing' }))
    assert.equal(repoError.kind, 'not-found')
    assert.match(repoError.message, /repository .*nope\/missing not found/)
    const tagError = await rejection(
      client.resolveDigest({ domain: registry.host, path: 'team/app' }, '9.9.9'),
    )
    assert.equal(tagError.kind, 'not-found')
    assert.match(tagError.message, /tag or digest .*team\/app:9\.9\.9 not found/)
    await client.close()
  })

  test('reports a registry that is not there as a network error, quickly', async () => {
    const client = new RegistryClient({ access: accessFor(), http: { ...fast, retries: 0 } })
    const error = await rejection(client.listTags({ domain: '127.0.0.1:1', path: 'x/y' }))
    assert.equal(error.kind, 'network')
    assert.match(error.message, /127\.0\.0\.1:1/)
    await client.close()
  })
})

describe('registry client with htpasswd basic auth', () => {
  let registry: TestRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd', users: { alice: 's3cret-pass' } })
    await registry.pushTags('private/app', ['1.0.0', '1.1.0'])
  })
  after(() => registry.stop())

  test('sends the credentials and lists tags', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'alice', password: 's3cret-pass' }),
      http: fast,
    })
    assert.deepEqual(await client.listTags({ domain: registry.host, path: 'private/app' }), [
      '1.0.0',
      '1.1.0',
    ])
    await client.close()
  })

  test('without credentials says authentication is required', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const error = await rejection(client.listTags({ domain: registry.host, path: 'private/app' }))
    assert.equal(error.kind, 'unauthorized')
    assert.match(error.message, /requires authentication and no credentials were found/)
    await client.close()
  })

  test('with a wrong password says whose credentials failed, never the secret', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'alice', password: 'wrong-pw-123' }),
      http: fast,
    })
    const error = await rejection(client.listTags({ domain: registry.host, path: 'private/app' }))
    assert.equal(error.kind, 'unauthorized')
    assert.match(error.message, /rejected the credentials from test credentials/)
    assert.doesNotMatch(error.message, /wrong-pw-123|alice/)
    await client.close()
  })
})

describe('registry client with token auth', () => {
  let registry: TestRegistry
  before(async () => {
    registry = await startRegistry({ auth: 'token', users: { bob: 'token-pass' }, anonymousPull: false })
    await registry.pushTags('org/one', ['1.0.0', '2.0.0'])
    await registry.pushTags('org/two', ['0.1.0'])
    await registry.pushTags('org/three', ['3.0.0'])
  })
  after(() => registry.stop())

  test('fetches one token for several expected repositories and reuses it', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'bob', password: 'token-pass' }),
      http: fast,
    })
    const repos = ['org/one', 'org/two', 'org/three'].map((path) => ({ domain: registry.host, path }))
    registry.tokenServer!.clear()
    await client.expect(repos)
    const lists = await Promise.all(repos.map((repo) => client.listTags(repo)))
    assert.deepEqual(lists, [['1.0.0', '2.0.0'], ['0.1.0'], ['3.0.0']])
    const requests = registry.tokenServer!.requests.filter((r) => r.path.startsWith('/token'))
    assert.equal(requests.length, 1, 'one token request covers the three scopes')
    assert.deepEqual([...requests[0]!.scopes].sort(), [
      'repository:org/one:pull',
      'repository:org/three:pull',
      'repository:org/two:pull',
    ])
    assert.equal(requests[0]!.authScheme, 'Basic')
    await client.resolveDigest(repos[0]!, '2.0.0')
    assert.equal(registry.tokenServer!.requests.length, 1, 'the cached token serves the manifest request too')
    await client.close()
  })

  test('anonymous access to a private repository is refused with a clear message', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const error = await rejection(client.listTags({ domain: registry.host, path: 'org/one' }))
    assert.equal(error.kind, 'unauthorized')
    assert.match(error.message, /anonymous request|requires authentication/)
    await client.close()
  })

  test('bad credentials are reported by the token server check, without the secret', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'bob', password: 'nope-nope' }),
      http: fast,
    })
    const error = await rejection(client.listTags({ domain: registry.host, path: 'org/one' }))
    assert.equal(error.kind, 'unauthorized')
    assert.doesNotMatch(error.message, /nope-nope/)
    await client.close()
  })

  test('renews a token the registry rejects', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'bob', password: 'token-pass' }),
      http: fast,
    })
    registry.tokenServer!.settings.issueExpired = true
    const repo = { domain: registry.host, path: 'org/two' }
    const error = await rejection(client.listTags(repo))
    assert.equal(error.kind, 'unauthorized')
    registry.tokenServer!.settings.issueExpired = false
    assert.deepEqual(await client.listTags(repo), ['0.1.0'])
    await client.close()
  })
})

describe('registry client with credentials for one repository', () => {
  let registry: TestRegistry
  before(async () => {
    registry = await startRegistry({
      auth: 'token',
      users: { admin: 'admin-pass', team: 'team-pass', other: 'other-pass' },
      // admin pushes; the others may read only their own namespace, as pull secrets per repository would.
      tokenAcl: (req) =>
        req.user === 'admin' || (req.user && req.name.startsWith(`${req.user}/`)) ? req.actions : [],
    })
    await registry.pushTags('team/app', ['1.0.0'])
    await registry.pushTags('other/app', ['2.0.0'])
  })
  after(() => registry.stop())

  test('uses per-repository credentials beside the registry-wide ones', async () => {
    const client = new RegistryClient({
      access: accessFor({ username: 'team', password: 'team-pass' }),
      http: fast,
    })
    const other = { domain: registry.host, path: 'other/app' }
    client.useCredentials(other, { username: 'other', password: 'other-pass' }, 'pull secret shop/other')
    await client.expect([{ domain: registry.host, path: 'team/app' }, other])
    assert.deepEqual(await client.listTags({ domain: registry.host, path: 'team/app' }), ['1.0.0'])
    assert.deepEqual(await client.listTags(other), ['2.0.0'])
    await client.close()
  })

  test('names the pull secret whose credentials failed', async () => {
    const client = new RegistryClient({ access: accessFor(), http: fast })
    const other = { domain: registry.host, path: 'other/app' }
    client.useCredentials(other, { username: 'other', password: 'bad' }, 'pull secret shop/other')
    const error = await rejection(client.listTags(other))
    assert.match(error.message, /pull secret shop\/other/)
    await client.close()
  })
})
