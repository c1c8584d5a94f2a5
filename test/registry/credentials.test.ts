import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  dockerConfigPath,
  parseEnvRegistrySets,
  type RegistryAccessOptions,
  resolveRegistryAccess,
  runCredentialHelper,
  selectEnvRegistrySet,
} from '../../src/registry/credentials.ts'
import { UserError } from '../../src/util/errors.ts'

const fixturesBin = fileURLToPath(new URL('../fixtures/bin', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'kit-creds-'))
after(() => rmSync(root, { recursive: true, force: true }))

let n = 0
/** A fresh home with an optional ~/.docker/config.json and helper table; returns resolver options. */
function setup(
  config?: unknown,
  helperTable: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): RegistryAccessOptions & { env: NodeJS.ProcessEnv; log: string } {
  const home = join(root, `home${n++}`)
  mkdirSync(join(home, '.docker'), { recursive: true })
  if (config !== undefined) writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify(config))
  const table = join(home, 'helper.json')
  // One entry per line: the fake helper is a sh script and finds its entry with awk.
  const lines = Object.entries(helperTable).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
  writeFileSync(table, `{\n${lines.join(',\n')}\n}\n`)
  const log = join(home, 'helper.log')
  return {
    homedir: home,
    log,
    env: {
      PATH: `${fixturesBin}${delimiter}${process.env.PATH ?? ''}`,
      KIT_TEST_CREDS_FILE: table,
      KIT_TEST_LOG: log,
      ...env,
    },
  }
}
const queried = (log: string): string[] => {
  try {
    return readFileSync(log, 'utf8').trim().split('\n').filter(Boolean)
  } catch {
    return []
  }
}
const b64 = (s: string): string => Buffer.from(s).toString('base64')

test('credHelpers beats credsStore beats auths', async () => {
  const config = {
    auths: { 'localhost:5000': { auth: b64('file-user:file-pass') } },
    credsStore: 'kit-test',
    credHelpers: { 'localhost:5000': 'kit-test' },
  }
  const o = setup(config, { 'localhost:5000': { Username: 'helper-user', Secret: 'helper-pass' } })
  const r = await resolveRegistryAccess('localhost:5000', o)
  assert.deepEqual(r.credentials, { username: 'helper-user', password: 'helper-pass' })
  assert.equal(r.source, 'docker config credHelpers (kit-test)')
  assert.deepEqual(queried(o.log), ['localhost:5000'])

  // credsStore for a host without its own credHelpers entry.
  const o2 = setup(
    { ...config, credHelpers: { 'other.example.com': 'missing-helper' } },
    { 'localhost:5000': { Username: 'store-user', Secret: 'store-pass' } },
  )
  const r2 = await resolveRegistryAccess('localhost:5000', o2)
  assert.equal(r2.source, 'docker config credsStore (kit-test)')
  assert.deepEqual(r2.credentials, { username: 'store-user', password: 'store-pass' })

  // Only auths.
  const o3 = setup({ auths: config.auths })
  const r3 = await resolveRegistryAccess('localhost:5000', o3)
  assert.equal(r3.source, 'docker config auths')
  assert.deepEqual(r3.credentials, { username: 'file-user', password: 'file-pass' })
  assert.equal(r3.insecure, false)
  assert.equal(r3.skipTlsVerify, false)
})

test('a helper "not found" means no credentials, even when auths has some', async () => {
  const o = setup({ auths: { 'ghcr.io': { auth: b64('u:p') } }, credsStore: 'kit-test' })
  const r = await resolveRegistryAccess('ghcr.io', o)
  assert.equal(r.credentials, undefined)
  assert.equal(r.source, 'docker config credsStore (kit-test): not found')
  assert.deepEqual(queried(o.log), ['ghcr.io'])
})

test('no config file, or no entry: anonymous', async () => {
  const r = await resolveRegistryAccess('ghcr.io', setup())
  assert.deepEqual(r, { insecure: false, skipTlsVerify: false, source: 'none' })
  const r2 = await resolveRegistryAccess('ghcr.io', setup({ auths: { 'quay.io': { auth: b64('u:p') } } }))
  assert.equal(r2.credentials, undefined)
})

