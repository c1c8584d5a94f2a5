import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseImageReference } from '../../src/reference/index.ts'
import {
  convertToHostname,
  DOCKER_HUB_AUTH_KEY,
  decodeKeyringAuth,
  dockerAuthConfigKey,
  isDefaultRegistryMatch,
  Keyring,
  normalizeKeyringKey,
  parseKeyringConfig,
  urlsMatch,
} from '../../src/registry/keyring.ts'

const vectorsUrl = new URL('../../../shared/reference/vectors/registry.json', import.meta.url)
assert.ok(existsSync(fileURLToPath(vectorsUrl)), `vectors missing at ${fileURLToPath(vectorsUrl)}`)
// biome-ignore lint/suspicious/noExplicitAny: vector JSON is free-form
const V: Record<string, any> = JSON.parse(readFileSync(vectorsUrl, 'utf8'))

type Case = Record<string, unknown>
const cases = (group: string): Case[] => {
  const list = V[group]?.cases as Case[] | undefined
  assert.ok(list && list.length > 0, `vector group ${group} is empty`)
  return list
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')

/** A keyring whose credentials carry their config value as username, so lookups can be compared by name. */
function namedKeyring(config: Record<string, string>): Keyring {
  return new Keyring(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [k, { username: v, password: `${v}-pw` }])),
  )
}

test('k8s_urls_match', () => {
  for (const c of cases('k8s_urls_match')) {
    assert.equal(
      urlsMatch(c.pattern as string, c.image as string),
      c.matches,
      `URLsMatch(${c.pattern}, ${c.image})`,
    )
  }
})

test('k8s_keyring_single_key', () => {
  for (const c of cases('k8s_keyring_single_key')) {
    const what = `${c.test}: key ${c.config_key} image ${c.image}`
    const ring = Keyring.fromDockerConfig({
      auths: { [c.config_key as string]: { email: 'foo@example.com', auth: b64('user:pass') } },
    })
    const found = ring.lookup(c.image as string)
    assert.equal(found.length > 0, c.found, what)
    for (const m of found)
      assert.deepEqual(m.credentials, { username: 'user', password: 'pass', email: 'foo@example.com' })
    if (c.max_credentials !== undefined) assert.ok(found.length <= (c.max_credentials as number), what)
  }
})

test('k8s_is_default_registry_match', () => {
  for (const c of cases('k8s_is_default_registry_match')) {
    assert.equal(isDefaultRegistryMatch(c.image as string), c.matches, `isDefaultRegistryMatch(${c.image})`)
  }
})

for (const group of ['k8s_keyring_lookup_order', 'k8s_issue3797']) {
  test(group, () => {
    const ring = namedKeyring(V[group].config)
    for (const c of cases(group)) {
      const found = ring.lookup(c.image as string)
      assert.equal(found.length > 0, c.found, `${c.image} found`)
      assert.deepEqual(
        found.map((m) => m.credentials.username),
        c.credentials,
        `${c.image} credentials in order`,
      )
    }
  })
}

test('k8s_docs_examples', () => {
  const g = V.k8s_docs_examples
  for (const c of g.pattern_cases as Case[]) {
    assert.equal(urlsMatch(c.pattern as string, c.image as string), c.matches, `${c.pattern} vs ${c.image}`)
  }
  const ring = namedKeyring(Object.fromEntries((g.config_keys as string[]).map((k) => [k, k])))
  for (const c of g.config_cases as Case[]) {
    assert.equal(ring.lookup(c.image as string).length > 0, c.found, `docs example image ${c.image}`)
  }
  // Both `my-registry.example/images` and its subpath apply, the more specific one first.
  const nested = namedKeyring({
    'my-registry.example/images': 'outer',
    'my-registry.example/images/subpath': 'inner',
  })
  assert.deepEqual(
    nested.lookup('my-registry.example/images/subpath/my-image').map((m) => m.credentials.username),
    ['inner', 'outer'],
  )
})

test('k8s_lookup_input: kubelet looks up the normalised repository name', () => {
  assert.ok(String(V.k8s_lookup_input.fact).includes('named.Name()'))
  const repo = parseImageReference('nginx:1.27').name
  assert.equal(repo, 'docker.io/library/nginx')
  // A `docker.io` key matches directly ...
  const direct = namedKeyring({ 'docker.io': 'direct', [DOCKER_HUB_AUTH_KEY]: 'hub' })
  assert.deepEqual(
    direct.lookup(repo).map((m) => m.credentials.username),
    ['direct'],
  )
  // ... the `https://index.docker.io/v1/` key only through the Hub fallback.
  const hub = namedKeyring({ [DOCKER_HUB_AUTH_KEY]: 'hub' })
  assert.deepEqual(
    hub.lookup(repo).map((m) => [m.key, m.credentials.username]),
    [['index.docker.io', 'hub']],
  )
  assert.deepEqual(hub.lookup(parseImageReference('ghcr.io/org/app').name), [])
})

