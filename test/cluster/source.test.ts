// readInventory from a cluster: refused everywhere is an error; a readable namespace that is empty is not.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { readInventory } from '../../src/cluster/source.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import { deployment, namespace } from '../support/kube-fixtures.ts'
import { makeTempDir } from '../support/lifecycle.ts'

let api: KubeApi
let tmp: { path: string; remove(): Promise<void> }

before(async () => {
  tmp = await makeTempDir('cluster-source')
  api = await startKubeApi({
    objects: [namespace('team-a'), namespace('team-b'), deployment('team-b', 'secret-app')],
    tokens: { 'bob-token': 'bob', 'eve-token': 'eve' },
    // bob may list namespaces and read team-a (empty); eve may read nothing.
    authorize: (attrs) =>
      attrs.user === 'bob' && (attrs.resource === 'namespaces' || attrs.namespace === 'team-a'),
  })
})

after(async () => {
  await api?.stop()
  await tmp?.remove()
})

async function read(token: string, request: Parameters<typeof readInventory>[0]) {
  const file = join(tmp.path, `${token}.kubeconfig`)
  await api.writeKubeconfig(file, { token, namespace: 'team-a' })
  return readInventory({ kubeconfig: file, ...request }, {})
}

test('-A with an empty readable namespace and a forbidden one: an empty report with warnings', async () => {
  const { inventory } = await read('bob-token', { 'all-namespaces': true })
  assert.deepEqual(inventory.images, [])
  assert.ok(inventory.warnings.length > 0)
  assert.ok(inventory.warnings.every((w) => w.namespace === 'team-b' && /forbidden/.test(w.message)))
  const own = await read('bob-token', {})
  assert.deepEqual([own.inventory.images, own.inventory.warnings], [[], []])
})

test('a user refused every list gets an error, not an empty report', async () => {
  await assert.rejects(
    read('eve-token', { 'all-namespaces': true }),
    /^UserError: could not read any workload in any namespace with context kube-test: .*forbidden; check your RBAC permissions/,
  )
})

test("the run's deadline stops a cluster that does not answer, in one line, and lets the process go", async () => {
  api.intercept = () => ({ delayMs: 5000 })
  try {
    const start = Date.now()
    await assert.rejects(
      (async () => {
        const file = join(tmp.path, 'slow.kubeconfig')
        await api.writeKubeconfig(file, { token: 'bob-token', namespace: 'team-a' })
        return readInventory({ kubeconfig: file }, {}, undefined, AbortSignal.timeout(300))
      })(),
      /^UserError: the run's --timeout passed while reading the cluster at https:\/\/127\.0\.0\.1:\d+$/,
    )
    assert.ok(Date.now() - start < 2000, `took ${Date.now() - start} ms`)
  } finally {
    api.intercept = undefined
  }
})
