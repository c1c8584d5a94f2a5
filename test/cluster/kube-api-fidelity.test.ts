// Proves the test Kubernetes API (test/support/kube-api.ts) is faithful enough by pointing the real kubectl at it,
// plus raw HTTPS checks of what kubectl does not exercise (401, paging edge cases, selectors).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parse, stringify } from 'yaml'
import { loadKubeConfig } from '../../src/cluster/kubeconfig.ts'
import { readCluster } from '../../src/cluster/read.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import {
  cluster,
  cronJob,
  daemonSet,
  deployment,
  dockerConfigSecret,
  type KubeObject,
  pod,
  serviceAccount,
  statefulSet,
  withPods,
} from '../support/kube-fixtures.ts'
import { makeTempDir } from '../support/lifecycle.ts'

const KUBECTL = '/usr/bin/kubectl'
// Each kubectl test is skipped (with this reason) only when kubectl is absent.
const kt = { skip: existsSync(KUBECTL) ? false : `${KUBECTL} is not installed` }

const seededDeployments = [
  deployment('shop', 'frontend', {
    containers: ['nginx:1.27.3'],
    replicas: 2,
    imagePullSecrets: ['regcred'],
  }),
  deployment('shop', 'api', {
    containers: ['ghcr.io/acme/api:2.4.1', { name: 'proxy', image: 'envoyproxy/envoy:v1.31.2' }],
    initContainers: ['busybox:1.36'],
  }),
  deployment('tools', 'grafana', {
    containers: ['grafana/grafana:11.3.0'],
    labels: { app: 'grafana', tier: 'ops' },
  }),
]

const objects: KubeObject[] = cluster([
  ...seededDeployments.flatMap((d) => withPods(d)),
  ...withPods(statefulSet('shop', 'db', { containers: ['postgres:16.4'] })),
  ...withPods(
    daemonSet('tools', 'node-exporter', { containers: ['quay.io/prometheus/node-exporter:v1.8.2'] }),
  ),
  ...withPods(cronJob('tools', 'backup', { containers: ['alpine:3.20'] })),
  pod('shop', 'debug', {
    containers: ['nginx:1.27.3'],
    ephemeralContainers: [{ name: 'dbg', image: 'busybox:1.36', targetContainerName: 'nginx' }],
  }),
  pod('restricted', 'secret-thing', { containers: ['registry.internal:5000/team/thing:1.0'] }),
  // Its page is over 128 KiB: gzipped for a client that asks, as kube-apiserver does.
  pod('bulk', 'annotated', { annotations: { 'example.com/notes': 'z'.repeat(140_000) } }),
  dockerConfigSecret('shop', 'regcred', { 'ghcr.io': { username: 'bot', password: 's3cret' } }),
  serviceAccount('shop', 'builder', { imagePullSecrets: ['regcred'] }),
])

let api: KubeApi
let tmp: { path: string; remove(): Promise<void> }
const kubeconfigs: Record<string, string> = {}

before(async () => {
  tmp = await makeTempDir('kube-fidelity')
  api = await startKubeApi({
    objects,
    tokens: { 'alice-token': 'alice', 'bob-token': { name: 'bob', groups: ['devs'] } },
    certUsers: [{ name: 'carol', groups: ['ops'] }],
    forbidden: [{ user: 'bob', namespace: 'restricted' }],
  })
  for (const [name, opts] of Object.entries({
    alice: { user: 'token', token: 'alice-token' },
    bob: { user: 'token', token: 'bob-token', namespace: 'shop' },
    carol: { user: 'cert', certUser: 'carol' },
  } as const)) {
    kubeconfigs[name] = join(tmp.path, `${name}.kubeconfig`)
    await api.writeKubeconfig(kubeconfigs[name], opts)
  }
})