test('docker_cli_convert_to_hostname', () => {
  for (const c of cases('docker_cli_convert_to_hostname')) {
    assert.equal(convertToHostname(c.input as string), c.hostname, `ConvertToHostname(${c.input})`)
  }
})

test('normalizeKeyringKey', () => {
  const rows: [string, string | undefined][] = [
    ['https://quay.io/v1/', 'quay.io'],
    ['https://quay.io/v2/foo', 'quay.io/foo'],
    ['http://registry:5000/', 'registry:5000'],
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['gcr.io/project', 'gcr.io/project'],
    ['*.docker.io/path:1111', '*.docker.io/path:1111'],
    ['bad host', undefined],
    ['host:port/x', undefined],
  ]
  for (const [key, want] of rows) assert.equal(normalizeKeyringKey(key), want, key)
  // Go url.Parse failures are skipped, not fatal.
  const ring = namedKeyring({ 'bad host': 'x', 'ok.example.com': 'y' })
  assert.deepEqual(ring.ignoredKeys, ['bad host'])
  assert.deepEqual(ring.keys, ['ok.example.com'])
})

test('keys are deduplicated and reverse sorted; duplicates keep every credential', () => {
  const ring = new Keyring({
    'https://quay.io/v1/': { username: 'a', password: '' },
    'quay.io': { username: 'b', password: '' },
    'quay.io/coreos': { username: 'c', password: '' },
  })
  assert.deepEqual(ring.keys, ['quay.io/coreos', 'quay.io'])
  assert.deepEqual(
    ring.lookup('quay.io/coreos/etcd').map((m) => m.credentials.username),
    ['c', 'a', 'b'],
  )
})

test('auth field: padded or unpadded base64, wins over username/password, clear error', () => {
  assert.deepEqual(decodeKeyringAuth(b64('u:p')), { username: 'u', password: 'p' })
  assert.deepEqual(decodeKeyringAuth(b64('user:pa:ss').replace(/=+$/, '')), {
    username: 'user',
    password: 'pa:ss',
  })
  assert.deepEqual(decodeKeyringAuth(b64('a:bc')), { username: 'a', password: 'bc' })
  const err = { message: /^unable to parse auth field, must be formatted as base64\(username:password\)$/ }
  assert.throws(() => decodeKeyringAuth(b64('nocolon')), err)
  assert.throws(() => decodeKeyringAuth('not base64!'), err)
  assert.throws(() => decodeKeyringAuth(`${b64('ab:c').replace(/=+$/, '')}=`), err)

  const json = {
    auths: { 'r.example.com': { username: 'ignored', password: 'ignored', auth: b64('real:secret') } },
  }
  assert.deepEqual(parseKeyringConfig(json)['r.example.com'], { username: 'real', password: 'secret' })
  // Legacy .dockercfg is the bare map.
  const legacy = { 'r.example.com': { username: 'u', password: 'p', email: 'e@x' } }
  assert.deepEqual(parseKeyringConfig(legacy)['r.example.com'], {
    username: 'u',
    password: 'p',
    email: 'e@x',
  })
  // Errors name the entry, never the value.
  assert.throws(
    () => parseKeyringConfig({ auths: { 'r.example.com': { auth: 'c2VjcmV0' } } }, 'secret ns/regcred'),
    (e: Error) =>
      e.message ===
        'secret ns/regcred: entry "r.example.com": unable to parse auth field, must be formatted as base64(username:password)' &&
      !e.message.includes('c2VjcmV0'),
  )
  assert.equal(Keyring.fromDockerConfig(JSON.stringify(json)).lookup('r.example.com/app').length, 1)
  assert.throws(() => Keyring.fromDockerConfig('{"auths": {"a": {"auth": "c2VjcmV0"', 'secret x'), {
    message: 'secret x: not valid JSON',
  })
  // A config.json without auths has no entries (not a bare map of its other keys).
  assert.deepEqual(parseKeyringConfig({ auths: {}, credHelpers: { 'gcr.io': 'gcloud' } }), {})
  assert.deepEqual(parseKeyringConfig({ credsStore: 'desktop' }, 'x', 'dockerconfigjson'), {})
})

test('dockerAuthConfigKey', () => {
  assert.equal(dockerAuthConfigKey('docker.io'), 'https://index.docker.io/v1/')
  assert.equal(dockerAuthConfigKey('index.docker.io'), 'https://index.docker.io/v1/')
  assert.equal(dockerAuthConfigKey('registry-1.docker.io'), 'registry-1.docker.io')
  assert.equal(dockerAuthConfigKey('localhost:5000'), 'localhost:5000')
  assert.equal(dockerAuthConfigKey('ghcr.io'), 'ghcr.io')
})