test('helper answering user <token> gives an identity token', async () => {
  const o = setup(
    { credHelpers: { 'registry.example.com': 'kit-test' } },
    {
      'registry.example.com': { Username: '<token>', Secret: 'refresh-token-value' },
    },
  )
  const r = await resolveRegistryAccess('registry.example.com', o)
  assert.deepEqual(r.credentials, { identityToken: 'refresh-token-value' })
})

test('docker.io uses the https://index.docker.io/v1/ key for helpers and auths', async () => {
  const hub = 'https://index.docker.io/v1/'
  const o = setup(
    { credHelpers: { [hub]: 'kit-test' } },
    { [hub]: { Username: 'hubuser', Secret: 'hubpass' } },
  )
  for (const host of ['docker.io', 'index.docker.io']) {
    const r = await resolveRegistryAccess(host, o)
    assert.deepEqual(r.credentials, { username: 'hubuser', password: 'hubpass' }, host)
  }
  assert.deepEqual(queried(o.log), [hub, hub])
  // A helper keyed by `docker.io` is not consulted (docker matches credHelpers exactly).
  const o2 = setup({ credHelpers: { 'docker.io': 'kit-test' } }, { [hub]: { Username: 'x', Secret: 'y' } })
  assert.equal((await resolveRegistryAccess('docker.io', o2)).credentials, undefined)

  const o3 = setup({ auths: { [hub]: { auth: b64('fileuser:filepass') } } })
  assert.deepEqual((await resolveRegistryAccess('docker.io', o3)).credentials, {
    username: 'fileuser',
    password: 'filepass',
  })
})

test('auths: exact key first, then ConvertToHostname of legacy keys; tokens and NUL padding', async () => {
  const o = setup({
    auths: {
      'https://localhost:5000/v2/': { auth: b64('legacy:pw') },
      'registry.example.com:8443': { username: 'u', password: 'p', identitytoken: 'idt' },
      'tok.example.com': { registrytoken: 'bearer-value' },
      'nul.example.com': { auth: b64('u:pw\u0000\u0000') },
    },
  })
  assert.deepEqual((await resolveRegistryAccess('localhost:5000', o)).credentials, {
    username: 'legacy',
    password: 'pw',
  })
  assert.deepEqual((await resolveRegistryAccess('registry.example.com:8443', o)).credentials, {
    username: 'u',
    password: 'p',
    identityToken: 'idt',
  })
  assert.deepEqual((await resolveRegistryAccess('tok.example.com', o)).credentials, {
    registryToken: 'bearer-value',
  })
  assert.deepEqual((await resolveRegistryAccess('nul.example.com', o)).credentials, {
    username: 'u',
    password: 'pw',
  })
  // Port-bearing hosts only match their own port.
  assert.equal((await resolveRegistryAccess('localhost:5001', o)).credentials, undefined)
  assert.equal((await resolveRegistryAccess('localhost', o)).credentials, undefined)
  assert.equal((await resolveRegistryAccess('registry.example.com', o)).credentials, undefined)
})

test('DOCKER_CONFIG and dockerConfigDir choose the file', async () => {
  const o = setup()
  const dir = join(o.homedir as string, 'elsewhere')
  mkdirSync(dir)
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:b') } } }))
  assert.equal(dockerConfigPath(o), join(o.homedir as string, '.docker', 'config.json'))
  const viaEnv = { ...o, env: { ...o.env, DOCKER_CONFIG: dir } }
  assert.equal(dockerConfigPath(viaEnv), join(dir, 'config.json'))
  assert.deepEqual((await resolveRegistryAccess('ghcr.io', viaEnv)).credentials, {
    username: 'a',
    password: 'b',
  })
  assert.deepEqual((await resolveRegistryAccess('ghcr.io', { ...o, dockerConfigDir: dir })).credentials, {
    username: 'a',
    password: 'b',
  })
})