after(async () => {
  await api?.stop()
  await tmp?.remove()
})

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the real kubectl asynchronously (the server lives in this process), bounded in time. */
function kubectl(user: string, args: string[], cacheDir = 'cache'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: tmp.path,
      KUBECACHEDIR: join(tmp.path, cacheDir),
      LANG: 'C',
    }
    const argv = ['--kubeconfig', kubeconfigs[user] ?? '', '--cache-dir', join(tmp.path, cacheDir), ...args]
    execFile(KUBECTL, argv, { env, timeout: 15_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`))
        return
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr })
    })
  })
}

const podNames = (ns: string) =>
  objects.filter((o) => o.kind === 'Pod' && o.metadata.namespace === ns).map((o) => o.metadata.name)

describe('real kubectl against the test API', () => {
  test('get deployments -A -o json returns exactly the seeded deployments', kt, async () => {
    api.clearRequests()
    const r = await kubectl('alice', ['get', 'deployments', '-A', '-o', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const list = JSON.parse(r.stdout) as { kind: string; items: KubeObject[] }
    assert.equal(list.kind, 'List')
    const summary = (items: KubeObject[]) =>
      items
        .map((d) => ({
          ns: d.metadata.namespace,
          name: d.metadata.name,
          kind: d.kind,
          images: (d.spec.template.spec.containers as Array<{ image: string }>).map((c) => c.image),
          init: ((d.spec.template.spec.initContainers ?? []) as Array<{ image: string }>).map((c) => c.image),
        }))
        .sort((a, b) => `${a.ns}/${a.name}`.localeCompare(`${b.ns}/${b.name}`))
    assert.deepEqual(summary(list.items), summary(seededDeployments))
    const lists = api.requests.filter((q) => q.verb === 'list')
    assert.deepEqual(
      lists.map((q) => [q.pathname, q.query.limit, q.user, q.auth, q.status]),
      [['/apis/apps/v1/deployments', '500', 'alice', 'token', 200]],
    )
  })

  test('get pods -n shop prints the server-side Table', kt, async () => {
    api.clearRequests()
    const r = await kubectl('alice', ['get', 'pods', '-n', 'shop'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.trim().split('\n')
    assert.match(lines[0] ?? '', /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/)
    const names = lines.slice(1).map((l) => l.split(/\s+/)[0])
    assert.deepEqual(names, podNames('shop').sort())
    assert.ok(
      lines.slice(1).every((l) => /\s1\/1\s+Running\s+0\s/.test(l) || l.startsWith('api-')),
      r.stdout,
    )
    assert.match(r.stdout, /\napi-\S+\s+2\/2\s+Running\s+0\s/)
    assert.ok(api.requests.some((q) => q.verb === 'list' && q.table))
  })

  test('--chunk-size=1 pages with limit and continue', kt, async () => {
    api.clearRequests()
    const r = await kubectl('alice', ['get', 'pods', '-n', 'shop', '--chunk-size=1', '-o', 'name'])
    assert.equal(r.code, 0, r.stderr)
    const expected = podNames('shop').sort()
    assert.deepEqual(
      r.stdout.trim().split('\n'),
      expected.map((n) => `pod/${n}`),
    )
    const pages = api.requests.filter(
      (q) => q.verb === 'list' && q.pathname === '/api/v1/namespaces/shop/pods',
    )
    assert.equal(pages.length, expected.length)
    assert.ok(pages.every((q) => q.query.limit === '1' && q.status === 200))
    assert.equal(pages[0]?.query.continue, undefined)
    assert.ok(pages.slice(1).every((q) => (q.query.continue ?? '').length > 0))
  })

  test('a page over 128 KiB comes gzipped, as kubectl asks, and kubectl reads it', kt, async () => {
    api.clearRequests()
    const r = await kubectl('alice', ['get', 'pods', '-n', 'bulk', '-o', 'json'])
    assert.equal(r.code, 0, r.stderr)
    const list = JSON.parse(r.stdout) as { items: KubeObject[] }
    assert.equal(list.items[0]?.metadata.annotations?.['example.com/notes']?.length, 140_000)
    const get = api.requests.find((q) => q.verb === 'list' && q.resource === 'pods')
    assert.match(get?.acceptEncoding ?? '', /\bgzip\b/)
    assert.equal(get?.contentEncoding, 'gzip')
  })

  test('selectors are applied server-side', kt, async () => {
    const r = await kubectl('alice', [
      'get',
      'pods',
      '-A',
      '-l',
      'app in (grafana,db),tier!=web',
      '-o',
      'name',
    ])
    assert.equal(r.code, 0, r.stderr)
    const expected = objects
      .filter((o) => o.kind === 'Pod' && ['grafana', 'db'].includes(o.metadata.labels?.app ?? ''))
      .map((o) => `pod/${o.metadata.name}`)
      .sort()
    assert.deepEqual(r.stdout.trim().split('\n').sort(), expected)
    const f = await kubectl('alice', [
      'get',
      'deploy',
      '-A',
      '--field-selector',
      'metadata.namespace=tools',
      '-o',
      'name',
    ])
    assert.equal(f.stdout.trim(), 'deployment.apps/grafana')
  })

  test('client-certificate auth works', kt, async () => {
    api.clearRequests()
    const r = await kubectl('carol', ['get', 'deployments', '-n', 'shop', '-o', 'name'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['deployment.apps/api', 'deployment.apps/frontend'])
    const list = api.requests.find((q) => q.verb === 'list')
    assert.equal(list?.user, 'carol')
    assert.equal(list?.auth, 'cert')
  })

  test('a forbidden namespace gives kubectl’s Forbidden error; allowed ones still work', kt, async () => {
    const denied = await kubectl('bob', ['get', 'pods', '-n', 'restricted'])
    assert.equal(denied.code, 1)
    assert.match(denied.stderr, /Error from server \(Forbidden\)/)
    assert.match(
      denied.stderr,
      /pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "restricted"/,
    )
    const clusterWide = await kubectl('bob', ['get', 'deployments', '-A'])
    assert.equal(clusterWide.code, 1)
    assert.match(
      clusterWide.stderr,
      /cannot list resource "deployments" in API group "apps" at the cluster scope/,
    )
    const ok = await kubectl('bob', ['get', 'pods', '-o', 'name'])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.trim().split('\n').length, podNames('shop').length)
  })

  test(
    'impersonation in the kubeconfig: our client sends the Impersonate-* headers kubectl sends',
    kt,
    async () => {
      const doc = parse(await readFile(kubeconfigs.alice!, 'utf8')) as { users: Array<{ user: object }> }
      Object.assign(doc.users[0]!.user, {
        as: 'dave',
        'as-uid': 'uid-42',
        'as-groups': ['auditors', 'Développeurs'],
        'as-user-extra': { 'acme.io/team': ['blue', 'green'], reason: ['audit 100%'] },
      })
      kubeconfigs.dave = join(tmp.path, 'dave.kubeconfig')
      await writeFile(kubeconfigs.dave, stringify(doc))
      // The groups decide: only the impersonated identity (dave, in auditors) is denied, never alice.
      api.forbidden.push({ group: 'auditors', namespace: 'restricted' })
      try {
        const denied = await kubectl('dave', ['get', 'pods', '-n', 'restricted'])
        assert.equal(denied.code, 1)
        assert.match(denied.stderr, /pods is forbidden: User "dave" cannot list resource "pods"/)
        api.clearRequests()
        const ok = await kubectl('dave', ['get', 'pods', '-n', 'shop', '-o', 'name'])
        assert.equal(ok.code, 0, ok.stderr)
        const sent = (records: KubeApi['requests']) =>
          records.find((r) => r.resource === 'pods' && r.namespace === 'shop')?.impersonation
        const theirs = sent(api.requests)
        assert.deepEqual(theirs, {
          user: 'dave',
          groups: ['auditors', 'Développeurs'],
          uid: 'uid-42',
          extra: { 'acme.io%2fteam': ['blue', 'green'], reason: ['audit 100%'] },
        })
        api.clearRequests()
        const { kc } = await loadKubeConfig({ kubeconfig: kubeconfigs.dave, env: {} })
        const shop = await readCluster(kc, { namespace: 'shop' })
        assert.deepEqual(sent(api.requests), theirs)
        assert.ok(shop.images.length > 0)
        // kubectl's --as, --as-group and --as-uid replace the kubeconfig's as, as-groups and as-uid.
        const flags = ['--as', 'erin', '--as-group', 'auditors', '--as-uid', 'uid-7']
        api.clearRequests()
        assert.equal((await kubectl('dave', [...flags, 'get', 'pods', '-n', 'shop', '-o', 'name'])).code, 0)
        const theirsFlags = sent(api.requests)
        assert.deepEqual(theirsFlags, { ...theirs, user: 'erin', groups: ['auditors'], uid: 'uid-7' })
        api.clearRequests()
        const withFlags = await loadKubeConfig({
          kubeconfig: kubeconfigs.dave,
          env: {},
          impersonate: { user: 'erin', groups: ['auditors'], uid: 'uid-7' },
        })
        await readCluster(withFlags.kc, { namespace: 'shop' })
        assert.deepEqual(sent(api.requests), theirsFlags)
        const restricted = await readCluster(kc, { namespace: 'restricted' })
        assert.ok(
          restricted.warnings.some((w) =>
            /cannot list pods in namespace restricted: forbidden/.test(w.message),
          ),
        )
      } finally {
        api.forbidden.pop()
      }
    },
  )

  test('legacy discovery (no aggregated discovery) works too, and single GETs', kt, async () => {
    api.aggregatedDiscovery = false
    api.clearRequests()
    try {
      const r = await kubectl('alice', ['get', 'pod', 'debug', '-n', 'shop', '-o', 'json'], 'cache-legacy')
      assert.equal(r.code, 0, r.stderr)
      const p = JSON.parse(r.stdout) as KubeObject
      assert.equal(p.kind, 'Pod')
      assert.equal(p.spec.ephemeralContainers[0].image, 'busybox:1.36')
      assert.match(p.status.containerStatuses[0].imageID, /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/)
      const paths = api.requests.map((q) => q.pathname)
      for (const gv of ['/api/v1', '/apis/apps/v1', '/apis/batch/v1'])
        assert.ok(paths.includes(gv), paths.join(' '))
    } finally {
      api.aggregatedDiscovery = true
    }
  })
})

// ---- raw HTTPS: behaviour kubectl does not show ----

function raw(
  path: string,
  opts: { token?: string | null; accept?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> & { metadata?: Record<string, unknown> } }> {
  const url = new URL(path, api.url)
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' }
  const token = opts.token === undefined ? 'alice-token' : opts.token
  if (token) headers.Authorization = `Bearer ${token}`
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: api.caPem, headers, timeout: 5_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c) => {
        text += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

describe('raw API semantics', () => {
  test('impersonation headers as client-go writes them: escaped extra keys, UTF-8 values', async () => {
    const doc = parse(await readFile(kubeconfigs.alice!, 'utf8')) as { users: Array<{ user: object }> }
    Object.assign(doc.users[0]!.user, {
      as: 'zoë',
      'as-uid': 'ü-1',
      'as-groups': ['Développeurs', '開発'],
      'as-user-extra': { 'acme.io/team': ['blue'], 'ratio%': ['100%'], équipe: ['rouge'], empty: [] },
    })
    const file = join(tmp.path, 'zoe.kubeconfig')
    await writeFile(file, stringify(doc))
    api.clearRequests()
    const { kc } = await loadKubeConfig({ kubeconfig: file, env: {} })
    await readCluster(kc, { namespace: 'shop' })
    const sent = api.requests.filter((r) => r.resource === 'pods')
    assert.ok(sent.length > 0)
    for (const r of sent) {
      assert.equal(r.user, 'zoë')
      assert.deepEqual(r.impersonation, {
        user: 'zoë',
        groups: ['Développeurs', '開発'],
        uid: 'ü-1',
        // Node lowercases header names; client-go's %XX is upper case.
        extra: { 'acme.io%2fteam': ['blue'], 'ratio%25': ['100%'], '%c3%a9quipe': ['rouge'] },
      })
    }
  })

  test('401 without credentials or with a bad token; /version is public', async () => {
    for (const token of [null, 'nope']) {
      const r = await raw('/api/v1/pods', { token })
      assert.equal(r.status, 401)
      assert.deepEqual(r.body, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      })
    }
    const v = await raw('/version', { token: null })
    assert.equal(v.status, 200)
    assert.equal(v.body.gitVersion, 'v1.31.4')
  })

  test('paging: continue, remainingItemCount, consistent snapshot, 400 bad token, 410 after compaction', async () => {
    const all = objects.filter((o) => o.kind === 'Pod').length
    const p1 = await raw('/api/v1/pods?limit=2')
    assert.equal(p1.body.kind, 'PodList')
    assert.equal(p1.body.apiVersion, 'v1')
    const items1 = p1.body.items as KubeObject[]
    assert.equal(items1.length, 2)
    assert.equal(items1[0]?.kind, undefined, 'typed list items carry no kind')
    assert.equal(p1.body.metadata?.remainingItemCount, all - 2)
    const token = String(p1.body.metadata?.continue)
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString())
    assert.equal(decoded.v, 'meta.k8s.io/v1')
    // Objects added after the first page do not show up in later pages (etcd snapshot semantics).
    const [extra] = api.add(pod('zzz', 'late'))
    const p2 = await raw(`/api/v1/pods?limit=1000&continue=${encodeURIComponent(token)}`)
    assert.equal((p2.body.items as KubeObject[]).length, all - 2)
    assert.equal(p2.body.metadata?.continue, undefined)
    assert.equal(p2.body.metadata?.resourceVersion, p1.body.metadata?.resourceVersion)
    api.remove(extra as KubeObject)
    const bad = await raw('/api/v1/pods?limit=1&continue=not-a-token!')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.reason, 'BadRequest')
    api.compact()
    const expired = await raw(`/api/v1/pods?limit=1&continue=${encodeURIComponent(token)}`)
    assert.equal(expired.status, 410)
    assert.equal(expired.body.reason, 'Expired')
    assert.equal(typeof expired.body.metadata?.continue, 'string')
  })

  test('label selectors: notin, !key, key, comma-AND; 403 body shape', async () => {
    const names = async (sel: string) =>
      (
        (await raw(`/apis/apps/v1/deployments?labelSelector=${encodeURIComponent(sel)}`)).body
          .items as KubeObject[]
      )
        .map((d) => d.metadata.name)
        .sort()
    assert.deepEqual(await names('app notin (api,frontend)'), ['grafana'])
    assert.deepEqual(await names('!tier'), ['api', 'frontend'])
    assert.deepEqual(await names('tier,app=grafana'), ['grafana'])
    const badSel = await raw('/apis/apps/v1/deployments?labelSelector=a%3D%3D%3Db')
    assert.equal(badSel.status, 400)
    const forbidden = await raw('/apis/apps/v1/namespaces/restricted/deployments', { token: 'bob-token' })
    assert.deepEqual(forbidden.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API group "apps" in the namespace "restricted"',
      reason: 'Forbidden',
      details: { group: 'apps', kind: 'deployments' },
      code: 403,
    })
  })
})
