// readCluster, readPullSecretConfigs and clusterVersion against the HTTPS test API (one server for the file).
import assert from 'node:assert/strict'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { KubeConfig } from '@kubernetes/client-node'
import { loadKubeConfig } from '../../src/cluster/kubeconfig.ts'
import { CLUSTER_KINDS, clusterVersion, readCluster, readPullSecretConfigs } from '../../src/cluster/read.ts'
import type { ContainerImage, ImageInventory } from '../../src/cluster/types.ts'
import { runsSpecTag } from '../../src/cluster/workloads.ts'
import { UserError } from '../../src/util/errors.ts'
import { type KubeApi, type KubeconfigOptions, startKubeApi } from '../support/kube-api.ts'
import {
  cluster,
  cronJob,
  daemonSet,
  deployment,
  dockerCfgSecret,
  dockerConfigSecret,
  fakeDigest,
  job,
  type KubeObject,
  pod,
  replicaSet,
  replicationController,
  secret,
  serviceAccount,
  statefulSet,
  withPods,
} from '../support/kube-fixtures.ts'
import { makeTempDir, pickFreePort } from '../support/lifecycle.ts'

const digestOf = (image: string) => fakeDigest(image)
const DRIFT = `sha256:${'b'.repeat(64)}`

const web = deployment('shop', 'web', {
  replicas: 2,
  containers: ['nginx:1.27.3', { name: 'sidecar', image: 'ghcr.io/acme/proxy:2.1.0' }],
  initContainers: ['busybox:1.36'],
  imagePullSecrets: ['regcred'],
  serviceAccountName: 'builder',
  annotations: { 'kubectl-images.io/policy': 'semver' },
})
const webObjects = withPods(web)
const webRs = webObjects.find((o) => o.kind === 'ReplicaSet') as KubeObject
const rsLabels = { ...webRs.spec.selector.matchLabels }

const cron = cronJob('tools', 'backup', { containers: ['alpine:3.20'] })

const objects: KubeObject[] = cluster([
  ...webObjects,
  // A pod of the same ReplicaSet whose runtime pulled another digest for the tag: drift. Docker's old form.
  pod('shop', 'web-drifted', {
    owner: webRs,
    labels: rsLabels,
    containers: [
      { image: 'nginx:1.27.3', imageID: `docker-pullable://nginx@${DRIFT}` },
      { name: 'sidecar', image: 'ghcr.io/acme/proxy:2.1.0' },
    ],
    initContainers: ['busybox:1.36'],
    // kubectl debug on a pod of the Deployment.
    ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.37', targetContainerName: 'nginx' }],
  }),
  // An old revision scaled to 0: never reported on its own.
  replicaSet('shop', 'web-5d8f7c9b6d', {
    owner: web,
    replicas: 0,
    containers: ['nginx:1.26.0'],
    labels: { app: 'web' },
  }),
  ...withPods(statefulSet('shop', 'db', { containers: ['postgres:16.4'] })),
  pod('shop', 'debug', {
    // A locally built image: the runtime reports only an image ID, no repo digest.
    containers: [{ image: 'nginx:1.27.3', imageID: `sha256:${'c'.repeat(64)}` }],
    ephemeralContainers: [{ name: 'dbg', image: 'busybox:1.36', targetContainerName: 'nginx' }],
  }),
  // Owned by a custom resource we do not read: reported as the Pod itself.
  pod('shop', 'rollout-pod', {
    containers: ['ghcr.io/acme/api:3.0.0'],
    ownerReferences: [
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'api',
        uid: '0b0b0b0b-0000-4000-8000-000000000001',
        controller: true,
      },
    ],
  }),
  ...withPods(
    daemonSet('tools', 'node-exporter', { containers: ['quay.io/prometheus/node-exporter:v1.8.2'] }),
  ),
  ...withPods(cron),
  ...withPods(job('tools', 'migrate', { containers: ['ghcr.io/acme/migrate:1.0.0'] })),
  ...withPods(replicaSet('tools', 'legacy', { containers: ['httpd:2.4.62'] })),
  ...withPods(replicationController('tools', 'old-rc', { containers: ['memcached:1.6.31'] })),
  ...withPods(
    deployment('restricted', 'secret-thing', { containers: ['registry.internal:5000/team/thing:1.0'] }),
  ),
  // Enough deployments to page through.
  ...Array.from({ length: 7 }, (_, i) => deployment('bulk', `app-${i}`, { containers: [`nginx:1.27.${i}`] })),
  dockerConfigSecret('shop', 'regcred', { 'ghcr.io': { username: 'bot', password: 's3cret-one' } }),
  dockerCfgSecret('shop', 'oldcfg', { 'quay.io': { username: 'bot', password: 's3cret-two' } }),
  secret('shop', 'opaque', { password: 's3cret-three' }),
  secret(
    'shop',
    'broken',
    { '.dockerconfigjson': '{"auths": s3cret-four' },
    'kubernetes.io/dockerconfigjson',
  ),
  serviceAccount('shop', 'builder', { imagePullSecrets: ['oldcfg', 'regcred', 'gone'] }),
])