test('DOCKER_AUTH_CONFIG is consulted before the config file', async () => {
  const o = setup({ auths: { 'ghcr.io': { auth: b64('file:pw') } } })
  o.env.DOCKER_AUTH_CONFIG = JSON.stringify({ auths: { 'ghcr.io': { auth: b64('inline:pw') } } })
  const r = await resolveRegistryAccess('ghcr.io', o)
  assert.equal(r.source, 'env DOCKER_AUTH_CONFIG')
  assert.deepEqual(r.credentials, { username: 'inline', password: 'pw' })
  assert.equal((await resolveRegistryAccess('quay.io', o)).source, 'none')
})

test('env sets beat docker config; exact host beats *; lowest index wins', async () => {
  const o = setup(
    { auths: { 'localhost:5000': { auth: b64('file:pw') } } },
    {},
    {
      KUBECTL_IMAGES_REGISTRY_HOST: '*',
      KUBECTL_IMAGES_REGISTRY_USERNAME: 'wild',
      KUBECTL_IMAGES_REGISTRY_PASSWORD: 'wild-pw',
      KUBECTL_IMAGES_REGISTRY_2_HOST: 'localhost:5000',
      KUBECTL_IMAGES_REGISTRY_2_USERNAME: 'two',
      KUBECTL_IMAGES_REGISTRY_2_PASSWORD: 'two-pw',
      KUBECTL_IMAGES_REGISTRY_01_HOST: 'localhost:5000',
      KUBECTL_IMAGES_REGISTRY_1_USERNAME: 'one',
      KUBECTL_IMAGES_REGISTRY_1_PASSWORD: 'one-pw',
      KUBECTL_IMAGES_REGISTRY_1_INSECURE: 'true',
      KUBECTL_IMAGES_REGISTRY_3_HOST: 'ghcr.io',
      KUBECTL_IMAGES_REGISTRY_3_TOKEN: 'ready-bearer',
      KUBECTL_IMAGES_REGISTRY_3_SKIP_TLS_VERIFY: '1',
      KUBECTL_IMAGES_REGISTRY_3_CA_FILE: '~/ca.pem',
    },
  )
  const r = await resolveRegistryAccess('localhost:5000', o)
  assert.deepEqual(r, {
    credentials: { username: 'one', password: 'one-pw' },
    insecure: true,
    skipTlsVerify: false,
    source: 'env KUBECTL_IMAGES_REGISTRY_01',
  })
  const g = await resolveRegistryAccess('ghcr.io', o)
  assert.deepEqual(g.credentials, { registryToken: 'ready-bearer' })
  assert.equal(g.skipTlsVerify, true)
  assert.equal(g.caFile, join(o.homedir as string, 'ca.pem'))
  assert.equal(g.source, 'env KUBECTL_IMAGES_REGISTRY_3')
  const w = await resolveRegistryAccess('quay.io', o)
  assert.deepEqual(w.credentials, { username: 'wild', password: 'wild-pw' })
  assert.equal(w.source, 'env KUBECTL_IMAGES_REGISTRY')
})

test('an env set without credentials keeps its settings and falls back to docker config', async () => {
  const o = setup(
    { auths: { 'localhost:5000': { auth: b64('file:pw') } } },
    {},
    {
      KUBECTL_IMAGES_REGISTRY_7_HOST: 'localhost:5000',
      KUBECTL_IMAGES_REGISTRY_7_INSECURE: 'T',
      // A set without HOST never matches.
      KUBECTL_IMAGES_REGISTRY_8_USERNAME: 'orphan',
    },
  )
  const r = await resolveRegistryAccess('localhost:5000', o)
  assert.equal(r.insecure, true)
  assert.equal(r.source, 'docker config auths')
  assert.deepEqual(r.credentials, { username: 'file', password: 'pw' })
  assert.deepEqual(parseEnvRegistrySets(o.env).ignored, ['KUBECTL_IMAGES_REGISTRY_8'])
})

