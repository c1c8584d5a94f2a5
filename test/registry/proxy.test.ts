// Registries behind a forward proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as docker, skopeo and kubectl use them.
// Proxies are never used for this machine, so the registries are reached on a non-loopback address of it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import type { ProxySettings } from '../../src/util/proxy.ts'
import {
  type ConnectProxy,
  needsNonLoopbackAddress,
  nonLoopbackAddress,
  startConnectProxy,
  startTcpForwarder,
} from '../support/proxy.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const address = nonLoopbackAddress()

describe('registries behind a proxy', needsNonLoopbackAddress(), () => {
  let plain: TestRegistry
  let secure: TestRegistry
  let proxy: ConnectProxy
  let plainHost: string
  let secureHost: string
  const stops: Array<() => Promise<void>> = []

  before(async () => {
    ;[plain, secure, proxy] = await Promise.all([
      startRegistry({ storage: 'inmemory' }),
      startRegistry({ tls: true, storage: 'inmemory' }),
      startConnectProxy(),
    ])
    await Promise.all([
      plain.pushTags('team/app', ['1.0.0', '1.1.0']),
      secure.pushTags('team/app', ['2.0.0']),
    ])
    const port = (host: string) => Number(host.slice(host.lastIndexOf(':') + 1))
    const [a, b] = await Promise.all([
      startTcpForwarder(address!, port(plain.host)),
      startTcpForwarder(address!, port(secure.host)),
    ])
    plainHost = a.host
    secureHost = b.host
    stops.push(a.stop, b.stop)
  })

  after(async () => {
    await Promise.all([...stops.map((stop) => stop()), plain?.stop(), secure?.stop(), proxy?.stop()])
  })

  function client(access: Partial<RegistryAccess>, settings: ProxySettings): RegistryClient {
    return new RegistryClient({
      access: async () => ({ insecure: false, skipTlsVerify: false, source: 'test', ...access }),
      http: { retries: 0, proxy: settings },
    })
  }

  test('HTTP_PROXY carries a plain-HTTP registry; NO_PROXY and loopback bypass it', async () => {
    proxy.tunnels.length = 0
    const via = client({ insecure: true }, { httpProxy: proxy.url })
    assert.deepEqual(await via.listTags({ domain: plainHost, path: 'team/app' }), ['1.0.0', '1.1.0'])
    // The same registry on 127.0.0.1: never through a proxy, as Go's ProxyFromEnvironment decides.
    assert.deepEqual(await via.listTags({ domain: plain.host, path: 'team/app' }), ['1.0.0', '1.1.0'])
    await via.close()
    assert.deepEqual([...new Set(proxy.tunnels)], [plainHost])

    proxy.tunnels.length = 0
    const direct = client({ insecure: true }, { httpProxy: proxy.url, noProxy: address! })
    assert.deepEqual(await direct.listTags({ domain: plainHost, path: 'team/app' }), ['1.0.0', '1.1.0'])
    await direct.close()
    assert.deepEqual(proxy.tunnels, [])
  })

  test("HTTPS_PROXY tunnels to a TLS registry with the registry's TLS settings", async () => {
    proxy.tunnels.length = 0
    // Its certificate names 127.0.0.1, not this address: verification fails, and skipping it works.
    const verified = client({ caFile: secure.caPath! }, { httpsProxy: proxy.url })
    await assert.rejects(verified.listTags({ domain: secureHost, path: 'team/app' }), { kind: 'tls' })
    await verified.close()
    const skipping = client({ skipTlsVerify: true }, { httpsProxy: proxy.url })
    assert.deepEqual(await skipping.listTags({ domain: secureHost, path: 'team/app' }), ['2.0.0'])
    await skipping.close()
    assert.ok(proxy.tunnels.length > 0 && proxy.tunnels.every((t) => t === secureHost))
  })
})