let api: KubeApi
let tmp: { path: string; remove(): Promise<void> }
let n = 0

async function kubeconfig(opts: KubeconfigOptions = {}): Promise<KubeConfig> {
  const file = join(tmp.path, `kc-${n++}.yaml`)
  await api.writeKubeconfig(file, opts)
  return (await loadKubeConfig({ kubeconfig: file, env: {} })).kc
}

before(async () => {
  tmp = await makeTempDir('cluster-read')
  api = await startKubeApi({
    objects,
    tokens: {
      'alice-token': 'alice',
      'bob-token': 'bob',
      'dave-token': 'dave',
      'erin-token': 'erin',
    },
    certUsers: ['carol'],
    forbidden: [
      // Every workload resource, but not namespaces: bob may still list those and read the others one by one.
      ...WORKLOAD_RESOURCES.map((resource) => ({ user: 'bob', namespace: 'restricted', resource })),
      { user: 'dave', clusterScope: true },
      { user: 'erin', resource: 'cronjobs' },
      { user: 'bob', resource: 'secrets' },
    ],
  })
})

after(async () => {
  await api?.stop()
  await tmp?.remove()
})

/** One line per row: what a reader of the report needs to see. */
function rows(inv: ImageInventory): string[] {
  return inv.images.map(
    (r: ContainerImage) =>
      `${r.workload.namespace}/${r.workload.kind}/${r.workload.name} ${r.containerKind}:${r.container} ${r.image} pods=${r.pods} digests=${r.runningDigests.length}`,
  )
}

const alice = () => kubeconfig({ token: 'alice-token' })

/** Every resource the reader lists. */
const WORKLOAD_RESOURCES = CLUSTER_KINDS.map((info) => info.resource)

