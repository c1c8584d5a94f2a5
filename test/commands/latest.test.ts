import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { runCli } from '../support/cli.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const COSIGN = `sha256-${'b'.repeat(64)}.sig`
const FIXTURE_BIN = fileURLToPath(new URL('../fixtures/bin', import.meta.url))

function assertNoStack(text: string) {
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'no stack trace without --debug')
}

describe('kubectl images latest', () => {
  let open: TestRegistry
  let basic: TestRegistry
  let token: TestRegistry
  let appDigest: string
  let dir: string
  before(async () => {
    ;[open, basic, token] = await Promise.all([
      startRegistry({ auth: 'none' }),
      startRegistry({ auth: 'htpasswd', users: { dave: 'dave-password-42' } }),
      startRegistry({ auth: 'token', users: { erin: 'erin-password-77' } }),
    ])
    await open.pushTags('team/app', [
      '1.2.0',
      '1.9.0',
      '1.25-alpine',
      '1.27-alpine',
      '1.28',
      'latest',
      COSIGN,
      '9.0.0',
    ])
    appDigest = (await open.push('team/app', '1.10.0', { platforms: ['linux/amd64', 'linux/arm64'] })).digest
    await basic.pushTags('secret/app', ['0.1.0', '0.2.0'])
    await token.pushTags('tok/app', ['3.0.0', '3.1.0'])
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-latest-'))
  })
  after(async () => {
    await Promise.all([open.stop(), basic.stop(), token.stop(), rm(dir, { recursive: true, force: true })])
  })

  test('prints a table with the newest tag that keeps the shape of the given one', async () => {
    const run = await runCli([
      'latest',
      '--insecure',
      `${open.host}/team/app:1.2.0`,
      `${open.host}/team/app:1.25-alpine`,
    ])
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^IMAGE\s+POLICY\s+LATEST$/)
    assert.match(lines[1]!, /team\/app:1\.2\.0\s+auto.*\s+9\.0\.0$/)
    assert.match(lines[2]!, /team\/app:1\.25-alpine\s+auto.*\s+1\.27-alpine$/)
  })

  test('-o json is a versioned document; --all ranks newest first; --digest gives the index digest', async () => {
    const run = await runCli([
      'latest',
      '--insecure',
      `${open.host}/team/app`,
      '--policy',
      "semver('>=1.0.0 <2')",
      '--all',
      '--digest',
      '-o',
      'json',
    ])
    assert.equal(run.code, 0, run.stderr)
    const doc = JSON.parse(run.stdout)
    assert.equal(doc.apiVersion, 'kubectl-images.io/v1alpha1')
    assert.equal(doc.kind, 'LatestList')
    const [item] = doc.items
    assert.equal(item.repository, `${open.host}/team/app`)
    assert.equal(item.latest, '1.10.0')
    assert.deepEqual(item.tags, ['1.10.0', '1.9.0', '1.2.0'])
    assert.equal(item.digest, appDigest)
    assert.equal(item.latestImage, `${open.host}/team/app:1.10.0`)
  })

  test('-o name prints image references for shells; exclusions drop cosign tags and --exclude patterns', async () => {
    const run = await runCli([
      'latest',
      '--insecure',
      `${open.host}/team/app:1.0.0`,
      '--policy',
      "regex('.*')",
      '--exclude',
      '^9\\.',
      '--exclude',
      'latest',
      '--all',
      '-o',
      'name',
    ])
    assert.equal(run.code, 0, run.stderr)
    const names = run.stdout.trim().split('\n')
    assert.ok(!names.some((name) => name.includes(COSIGN)), 'cosign signature tags are excluded by default')
    assert.ok(!names.some((name) => name.endsWith(':9.0.0') || name.endsWith(':latest')))
    assert.equal(names[0], `${open.host}/team/app:1.28`)
  })

  test('a malformed reference fails its own row, the others still resolve, exit code 1', async () => {
    const run = await runCli([
      'latest',
      '--insecure',
      'Foo/Bar:1',
      `${open.host}/team/app:1.2.0`,
      '-o',
      'json',
    ])
    assert.equal(run.code, 1)
    const doc = JSON.parse(run.stdout)
    assert.match(doc.items[0].error, /invalid image reference "Foo\/Bar:1": .*must be lowercase/)
    assert.equal(doc.items[1].latest, '9.0.0')
    assert.match(run.stderr, /^error: invalid image reference/m)
    assertNoStack(run.stderr)
  })

  test('a policy that matches no tag is a per-image error', async () => {
    const run = await runCli(['latest', '--insecure', `${open.host}/team/app`, '--policy', "prefix('nope-')"])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /error: no tag of .*team\/app matches policy prefix/)
  })

  test('a malformed policy is a usage error pointing at the column', async () => {
    const run = await runCli(['latest', `${open.host}/team/app`, '--policy', "prefix('x'"])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^error: invalid policy "prefix\('x'" at column \d+: /)
    assert.equal(run.stderr.trim().split('\n').length, 1)
    assert.equal(run.stdout, '')
  })

  test('an unreachable registry is one line per image and exit code 1, no stack', async () => {
    const run = await runCli(['latest', '--insecure', '--retries', '0', '127.0.0.1:9/x/y:1.0.0'])
    assert.equal(run.code, 1)
    assert.match(run.stdout, /error: connection to 127\.0\.0\.1:9 refused/)
    assertNoStack(run.stdout + run.stderr)
  })

  test('credentials from KUBECTL_IMAGES_REGISTRY_* variables; a wrong password is reported without it', async () => {
    const env = {
      KUBECTL_IMAGES_REGISTRY_1_HOST: basic.host,
      KUBECTL_IMAGES_REGISTRY_1_USERNAME: 'dave',
      KUBECTL_IMAGES_REGISTRY_1_PASSWORD: 'dave-password-42',
      KUBECTL_IMAGES_REGISTRY_1_INSECURE: 'true',
      DOCKER_CONFIG: dir,
    }
    const ok = await runCli(['latest', `${basic.host}/secret/app`, '-o', 'name'], { env })
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.trim(), `${basic.host}/secret/app:0.2.0`)
    const bad = await runCli(['latest', `${basic.host}/secret/app`, '--debug'], {
      env: { ...env, KUBECTL_IMAGES_REGISTRY_1_PASSWORD: 'wrong-secret-99' },
    })
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /rejected the credentials/)
    assert.doesNotMatch(bad.stdout + bad.stderr, /wrong-secret-99|dave-password-42/)
  })

  test('credentials from a docker config credential helper against a token registry', async () => {
    const credsFile = join(dir, 'helper-creds.json')
    // The fake helper reads one `"<server>": {...}` entry per line.
    await writeFile(credsFile, `{\n"${token.host}": {"Username": "erin", "Secret": "erin-password-77"}\n}\n`)
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credHelpers: { [token.host]: 'kit-test' } }))
    await chmod(join(FIXTURE_BIN, 'docker-credential-kit-test'), 0o755)
    const env = {
      DOCKER_CONFIG: dir,
      KIT_TEST_CREDS_FILE: credsFile,
      PATH: `${FIXTURE_BIN}:${process.env.PATH}`,
    }
    const run = await runCli(['latest', '--insecure', `${token.host}/tok/app:3.0.0`, '-o', 'name'], { env })
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout.trim(), `${token.host}/tok/app:3.1.0`)
    assert.doesNotMatch(run.stdout + run.stderr, /erin-password-77/)
  })

  test('runs as a kubectl plugin through kubectl plugin discovery', {
    skip: !existsSync('/usr/bin/kubectl'),
  }, async () => {
    const pluginDir = join(dir, 'plugins')
    await rm(pluginDir, { recursive: true, force: true })
    await mkdir(pluginDir)
    await symlink(
      fileURLToPath(new URL('../../bin/kubectl-images', import.meta.url)),
      join(pluginDir, 'kubectl-images'),
    )
    const { stdout } = await promisify(execFile)(
      '/usr/bin/kubectl',
      ['images', 'latest', '--insecure', `${open.host}/team/app:1.25-alpine`, '-o', 'name'],
      { env: { ...process.env, PATH: `${pluginDir}:${process.env.PATH}`, HOME: dir }, timeout: 30_000 },
    )
    assert.equal(stdout.trim(), `${open.host}/team/app:1.27-alpine`)
  })
})
