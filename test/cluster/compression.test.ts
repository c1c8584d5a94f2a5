// Gzipped list pages, as kube-apiserver sends them to clients that ask (kubectl does): the test API compresses
// bodies over 128 KiB at level 1 like the real one. The reader asks for gzip unless the server is on this
// machine, the kubeconfig's cluster has disable-compression, or --disable-compression says not to, and reads the
// same inventory either way.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { isLoopback, loadKubeConfig } from '../../src/cluster/kubeconfig.ts'
import { readCluster } from '../../src/cluster/read.ts'
import type { ImageInventory } from '../../src/cluster/types.ts'
import { UserError } from '../../src/util/errors.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import { cluster, deployment, withPods } from '../support/kube-fixtures.ts'
import { makeTempDir } from '../support/lifecycle.ts'

// Deployments with a large annotation, so their page exceeds 128 KiB; the other pages stay small.
const objects = cluster(
  Array.from({ length: 6 }, (_, i) =>
    withPods(
      deployment('bulk', `app-${i}`, {
        containers: [`nginx:1.27.${i}`, { name: 'sidecar', image: `ghcr.io/acme/proxy:2.${i}.0` }],
        annotations: { 'example.com/notes': 'x'.repeat(30_000) },
      }),
    ),
  ).flat(),
)

let api: KubeApi
let tmp: { path: string; remove(): Promise<void> }
let file: string

before(async () => {
  tmp = await makeTempDir('cluster-gzip')
  api = await startKubeApi({ objects, tokens: { 'alice-token': 'alice' } })
  file = join(tmp.path, 'kubeconfig')
  await api.writeKubeconfig(file, { token: 'alice-token', namespace: 'bulk' })
})

after(async () => {
  await api?.stop()
  await tmp?.remove()
})

const rows = (inv: ImageInventory) =>
  inv.images.map((r) => `${r.workload.kind}/${r.workload.name} ${r.container} ${r.image} pods=${r.pods}`)

const lists = () => api.requests.filter((r) => r.verb === 'list')

describe('gzipped API answers', () => {
  test('asked for gzip, reads compressed pages and reports what an uncompressed read reports', async () => {
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    api.clearRequests()
    const zipped = await readCluster(kc, { compression: true })
    assert.ok(lists().every((r) => r.acceptEncoding === 'gzip' && r.status === 200))
    assert.deepEqual(
      lists()
        .filter((r) => r.contentEncoding === 'gzip')
        .map((r) => r.resource),
      ['deployments'],
      'the large page came gzipped, the small ones plain',
    )

    api.clearRequests()
    const plain = await readCluster(kc, { compression: false })
    assert.ok(lists().every((r) => r.acceptEncoding === '' && r.contentEncoding === ''))
    assert.equal(zipped.images.length, 12)
    assert.deepEqual(rows(zipped), rows(plain))
    assert.ok(zipped.images.every((r) => r.pods === 1 && r.runningDigests.length === 1))
  })

  test('asked for a remote server; not on this machine, with disable-compression, or --disable-compression', async () => {
    const text = await readFile(file, 'utf8')
    const load = async (name: string, edit: (yaml: string) => string, disableCompression = false) => {
      const path = join(tmp.path, name)
      await writeFile(path, edit(text))
      return (await loadKubeConfig({ kubeconfig: path, env: {}, disableCompression })).compression
    }
    const remote = (yaml: string) =>
      yaml.replace(/server: "?https:\/\/127\.0\.0\.1:\d+"?/, 'server: https://203.0.113.7:6443')
    const disabled = (yaml: string) =>
      yaml.replace(/(\n\s+)server: /, '$1disable-compression: true$1server: ')
    assert.equal(await load('remote', remote), true)
    assert.equal(await load('loopback', (yaml) => yaml), false)
    assert.equal(await load('remote-disabled', (yaml) => disabled(remote(yaml))), false)
    assert.equal(await load('remote-flag', remote, true), false)

    for (const server of [
      'https://localhost:6443',
      'https://127.0.0.1:6443',
      'https://127.8.9.10',
      'https://[::1]:6443',
    ])
      assert.equal(isLoopback(server), true, server)
    for (const server of [
      'https://10.0.0.1',
      'https://kube.example.com',
      'https://127.example.com',
      'not a url',
    ])
      assert.equal(isLoopback(server), false, server)
  })

  test('a corrupt gzip body is one clear error, not a crash', async () => {
    api.intercept = (req) =>
      req.pathname.endsWith('/pods')
        ? { status: 200, body: 'not gzip at all', headers: { 'Content-Encoding': 'gzip' } }
        : undefined
    try {
      const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
      await assert.rejects(
        readCluster(kc, { compression: true }),
        (err: Error) =>
          err instanceof UserError &&
          /^the cluster at https:\/\/127\.0\.0\.1:\d+ sent a corrupt gzip body to list pods in namespace bulk; retry, or run with --disable-compression$/.test(
            err.message,
          ),
      )
    } finally {
      api.intercept = undefined
    }
  })
})