test('docker.io sets match every Hub spelling, and only those', () => {
  const { sets } = parseEnvRegistrySets({
    KUBECTL_IMAGES_REGISTRY_1_HOST: 'index.docker.io',
    KUBECTL_IMAGES_REGISTRY_1_USERNAME: 'hub',
    KUBECTL_IMAGES_REGISTRY_2_HOST: 'registry.example.com',
  })
  for (const h of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
    assert.equal(selectEnvRegistrySet(sets, h)?.name, 'KUBECTL_IMAGES_REGISTRY_1', h)
  }
  assert.equal(selectEnvRegistrySet(sets, 'registry.example.com')?.name, 'KUBECTL_IMAGES_REGISTRY_2')
  assert.equal(selectEnvRegistrySet(sets, 'Registry.example.com'), undefined)
  assert.equal(selectEnvRegistrySet(sets, 'registry.example.com:443'), undefined)
  assert.equal(selectEnvRegistrySet(sets, 'mirror.docker.io'), undefined)
})

test('invalid env values are errors naming the variable, never a secret', async () => {
  const secret = 's3cr3t-value'
  const bad: [NodeJS.ProcessEnv, RegExp][] = [
    [
      { KUBECTL_IMAGES_REGISTRY_1_INSECURE: 'yes' },
      /^KUBECTL_IMAGES_REGISTRY_1_INSECURE must be true or false/,
    ],
    [{ KUBECTL_IMAGES_REGISTRY_SKIP_TLS_VERIFY: 'on' }, /^KUBECTL_IMAGES_REGISTRY_SKIP_TLS_VERIFY must be/],
    [
      { KUBECTL_IMAGES_REGISTRY_1_HOST: 'https://ghcr.io' },
      /^KUBECTL_IMAGES_REGISTRY_1_HOST must be \* or a registry/,
    ],
    [{ KUBECTL_IMAGES_REGISTRY_1_PASWORD: secret }, /^unknown variable KUBECTL_IMAGES_REGISTRY_1_PASWORD/],
    [
      { KUBECTL_IMAGES_REGISTRY_1_HOST: 'a.io', KUBECTL_IMAGES_REGISTRY_01_HOST: 'b.io' },
      /^KUBECTL_IMAGES_REGISTRY_01_HOST and KUBECTL_IMAGES_REGISTRY_1_HOST name the same setting/,
    ],
  ]
  for (const [vars, re] of bad) {
    const env = {
      KUBECTL_IMAGES_REGISTRY_1_HOST: 'ghcr.io',
      KUBECTL_IMAGES_REGISTRY_1_PASSWORD: secret,
      KUBECTL_IMAGES_REGISTRY_1_USERNAME: secret,
      ...vars,
    }
    await assert.rejects(resolveRegistryAccess('ghcr.io', { ...setup(), env }), (e: Error) => {
      assert.ok(e instanceof UserError, String(e))
      assert.match(e.message, re)
      assert.ok(!e.message.includes(secret), e.message)
      return true
    })
  }
})

test('helper failures: one clear line naming helper and registry, never its output', async () => {
  const leaked = 'SECRET-IN-STDOUT'
  const o = setup(
    {
      credHelpers: {
        'fail.example.com': 'kit-test',
        'garbage.example.com': 'kit-test',
        'slow.example.com': 'kit-test',
        'gone.example.com': 'no-such-helper-kit',
        'evil.example.com': '../../bin/sh',
      },
    },
    {
      'fail.example.com': { fail: `boom ${leaked}`, exit: 3 },
      'garbage.example.com': { raw: `not json ${leaked}` },
      'slow.example.com': { sleep: '2', Username: 'u', Secret: leaked },
    },
  )
  const expectations: [string, RegExp][] = [
    [
      'fail.example.com',
      /^credential helper docker-credential-kit-test failed \(exit status 3\) for registry fail\.example\.com$/,
    ],
    [
      'garbage.example.com',
      /^credential helper docker-credential-kit-test sent an unreadable answer \(not JSON\) for registry garbage\.example\.com$/,
    ],
    [
      'gone.example.com',
      /^credential helper docker-credential-no-such-helper-kit was not found on PATH.* for registry gone\.example\.com$/,
    ],
    [
      'slow.example.com',
      /^credential helper docker-credential-kit-test timed out after 0\.2 s for registry slow\.example\.com$/,
    ],
    ['evil.example.com', /invalid credential helper "..\/..\/bin\/sh"/],
  ]
  await Promise.all(
    expectations.map(([host, re]) =>
      // Only the slow helper gets a short limit, so a loaded machine cannot time out the others.
      assert.rejects(
        resolveRegistryAccess(host, host.startsWith('slow') ? { ...o, helperTimeoutMs: 200 } : o),
        (e: Error) => {
          assert.ok(e instanceof UserError, String(e))
          assert.match(e.message, re)
          assert.ok(!e.message.includes(leaked) && !e.message.includes('\n'), e.message)
          return true
        },
      ),
    ),
  )
})