describe('readCluster', () => {
  test('-A: every kind, owners folded, init and ephemeral containers, drift, sorted', async () => {
    api.clearRequests()
    const inv = await readCluster(await alice(), { allNamespaces: true })
    assert.equal(inv.source, 'cluster')
    assert.equal(inv.context, 'kube-test')
    assert.deepEqual(inv.warnings, [])
    assert.deepEqual(rows(inv), [
      ...Array.from(
        { length: 7 },
        (_, i) => `bulk/Deployment/app-${i} container:nginx nginx:1.27.${i} pods=0 digests=0`,
      ),
      'restricted/Deployment/secret-thing container:thing registry.internal:5000/team/thing:1.0 pods=1 digests=1',
      'shop/Deployment/web container:nginx nginx:1.27.3 pods=3 digests=2',
      'shop/Deployment/web container:sidecar ghcr.io/acme/proxy:2.1.0 pods=3 digests=1',
      'shop/Deployment/web init:busybox busybox:1.36 pods=3 digests=1',
      'shop/Deployment/web ephemeral:debugger busybox:1.37 pods=3 digests=1',
      'shop/Pod/debug container:nginx nginx:1.27.3 pods=1 digests=0',
      'shop/Pod/debug ephemeral:dbg busybox:1.36 pods=1 digests=1',
      'shop/Pod/rollout-pod container:api ghcr.io/acme/api:3.0.0 pods=1 digests=1',
      'shop/StatefulSet/db container:postgres postgres:16.4 pods=1 digests=1',
      'tools/CronJob/backup container:alpine alpine:3.20 pods=1 digests=1',
      'tools/DaemonSet/node-exporter container:node-exporter quay.io/prometheus/node-exporter:v1.8.2 pods=1 digests=1',
      'tools/Job/migrate container:migrate ghcr.io/acme/migrate:1.0.0 pods=1 digests=1',
      'tools/ReplicaSet/legacy container:httpd httpd:2.4.62 pods=1 digests=1',
      'tools/ReplicationController/old-rc container:memcached memcached:1.6.31 pods=1 digests=1',
    ])
    const nginx = inv.images.find((r) => r.workload.name === 'web' && r.container === 'nginx')
    assert.deepEqual(nginx?.runningDigests, [DRIFT, digestOf('nginx:1.27.3')].sort())
    assert.deepEqual(nginx?.workload, {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      namespace: 'shop',
      name: 'web',
    })
    assert.equal(nginx?.annotations['kubectl-images.io/policy'], 'semver')
    assert.deepEqual(nginx?.imagePullSecrets, ['regcred'])
    assert.equal(nginx?.serviceAccountName, 'builder')
    // Cluster-wide lists only: one request per kind.
    const lists = api.requests.filter((r) => r.verb === 'list')
    assert.ok(lists.every((r) => r.namespace === ''))
  })

  test('onImages: each page’s unowned objects as they arrive, before pods are folded in', async () => {
    const seen: ContainerImage[] = []
    const inv = await readCluster(await alice(), {
      allNamespaces: true,
      pageSize: 3,
      onImages: (images) => seen.push(...images),
    })
    const key = (r: ContainerImage) =>
      `${r.workload.namespace}/${r.workload.kind}/${r.workload.name} ${r.containerKind}:${r.container}`
    // Every row of the inventory whose workload has no owner was announced early (the rows of objects owned
    // by a listed controller never are); owned objects reported as themselves are not.
    const announced = new Set(seen.map(key))
    for (const row of inv.images.filter((r) => r.workload.kind !== 'Pod' || r.workload.name === 'debug'))
      if (!['Job', 'ReplicaSet'].includes(row.workload.kind) && row.containerKind !== 'ephemeral')
        assert.ok(announced.has(key(row)), key(row))
    assert.ok(announced.has('shop/Deployment/web container:nginx'))
    assert.ok(!seen.some((r) => r.workload.kind === 'ReplicaSet' && r.workload.namespace === 'shop'))
    assert.ok(!seen.some((r) => r.workload.kind === 'Pod' && r.workload.name.startsWith('web-')))
  })

  test('-n: one namespace; the context namespace is the default', async () => {
    const shop = await readCluster(await alice(), { namespace: 'tools' })
    assert.ok(shop.images.every((r) => r.workload.namespace === 'tools'))
    assert.equal(shop.images.length, 5)
    const kc = await kubeconfig({ token: 'alice-token', namespace: 'restricted' })
    const inv = await readCluster(kc)
    assert.deepEqual(
      inv.images.map((r) => r.workload.name),
      ['secret-thing'],
    )
  })

  test('paging with a small pageSize, proven by the request log; 410 restarts the list', async () => {
    const kc = await alice()
    api.clearRequests()
    const inv = await readCluster(kc, { namespace: 'bulk', pageSize: 3 })
    assert.equal(inv.images.length, 7)
    const deps = api.requests.filter((r) => r.resource === 'deployments')
    assert.deepEqual(
      deps.map((r) => [r.query.limit, Boolean(r.query.continue)]),
      [
        ['3', false],
        ['3', true],
        ['3', true],
      ],
    )
    assert.ok(api.requests.filter((r) => r.resource === 'pods').every((r) => r.query.limit === '3'))

    // The snapshot is compacted away before the second page: the server answers 410 and the list is redone whole.
    api.clearRequests()
    api.intercept = (req) => {
      if (req.pathname.endsWith('/deployments') && req.query.continue) api.compact()
      return undefined
    }
    try {
      const again = await readCluster(kc, { namespace: 'bulk', pageSize: 3 })
      assert.equal(again.images.length, 7)
    } finally {
      api.intercept = undefined
    }
    const statuses = api.requests
      .filter((r) => r.resource === 'deployments')
      .map((r) => [r.status, r.query.limit])
    assert.deepEqual(statuses, [
      [200, '3'],
      [410, '3'],
      [200, undefined],
    ])
  })

  test('label selector: sent with every list, pods still attached', async () => {
    api.clearRequests()
    const inv = await readCluster(await alice(), { namespace: 'shop', selector: 'app=web' })
    assert.deepEqual(
      [...new Set(inv.images.map((r) => `${r.workload.kind}/${r.workload.name}`))],
      ['Deployment/web'],
    )
    assert.equal(inv.images[0]?.pods, 3)
    const lists = api.requests.filter((r) => r.verb === 'list')
    assert.equal(lists.length, 8)
    assert.ok(lists.every((r) => r.query.labelSelector === 'app=web'))
  })

  test('a forbidden namespace is a warning; -A falls back to the namespaces the user may read', async () => {
    const kc = await kubeconfig({ token: 'bob-token' })
    const denied = await readCluster(kc, { namespace: 'restricted' })
    assert.deepEqual(denied.images, [])
    assert.equal(denied.warnings.length, 8)
    assert.ok(denied.warnings.every((w) => w.namespace === 'restricted'))
    assert.ok(
      denied.warnings.some((w) => w.message === 'cannot list deployments in namespace restricted: forbidden'),
    )

    api.clearRequests()
    const all = await readCluster(kc, { allNamespaces: true })
    assert.ok(all.images.some((r) => r.workload.name === 'web'))
    assert.ok(!all.images.some((r) => r.workload.namespace === 'restricted'))
    assert.deepEqual(
      all.warnings.map((w) => `${w.namespace} ${w.kind}`),
      [
        'restricted CronJob',
        'restricted DaemonSet',
        'restricted Deployment',
        'restricted Job',
        'restricted Pod',
        'restricted ReplicaSet',
        'restricted ReplicationController',
        'restricted StatefulSet',
      ],
    )
    // Same rows as alice sees outside the restricted namespace.
    const full = await readCluster(await alice(), { allNamespaces: true })
    assert.deepEqual(
      rows(all),
      rows(full).filter((r) => !r.startsWith('restricted/')),
    )
    assert.ok(api.requests.some((r) => r.resource === 'namespaces' && r.verb === 'list' && r.status === 200))
  })

  test('-A with cluster scope and namespaces forbidden: warnings, no failure', async () => {
    const inv = await readCluster(await kubeconfig({ token: 'dave-token' }), { allNamespaces: true })
    assert.deepEqual(inv.images, [])
    assert.ok(inv.warnings.some((w) => w.message === 'cannot list namespaces: forbidden'))
    assert.ok(inv.warnings.some((w) => w.message === 'cannot list pods at the cluster scope: forbidden'))
  })

  test('a forbidden kind is a warning; the Job of an unreadable CronJob is reported as itself', async () => {
    const inv = await readCluster(await kubeconfig({ token: 'erin-token' }), { namespace: 'tools' })
    assert.deepEqual(inv.warnings, [
      { kind: 'CronJob', namespace: 'tools', message: 'cannot list cronjobs in namespace tools: forbidden' },
    ])
    const jobs = inv.images.filter((r) => r.workload.kind === 'Job').map((r) => r.workload.name)
    assert.equal(jobs.length, 2)
    assert.ok(jobs.includes('migrate'))
  })

  test('client certificate and exec credential plugin users', async () => {
    const viaCert = await readCluster(await kubeconfig({ user: 'cert', certUser: 'carol' }), {
      namespace: 'tools',
    })
    assert.equal(viaCert.images.length, 5)

    // An exec plugin that logs each run and prints an ExecCredential with alice's token.
    const plugin = join(tmp.path, 'cred-plugin')
    const log = join(tmp.path, 'cred-plugin.log')
    await writeFile(
      plugin,
      `#!/bin/sh\necho run >> "${log}"\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"alice-token"}}'\n`,
    )
    await chmod(plugin, 0o755)
    const file = join(tmp.path, 'exec.yaml')
    const text = api
      .kubeconfig({ token: 'alice-token' })
      .replace(
        / {4}token: .*/,
        `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./cred-plugin\n      interactiveMode: Never`,
      )
    await writeFile(file, text)
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    api.clearRequests()
    const inv = await readCluster(kc, { allNamespaces: true })
    assert.ok(inv.images.length > 10)
    assert.ok(api.requests.every((r) => r.user === 'alice'))
    // The first request goes alone, so the plugin ran once although eight kinds were read concurrently.
    assert.equal((await readFile(log, 'utf8')).trim().split('\n').length, 1)

    // A page that is not JSON (a proxy's login page) is the cluster's answer, not the plugin's output.
    api.intercept = (req) =>
      req.pathname.endsWith('/statefulsets') ? { status: 200, body: '<html>sign in</html>' } : undefined
    try {
      await assert.rejects(readCluster(kc, { namespace: 'shop' }), (err: Error) => {
        assert.match(
          err.message,
          /^the cluster at https:\/\/127\.0\.0\.1:\d+ did not answer JSON to list statefulsets in namespace shop$/,
        )
        return true
      })
    } finally {
      api.intercept = undefined
    }
  })

  test('an exec plugin runs as kubectl runs it: KUBERNETES_EXEC_INFO with the cluster, stdin closed when not interactive', async () => {
    const dir = join(tmp.path, 'exec-info')
    await mkdir(dir, { recursive: true })
    const plugin = join(dir, 'plugin')
    // It records what it was told, then asks for a code: with no terminal it must read end-of-file, not wait.
    await writeFile(
      plugin,
      [
        '#!/bin/sh',
        `printf '%s' "$KUBERNETES_EXEC_INFO" > "${join(dir, 'info.json')}"`,
        'read -r code',
        `echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"alice-token"}}'`,
        '',
      ].join('\n'),
    )
    await chmod(plugin, 0o755)
    const file = join(dir, 'config')
    await writeFile(
      file,
      api
        .kubeconfig({ token: 'alice-token' })
        .replace(
          / {4}token: .*/,
          `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./plugin\n      interactiveMode: IfAvailable\n      provideClusterInfo: true`,
        ),
    )
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {}, stdinIsTerminal: false })
    const inv = await readCluster(kc, { namespace: 'tools' })
    assert.ok(inv.images.length > 0)
    const info = JSON.parse(await readFile(join(dir, 'info.json'), 'utf8'))
    assert.equal(info.kind, 'ExecCredential')
    assert.equal(info.apiVersion, 'client.authentication.k8s.io/v1')
    assert.equal(info.spec.interactive, false)
    assert.equal(info.spec.cluster.server, api.url)
    assert.equal(Buffer.from(info.spec.cluster['certificate-authority-data'], 'base64').toString(), api.caPem)
  })

  test('a failing credential plugin: one line, stderr kept, stdout never shown', async () => {
    const cases: Array<[string, string]> = [
      ['echo "token expired, run login" >&2; exit 3', 'failed: token expired, run login'],
      ['echo \'{"status": {"token": "s3cret-token"\'', 'did not print an ExecCredential'],
    ]
    for (const [i, [script, expected]] of cases.entries()) {
      const plugin = join(tmp.path, `bad-plugin-${i}`)
      await writeFile(plugin, `#!/bin/sh\n${script}\n`)
      await chmod(plugin, 0o755)
      const file = join(tmp.path, `bad-exec-${i}.yaml`)
      const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}`
      await writeFile(file, api.kubeconfig().replace(/ {4}token: .*/, exec))
      const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
      await assert.rejects(readCluster(kc), (err: Error) => {
        assert.ok(err instanceof UserError)
        assert.equal(err.message, `context kube-test: the credential plugin ${plugin} ${expected}`)
        return true
      })
    }
    const file = join(tmp.path, 'no-plugin.yaml')
    const missing = join(tmp.path, 'no-such-plugin')
    const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${missing}`
    await writeFile(file, api.kubeconfig().replace(/ {4}token: .*/, exec))
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    await assert.rejects(readCluster(kc), {
      message: `context kube-test: cannot run the credential plugin ${missing}: not found`,
    })
  })

  test("a credential plugin that exits leaving its stdout held open is stopped at the run's deadline", async () => {
    const dir = join(tmp.path, 'hanging-plugin')
    await mkdir(dir, { recursive: true })
    const plugin = join(dir, 'plugin')
    // The shell exits at once, leaving a child that holds the plugin's stdout: client-node waits for that pipe.
    await writeFile(
      plugin,
      `#!/bin/sh\nsleep 60 &\necho $! > "${dir}/sleep.pid"\necho $$ > "${dir}/sh.pid"\n`,
    )
    await chmod(plugin, 0o755)
    const file = join(dir, 'config')
    const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}\n      interactiveMode: Never`
    await writeFile(file, api.kubeconfig().replace(/ {4}token: .*/, exec))
    const deadline = new AbortController()
    const { signal } = deadline
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {}, stdinIsTerminal: false, signal })
    // The deadline passes once the shell has exited (gone, or a zombie not yet reaped).
    const exited = async () => {
      for (;;) {
        const pid = await readFile(join(dir, 'sh.pid'), 'utf8').catch(() => '')
        const stat = pid ? await readFile(`/proc/${pid.trim()}/stat`, 'utf8').catch(() => 'gone') : ''
        if (stat === 'gone' || / Z /.test(stat)) return
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    const read = readCluster(kc, { signal })
    let guard: NodeJS.Timeout | undefined
    try {
      await exited()
      deadline.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
      await Promise.race([
        assert.rejects(read, {
          message: `the run's --timeout passed while reading the cluster at ${api.url}`,
        }),
        new Promise((_, reject) => {
          guard = setTimeout(() => reject(new Error('the read still waits for the plugin')), 20_000)
        }),
      ])
    } finally {
      clearTimeout(guard)
      const sleeper = Number(await readFile(join(dir, 'sleep.pid'), 'utf8').catch(() => '0'))
      if (sleeper) process.kill(sleeper, 'SIGKILL')
    }
  })

  test('in-cluster: the service account token and CA of the pod', async () => {
    const sa = join(tmp.path, 'serviceaccount')
    await mkdir(sa, { recursive: true })
    await writeFile(join(sa, 'token'), 'alice-token')
    await writeFile(join(sa, 'ca.crt'), api.caPem)
    await writeFile(join(sa, 'namespace'), 'tools')
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port), HOME: sa }
    const { kc, namespace } = await loadKubeConfig({ env, serviceAccountDir: sa })
    assert.equal(namespace, 'tools')
    const inv = await readCluster(kc)
    assert.equal(inv.context, 'in-cluster')
    assert.equal(inv.images.length, 5)
    // --as and friends impersonate from a pod too.
    const impersonate = { user: 'system:serviceaccount:tools:viewer', groups: ['viewers'], uid: 'u-9' }
    const as = await loadKubeConfig({ env, serviceAccountDir: sa, impersonate })
    api.clearRequests()
    await readCluster(as.kc)
    const sent = api.requests.filter((r) => r.resource === 'pods')
    assert.ok(sent.length > 0)
    for (const r of sent) assert.deepEqual(r.impersonation, { ...impersonate, extra: {} })
  })

  test('401, connection refused and an unknown CA fail with one line', async () => {
    await assert.rejects(
      readCluster(await kubeconfig({ token: 'wrong-token' }), { namespace: 'shop' }),
      (err: Error) =>
        err instanceof UserError &&
        err.message ===
          'the cluster rejected the credentials of context kube-test (401); log in again or check the user in the kubeconfig',
    )
    const port = await pickFreePort()
    const closed = `https://127.0.0.1:${port}`
    await assert.rejects(
      readCluster(await kubeconfig({ token: 'alice-token', server: closed }), { allNamespaces: true }),
      (err: Error) =>
        err instanceof UserError &&
        err.message === `cannot reach the cluster at ${closed}: connection refused`,
    )
    const file = join(tmp.path, 'wrong-ca.yaml')
    await writeFile(
      file,
      api
        .kubeconfig({ token: 'alice-token' })
        .replace(
          /certificate-authority-data: .*/,
          `certificate-authority-data: ${Buffer.from(api.clientCaPem).toString('base64')}`,
        ),
    )
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    await assert.rejects(readCluster(kc), (err: Error) => {
      assert.ok(err instanceof UserError)
      assert.match(
        err.message,
        new RegExp(`^cannot reach the cluster at ${api.url}: TLS verification failed \\(`),
      )
      assert.ok(!err.message.includes('\n'))
      return true
    })
  })

  test('a bad selector is a UserError with the server message; abort stops the read', async () => {
    await assert.rejects(
      readCluster(await alice(), { namespace: 'shop', selector: 'app in (' }),
      (err: Error) =>
        err instanceof UserError &&
        err.exitCode === 2 &&
        /^invalid label selector "app in \(": .+/.test(err.message),
    )
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await assert.rejects(readCluster(await alice(), { namespace: 'shop', signal: ac.signal }), /stop/)
  })

  test('transient 503s are retried', async () => {
    let failures = 0
    api.intercept = (req) => {
      if (req.pathname.endsWith('/statefulsets') && failures < 1) {
        failures++
        return { status: 503 }
      }
      return undefined
    }
    try {
      const inv = await readCluster(await alice(), { namespace: 'shop' })
      assert.ok(inv.images.some((r) => r.workload.kind === 'StatefulSet'))
      assert.equal(failures, 1)
    } finally {
      api.intercept = undefined
    }
  })
})

