// The cluster behind a forward proxy: HTTPS_PROXY and NO_PROXY as kubectl honours them, the kubeconfig's
// proxy-url first. Proxies are never used for this machine, so the API is reached on a non-loopback address.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { loadKubeConfig } from '../../src/cluster/kubeconfig.ts'
import { readCluster } from '../../src/cluster/read.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import { cluster, deployment, withPods } from '../support/kube-fixtures.ts'
import { makeTempDir } from '../support/lifecycle.ts'
import {
  type ConnectProxy,
  needsNonLoopbackAddress,
  nonLoopbackAddress,
  startConnectProxy,
  startTcpForwarder,
} from '../support/proxy.ts'

const address = nonLoopbackAddress()

describe('the cluster behind a proxy', needsNonLoopbackAddress(), () => {
  let api: KubeApi
  let proxy: ConnectProxy
  let tmp: { path: string; remove(): Promise<void> }
  let remote: { host: string; stop(): Promise<void> }
  let remoteConfig: string
  let localConfig: string

  before(async () => {
    tmp = await makeTempDir('cluster-proxy')
    ;[api, proxy] = await Promise.all([
      startKubeApi({ objects: cluster(withPods(deployment('shop', 'web', {}))), tokens: { t: 'alice' } }),
      startConnectProxy(),
    ])
    remote = await startTcpForwarder(address!, Number(new URL(api.url).port))
    localConfig = join(tmp.path, 'local')
    remoteConfig = join(tmp.path, 'remote')
    await api.writeKubeconfig(localConfig, { token: 't', namespace: 'shop' })
    // The server's certificate names localhost: tls-server-name lets it be verified on this address.
    await writeFile(
      remoteConfig,
      api
        .kubeconfig({ token: 't', namespace: 'shop' })
        .replace(/server: "[^"]+"/, `server: "https://${remote.host}"\n    tls-server-name: localhost`),
    )
  })

  after(async () => {
    await remote?.stop()
    await Promise.all([api?.stop(), proxy?.stop()])
    await tmp?.remove()
  })

  test('HTTPS_PROXY carries the reads to a remote API server, verified as without a proxy', async () => {
    proxy.tunnels.length = 0
    const { kc } = await loadKubeConfig({ kubeconfig: remoteConfig, env: { HTTPS_PROXY: proxy.url } })
    const inv = await readCluster(kc)
    assert.deepEqual(
      inv.images.map((r) => `${r.workload.kind}/${r.workload.name}`),
      ['Deployment/web'],
    )
    assert.ok(proxy.tunnels.length > 0 && proxy.tunnels.every((t) => t === remote.host), proxy.tunnels.join())
  })

  test('not for NO_PROXY, not for this machine, and a proxy-url in the kubeconfig wins', async () => {
    const proxyUrl = async (file: string, env: NodeJS.ProcessEnv) =>
      (await loadKubeConfig({ kubeconfig: file, env })).kc.getCurrentCluster()?.proxyUrl
    assert.equal(await proxyUrl(remoteConfig, { HTTPS_PROXY: proxy.url }), proxy.url)
    assert.equal(await proxyUrl(remoteConfig, { HTTPS_PROXY: proxy.url, NO_PROXY: address! }), undefined)
    assert.equal(await proxyUrl(localConfig, { HTTPS_PROXY: proxy.url }), undefined)
    const own = join(tmp.path, 'own-proxy')
    await writeFile(
      own,
      api
        .kubeconfig({ token: 't' })
        .replace(/server: "[^"]+"/, `server: "https://${remote.host}"\n    proxy-url: http://corp:3128`),
    )
    assert.equal(await proxyUrl(own, { HTTPS_PROXY: proxy.url }), 'http://corp:3128')
  })
})
