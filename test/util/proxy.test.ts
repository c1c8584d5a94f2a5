// The proxy decision (Go's ProxyFromEnvironment): which variables, NO_PROXY forms, never for this machine.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { proxyFor, proxyFromEnv } from '../../src/util/proxy.ts'

test('variables are read as Go reads them: upper case first, none without a proxy', () => {
  assert.deepEqual(proxyFromEnv({ HTTPS_PROXY: 'http://a:1', https_proxy: 'http://b:2', no_proxy: 'x' }), {
    httpsProxy: 'http://a:1',
    noProxy: 'x',
  })
  assert.deepEqual(proxyFromEnv({ http_proxy: 'http://c:3' }), { httpProxy: 'http://c:3' })
  assert.equal(proxyFromEnv({ NO_PROXY: '*' }), undefined)
  assert.equal(proxyFromEnv({}), undefined)
})

test('https goes through HTTPS_PROXY, http through HTTP_PROXY; this machine never', () => {
  const s = { httpProxy: 'http://p:3128', httpsProxy: 'http://s:3128' }
  assert.equal(proxyFor('https://registry.example.com/v2/', s), 'http://s:3128')
  assert.equal(proxyFor('http://registry.example.com:5000/v2/', s), 'http://p:3128')
  assert.equal(proxyFor('https://example.com', { httpProxy: 'http://p:3128' }), undefined, 'no fallback')
  for (const local of [
    'https://localhost:6443',
    'https://127.0.0.1:6443',
    'https://127.3.2.1',
    'https://[::1]:6443',
  ])
    assert.equal(proxyFor(local, s), undefined, local)
  assert.equal(proxyFor('not a url', s), undefined)
  assert.equal(proxyFor('https://example.com', undefined), undefined)
})

test('NO_PROXY: *, domains with subdomains, .domain for subdomains only, IPs, CIDRs, ports', () => {
  const via = (url: string, noProxy: string) =>
    proxyFor(url, { httpsProxy: 'http://p:1', noProxy }) !== undefined
  assert.equal(via('https://a.example.com', '*'), false)
  assert.equal(via('https://example.com', 'example.com'), false)
  assert.equal(via('https://a.example.com', 'example.com'), false)
  assert.equal(via('https://notexample.com', 'example.com'), true)
  assert.equal(via('https://example.com', '.example.com'), true, '.domain: subdomains only')
  assert.equal(via('https://a.example.com', '.example.com'), false)
  assert.equal(via('https://a.example.com', '*.example.com'), false)
  assert.equal(via('https://10.1.2.3:6443', '10.0.0.0/8'), false)
  assert.equal(via('https://11.1.2.3:6443', '10.0.0.0/8'), true)
  assert.equal(via('https://10.1.2.3', '10.1.2.3'), false)
  assert.equal(via('https://example.com:8443', 'example.com:443'), true)
  assert.equal(via('https://example.com', 'example.com:443'), false)
  assert.equal(via('https://[fd00::2]:6443', 'fd00::2'), false)
  assert.equal(via('https://example.com', ' , other.com '), true)
})