describe('readPullSecretConfigs', () => {
  test("named secrets, else the ServiceAccount's (as its admission does); unreadable ones are warnings without values", async () => {
    // What a dockerconfigjson secret for `host` with user bot and `password` reads as.
    const config = (host: string, password: string) => ({
      auths: {
        [host]: { username: 'bot', password, auth: Buffer.from(`bot:${password}`).toString('base64') },
      },
    })
    const ghcr = config('ghcr.io', 's3cret-one')
    const quay = config('quay.io', 's3cret-two')
    const named = await readPullSecretConfigs(
      await alice(),
      'shop',
      ['regcred', 'opaque', 'broken'],
      'builder',
    )
    assert.deepEqual(named.configs, [ghcr])
    assert.deepEqual(
      named.warnings.map((w) => w.message),
      [
        'secret shop/opaque is not a registry secret (type Opaque)',
        'secret shop/broken: .dockerconfigjson is not a JSON object',
      ],
    )
    // None named: the ServiceAccount's (oldcfg, regcred, gone).
    const fromAccount = await readPullSecretConfigs(await alice(), 'shop', [], 'builder')
    assert.deepEqual(fromAccount.configs, [quay, ghcr])
    assert.deepEqual(
      fromAccount.warnings.map((w) => w.message),
      ['secret shop/gone not found'],
    )
    assert.ok(!JSON.stringify([named.warnings, fromAccount.warnings]).includes('s3cret'))
  })

  test('the default ServiceAccount when none is named; forbidden secrets are warnings', async () => {
    const none = await readPullSecretConfigs(await alice(), 'shop', [])
    assert.deepEqual(none, { configs: [], warnings: [] })
    const bob = await readPullSecretConfigs(await kubeconfig({ token: 'bob-token' }), 'shop', ['regcred'], '')
    assert.deepEqual(bob, {
      configs: [],
      warnings: [{ kind: 'Secret', namespace: 'shop', message: 'cannot get secret shop/regcred: forbidden' }],
    })
  })
})