test('runCredentialHelper passes the server URL on stdin and reads the answer', async () => {
  const o = setup(undefined, { 'https://index.docker.io/v1/': { Username: 'a', Secret: 'b' } })
  assert.deepEqual(await runCredentialHelper('kit-test', 'https://index.docker.io/v1/', 'docker.io', o), {
    username: 'a',
    password: 'b',
  })
  assert.equal(await runCredentialHelper('kit-test', 'localhost:5000', 'localhost:5000', o), undefined)
  assert.deepEqual(queried(o.log), ['https://index.docker.io/v1/', 'localhost:5000'])
})

test('a broken config file is an error naming the file and not its content', async () => {
  const o = setup()
  const path = join(o.homedir as string, '.docker', 'config.json')
  writeFileSync(path, '{"auths": {"ghcr.io": {"auth": "c2VjcmV0OnNlY3JldA=="}} oops')
  await assert.rejects(resolveRegistryAccess('ghcr.io', o), (e: Error) => {
    assert.equal(e.message, `docker config ${path} is not valid JSON`)
    return true
  })
  writeFileSync(path, JSON.stringify({ auths: { 'ghcr.io': { auth: 'bm9jb2xvbg==' } } }))
  await assert.rejects(resolveRegistryAccess('ghcr.io', o), (e: Error) => {
    assert.match(e.message, /auths entry "ghcr\.io" has an invalid auth field/)
    assert.ok(!e.message.includes('bm9jb2xvbg'))
    return true
  })
  // An empty file is an empty config.
  writeFileSync(path, '')
  assert.equal((await resolveRegistryAccess('ghcr.io', o)).source, 'none')
})

test('an empty credHelpers entry means the auths, not credsStore (as docker)', async () => {
  const o = setup(
    {
      credsStore: 'kit-test',
      credHelpers: { 'ghcr.io': '' },
      auths: { 'ghcr.io': { auth: b64('file-user:file-pass') } },
    },
    { 'ghcr.io': { Username: 'store-user', Secret: 'store-pass' } },
  )
  const r = await resolveRegistryAccess('ghcr.io', o)
  assert.equal(r.source, 'docker config auths')
  assert.deepEqual(r.credentials, { username: 'file-user', password: 'file-pass' })
  assert.deepEqual(queried(o.log), [])
})

test('a user with an empty password is sent as such (a token user)', async () => {
  const o = setup(
    { auths: { 'ghcr.io': { auth: b64('tokenuser:') } } },
    { 'quay.io': { Username: 'u', Secret: '' } },
  )
  assert.deepEqual((await resolveRegistryAccess('ghcr.io', o)).credentials, {
    username: 'tokenuser',
    password: '',
  })
  const viaStore = setup({ credsStore: 'kit-test' }, { 'quay.io': { Username: 'u', Secret: '' } })
  assert.deepEqual((await resolveRegistryAccess('quay.io', viaStore)).credentials, {
    username: 'u',
    password: '',
  })
})

test('an env set with a password but no user name is not credentials: the docker config still counts (as kluctl)', async () => {
  const o = setup(
    { auths: { 'ghcr.io': { auth: b64('file-user:file-pass') } } },
    {},
    {
      KUBECTL_IMAGES_REGISTRY_1_HOST: 'ghcr.io',
      KUBECTL_IMAGES_REGISTRY_1_PASSWORD: 'lonely',
    },
  )
  const r = await resolveRegistryAccess('ghcr.io', o)
  assert.equal(r.source, 'docker config auths')
  assert.deepEqual(r.credentials, { username: 'file-user', password: 'file-pass' })
})
