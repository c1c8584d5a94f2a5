// HTTPS registries: trust through --ca-file, the KUBECTL_IMAGES_REGISTRY_<N>_CA_FILE set or
// --insecure-skip-tls-verify, and one-line errors for every way the scheme or the trust can be wrong.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import { rejection } from '../support/assertions.ts'
import { type CliResult, runCli } from '../support/cli.ts'
import { makeTempDir } from '../support/lifecycle.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const fast = { retries: 0, backoffMs: 20, requestTimeoutMs: 5000 }

function access(extra: Partial<RegistryAccess>) {
  return async (): Promise<RegistryAccess> => ({
    insecure: false,
    skipTlsVerify: false,
    source: 'test',
    ...extra,
  })
}

/** The run failed with exactly one `error: ...` line on stderr, nothing on stdout, no stack. Returns the line. */
function oneLineError(run: CliResult): string {
  assert.equal(run.code, 1, `exit code 1 expected; stderr: ${run.stderr}`)
  assert.equal(run.stdout, '')
  assert.match(run.stderr, /^error: [^\n]+\n$/, `one error line expected, got ${JSON.stringify(run.stderr)}`)
  assert.doesNotMatch(run.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace')
  return run.stderr.trimEnd()
}

// The CLI runs are independent processes, so they run side by side to keep the file fast.
describe('registries over HTTPS', { concurrency: true }, () => {
  let secure: TestRegistry
  let other: TestRegistry
  let plain: TestRegistry
  let dockerConfig: Awaited<ReturnType<typeof makeTempDir>>
  let digest: string
  // An empty docker config: no credentials or settings from the machine running the tests.
  const env = () => ({ DOCKER_CONFIG: dockerConfig.path })
  const cli = (images: string[], args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    runCli(['latest', ...images, '-o', 'name', '--retries', '0', ...args], { env: { ...env(), ...extraEnv } })
  const app = (registry: TestRegistry) => `${registry.host}/team/app:1.0.0`

  before(async () => {
    ;[secure, other, plain, dockerConfig] = await Promise.all([
      startRegistry({ tls: true }),
      startRegistry({ tls: true }),
      startRegistry(),
      makeTempDir('tls-docker-config'),
    ])
    await Promise.all([
      secure.pushTags('team/app', ['1.0.0', '1.1.0']),
      other.pushTags('team/app', ['1.0.0', '2.0.0']),
      plain.pushTags('team/app', ['1.0.0', '1.1.0']),
    ])
    digest = (await secure.push('team/app', '1.2.0-rc.1', { platforms: ['linux/amd64', 'linux/arm64'] }))
      .digest
  })
  after(() => Promise.all([secure?.stop(), other?.stop(), plain?.stop(), dockerConfig?.remove()]))

  test('the harness serves https with a CA of its own per registry', () => {
    assert.equal(secure.url, `https://${secure.host}`)
    assert.equal(secure.tls, true)
    assert.ok(secure.caPath?.startsWith(secure.dir))
    assert.notEqual(secure.caPath, other.caPath)
    assert.equal(plain.url, `http://${plain.host}`)
    assert.equal(plain.tls, false)
    assert.equal(plain.caPath, undefined)
  })

  test('without trust in its CA: one TLS error line naming the host and both ways out, exit 1', async () => {
    const line = oneLineError(await cli([app(secure)], []))
    assert.ok(line.includes(`TLS error talking to ${secure.host}`), line)
    assert.match(line, /--ca-file/)
    assert.match(line, /--insecure-skip-tls-verify/)
  })

  test('--ca-file trusts its CA; KUBECTL_IMAGES_REGISTRY_1_HOST with _CA_FILE trusts another for that host', async () => {
    const run = await cli([app(secure), app(other)], ['--ca-file', other.caPath!], {
      KUBECTL_IMAGES_REGISTRY_1_HOST: secure.host,
      KUBECTL_IMAGES_REGISTRY_1_CA_FILE: secure.caPath,
    })
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, `${secure.host}/team/app:1.1.0\n${other.host}/team/app:2.0.0\n`)
  })

  test('--insecure-skip-tls-verify works without the CA', async () => {
    const run = await cli([app(secure)], ['--insecure-skip-tls-verify'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, `${secure.host}/team/app:1.1.0\n`)
  })

  test('--insecure (plain HTTP) against the HTTPS registry: one error line naming the host', async () => {
    const line = oneLineError(await cli([app(secure)], ['--insecure']))
    assert.ok(line.includes(secure.host), line)
    assert.match(line, /speaks HTTPS, not plain HTTP; drop --insecure/)
  })

  test('a plain HTTP registry without --insecure: one line saying it does not speak HTTPS, pass --insecure', async () => {
    const line = oneLineError(await cli([app(plain)], []))
    assert.ok(line.includes(plain.host), line)
    assert.match(line, /does not speak HTTPS/)
    assert.match(line, /--insecure\b(?!-)/)
  })

  test('the client with caFile lists tags and resolves the index digest; without it, kind tls', async () => {
    const repo = { domain: secure.host, path: 'team/app' }
    const trusted = new RegistryClient({ access: access({ caFile: secure.caPath! }), http: fast })
    const untrusted = new RegistryClient({ access: access({}), http: fast })
    try {
      assert.deepEqual(await trusted.listTags(repo), ['1.0.0', '1.1.0', '1.2.0-rc.1'])
      const resolved = await trusted.resolveDigest(repo, '1.2.0-rc.1')
      assert.equal(resolved.digest, digest)
      assert.equal(resolved.mediaType, 'application/vnd.oci.image.index.v1+json')
      const error = await rejection(untrusted.listTags(repo))
      assert.equal(error.kind, 'tls')
      assert.ok(error.message.includes(secure.host), error.message)
      assert.match(error.message, /signed by an unknown authority|self-signed/)
      assert.doesNotMatch(error.message, /Node\.js|\n/)
    } finally {
      await Promise.all([trusted.close(), untrusted.close()])
    }
  })

  test('a caFile that cannot be read: a config error naming the file, on one line', async () => {
    const missing = `${dockerConfig.path}/no-such-ca.pem`
    const client = new RegistryClient({ access: access({ caFile: missing }), http: fast })
    try {
      const error = await rejection(client.listTags({ domain: secure.host, path: 'team/app' }))
      assert.equal(error.kind, 'config')
      assert.ok(error.message.includes(`cannot read CA file ${missing}`), error.message)
      assert.doesNotMatch(error.message, /\n/)
    } finally {
      await client.close()
    }
  })
})