test('clusterVersion reads /version', async () => {
  assert.equal(await clusterVersion(await alice()), 'v1.31.4')
})

test("a context without a user still trusts the cluster's CA (a file relative to the kubeconfig)", async () => {
  const dir = join(tmp.path, 'no-user')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'ca.crt'), api.caPem)
  const file = join(dir, 'config')
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: anonymous',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${api.url}`,
      '    certificate-authority: ca.crt',
      'contexts:',
      '- name: anonymous',
      '  context:',
      '    cluster: test',
      '',
    ].join('\n'),
  )
  const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
  assert.equal(await clusterVersion(kc), 'v1.31.4')
})

describe('readCluster -l: controllers labelled otherwise than their pods', () => {
  // Helm-style: the Deployment carries only the release label, its pods also `app`; an old revision's
  // ReplicaSet still carries the pod labels. `-l app=shopfront` lists the pods and that ReplicaSet only.
  const shop = deployment('helm', 'shopfront', {
    labels: { 'app.kubernetes.io/instance': 'shop' },
    podLabels: { app: 'shopfront' },
    containers: ['nginx:1.27.3'],
    annotations: { 'kubectl-images.io/policy': 'semver()' },
  })
  const objects = cluster([
    ...withPods(shop),
    replicaSet('helm', 'shopfront-0ld0ld0ld0', {
      owner: shop,
      replicas: 0,
      labels: { app: 'shopfront' },
      containers: ['nginx:1.19.0'],
    }),
  ])
  const liveRs = objects.find((o) => o.kind === 'ReplicaSet' && o.metadata.name !== 'shopfront-0ld0ld0ld0')
  let other: KubeApi
  let file: string
  before(async () => {
    other = await startKubeApi({ objects, tokens: { t: 'alice' } })
    file = join(tmp.path, 'helm.kubeconfig')
    await other.writeKubeconfig(file, { token: 't', namespace: 'helm' })
  })
  after(() => other?.stop())

  test('pods and the old ReplicaSet fold into the Deployment the selector left out, fetched by name', async () => {
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    other.clearRequests()
    const inv = await readCluster(kc, { selector: 'app=shopfront' })
    assert.deepEqual(rows(inv), ['helm/Deployment/shopfront container:nginx nginx:1.27.3 pods=1 digests=1'])
    assert.equal(inv.images[0]?.annotations['kubectl-images.io/policy'], 'semver()')
    const gets = other.requests.filter((r) => r.verb === 'get').map((r) => `${r.resource}/${r.name}`)
    assert.deepEqual(gets.sort(), ['deployments/shopfront', `replicasets/${liveRs?.metadata.name}`])
  })

  test('without a selector nothing is fetched by name', async () => {
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    other.clearRequests()
    const inv = await readCluster(kc)
    assert.deepEqual(rows(inv), ['helm/Deployment/shopfront container:nginx nginx:1.27.3 pods=1 digests=1'])
    assert.ok(other.requests.every((r) => r.verb !== 'get'))
  })
})

describe('readCluster: a rollout in progress', () => {
  // The spec moved to 1.27.3; one pod of the old revision still runs 1.26.0.
  const app = deployment('roll', 'app', { containers: ['nginx:1.27.3'] })
  const objects = withPods(app)
  const oldRs = replicaSet('roll', 'app-0ld0ld0ld0', { owner: app, containers: ['nginx:1.26.0'] })
  const oldPod = pod('roll', 'app-0ld0ld0ld0-x1', { owner: oldRs, containers: ['nginx:1.26.0'] })
  let other: KubeApi
  let file: string
  before(async () => {
    other = await startKubeApi({ objects: cluster([...objects, oldRs, oldPod]), tokens: { t: 'alice' } })
    file = join(tmp.path, 'roll.kubeconfig')
    await other.writeKubeconfig(file, { token: 't', namespace: 'roll' })
  })
  after(() => other?.stop())

  test("the old revision's pods count, but their digest is not the spec tag's: no drift", async () => {
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    const inv = await readCluster(kc)
    assert.equal(inv.images.length, 1)
    const row = inv.images[0]!
    assert.equal(row.image, 'nginx:1.27.3')
    assert.equal(row.pods, 2)
    assert.deepEqual(row.runningDigests, [digestOf('nginx:1.27.3')])
  })

  test('runsSpecTag compares tags (and digests when both name one), not registries', () => {
    assert.equal(runsSpecTag('nginx:1.27.3', 'nginx:1.27.3'), true)
    assert.equal(runsSpecTag('nginx:1.27.3', 'nginx:1.26.0'), false)
    assert.equal(runsSpecTag('nginx:1.27.3', 'mirror.example/library/nginx:1.27.3'), true, 'a mirror webhook')
    assert.equal(runsSpecTag('nginx:1.27.3', `nginx:1.27.3@${DRIFT}`), true, 'a digest-pinning webhook')
    assert.equal(runsSpecTag(`nginx:1.27.3@${DRIFT}`, `nginx:1.27.3@sha256:${'c'.repeat(64)}`), false)
    assert.equal(runsSpecTag('localhost:5000/app', 'localhost:5000/app:latest'), true)
    assert.equal(runsSpecTag(`app@${DRIFT}`, `app@${DRIFT}`), true)
  })
})

test('a password in the server URL never reaches an error', async () => {
  const file = join(tmp.path, 'userinfo.kubeconfig')
  await writeFile(
    file,
    api
      .kubeconfig({ token: 'alice-token' })
      .replace(/server: "https:\/\/[^"]+"/, 'server: "https://admin:LEAKPASS@127.0.0.1:1"'),
  )
  const loaded = await loadKubeConfig({ kubeconfig: file, env: {} })
  assert.equal(loaded.server, 'https://127.0.0.1:1')
  await assert.rejects(readCluster(loaded.kc, { namespace: 'shop' }), (err: Error) => {
    assert.equal(err.message, 'cannot reach the cluster at https://127.0.0.1:1: connection refused')
    return true
  })
})

test('a list that is JSON but not a list of objects is one clear error', async () => {
  const kc = await alice()
  for (const [body, reason] of [
    [
      { kind: 'DeploymentList', apiVersion: 'apps/v1', metadata: {}, items: [null] },
      'one of its items is not an object',
    ],
    [
      { kind: 'DeploymentList', apiVersion: 'apps/v1', metadata: {}, items: 'nope' },
      'its items are not a list',
    ],
  ] as const) {
    api.intercept = (req) => (req.pathname.endsWith('/deployments') ? { status: 200, body } : undefined)
    try {
      await assert.rejects(readCluster(kc, { namespace: 'shop' }), (err: Error) => {
        assert.equal(
          err.message,
          `the cluster at ${api.url} sent a malformed answer to list deployments in namespace shop: ${reason}`,
        )
        return true
      })
    } finally {
      api.intercept = undefined
    }
  }
})
