// `kubectl images vector` end to end against the HTTPS test Kubernetes API (its /version gives the target
// version) and a real docker-registry: the default versions, --check-registry, --check-cluster, exit codes.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { runCli, userEnv } from '../support/cli.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import { cluster, daemonSet, deployment, pod, withPods } from '../support/kube-fixtures.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

interface Item {
  name: string
  image?: string
  tag?: string
  tagFrom?: string
  error?: string
  registry?: { status: string; latest?: string; distance?: string; digest?: string; error?: string }
  cluster?: { matches: number; differs: number; unknown: number }
}
interface Report {
  kind: string
  context?: string
  serverVersion?: string
  targetVersion?: string
  targetVersionFrom?: string
  runtimeVersion?: string
  tagVersion?: string
  summary: Record<string, unknown>
  items: Item[]
  deployed?: Array<{ namespace: string; workload: string; status: string; reason?: string; names: string[] }>
}

describe('kubectl images vector against a test API server and a real registry', () => {
  let registry: TestRegistry
  let api: KubeApi
  let dir: string
  let env: NodeJS.ProcessEnv
  let file: string
  let backendDigest: string

  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    const r = registry.host
    await Promise.all([
      registry.pushTags('gardener/etcd', ['v3.5.26', 'v3.5.27', 'v3.6.1']),
      registry.pushTags('k8s/kube-apiserver', ['v1.34.1', 'v1.34.2']),
      registry.pushTags('k8s/pause', ['3.9', '3.10']),
      registry.pushTags('autoscaler/ca', ['v1.34.3', 'v1.35.1']),
    ])
    backendDigest = (await registry.push('team/backend', '2.0.0')).digest
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-vector-cli-'))
    file = join(dir, 'images.yaml')
    await writeFile(
      file,
      `images:
- name: etcd
  repository: ${r}/gardener/etcd
  tag: v3.5.27
- name: kube-apiserver
  repository: ${r}/k8s/kube-apiserver
- name: pause-container
  repository: ${r}/k8s/pause
  tag: "3.10"
- name: cluster-autoscaler
  repository: ${r}/autoscaler/ca
  tag: v1.35.1
  targetVersion: ">= 1.35"
- name: cluster-autoscaler
  repository: ${r}/autoscaler/ca
  tag: v1.34.3
  targetVersion: "1.34.x"
- name: backend
  repository: ${r}/team/backend
  tag: "${backendDigest}"
- name: missing
  repository: ${r}/missing/thing
  tag: "1.0"
`,
    )
    api = await startKubeApi({
      gitVersion: 'v1.34.2-gke.1200',
      objects: cluster([
        ...withPods(
          deployment('kube-system', 'etcd', {
            containers: [{ name: 'etcd', image: `${r}/gardener/etcd:v3.5.27` }],
          }),
        ),
        ...withPods(
          deployment('kube-system', 'kube-apiserver', {
            containers: [{ name: 'kube-apiserver', image: `${r}/k8s/kube-apiserver:v1.34.1` }],
          }),
        ),
        ...withPods(
          daemonSet('kube-system', 'ca', {
            containers: [{ name: 'ca', image: `${r}/autoscaler/ca:v1.34.3` }],
          }),
        ),
        pod('garden', 'backend', {
          containers: [{ name: 'main', image: `${r}/team/backend@${backendDigest}` }],
        }),
        ...withPods(deployment('shop', 'web', { containers: [{ name: 'web', image: 'nginx:1.27.3' }] })),
      ]),
    })
    await api.writeKubeconfig(join(dir, 'config'), { namespace: 'kube-system' })
    env = userEnv(dir)
  })
  after(async () => {
    await Promise.all([api.stop(), registry.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  const vector = (args: string[]) => runCli(['vector', file, ...args], { env })

  test('versions default to the cluster /version (tag-less entries get v<major.minor.patch>); --check-registry: HEAD, newer tags under auto, a missing image exits 3', async () => {
    const run = await vector(['--check-registry', '--insecure', '--retries', '0', '--no-cache', '-o', 'json'])
    assert.equal(run.code, 3, run.stderr)
    assert.match(run.stderr, /^error: 1 image missing from the registry \(--check-registry\)$/m)
    const doc = JSON.parse(run.stdout) as Report
    assert.equal(doc.kind, 'VectorReport')
    assert.equal(doc.context, 'kube-test')
    assert.equal(doc.serverVersion, 'v1.34.2-gke.1200')
    assert.equal(doc.targetVersion, 'v1.34.2-gke.1200')
    assert.equal(doc.targetVersionFrom, 'cluster')
    assert.equal(doc.runtimeVersion, 'v1.34.2-gke.1200')
    assert.equal(doc.tagVersion, '1.34.2')
    // Only /version was asked: no workload is listed without --check-cluster.
    assert.ok(api.requests.some((q) => q.pathname === '/version'))
    assert.ok(!api.requests.some((q) => q.resource === 'deployments'))

    const byName = Object.fromEntries(doc.items.map((i) => [i.name, i]))
    assert.equal(byName['kube-apiserver']!.image, `${registry.host}/k8s/kube-apiserver:v1.34.2`)
    assert.equal(byName['kube-apiserver']!.tagFrom, 'target-version')
    assert.equal(byName['cluster-autoscaler']!.tag, 'v1.34.3')
    assert.equal(byName.backend!.image, `${registry.host}/team/backend@${backendDigest}`)
    assert.deepEqual(
      { ...byName.etcd!.registry, digest: undefined },
      {
        status: 'exists',
        digest: undefined,
        latest: 'v3.6.1',
        latestImage: `${registry.host}/gardener/etcd:v3.6.1`,
        distance: 'minor',
        policy: 'auto(current="v3.5.27")',
      },
    )
    assert.equal(byName['kube-apiserver']!.registry!.distance, 'up-to-date')
    assert.equal(byName['cluster-autoscaler']!.registry!.latest, 'v1.35.1')
    assert.equal(byName.backend!.registry!.status, 'exists')
    assert.equal(byName.backend!.registry!.digest, backendDigest)
    assert.equal(byName.missing!.registry!.status, 'missing')
    assert.deepEqual(doc.summary.registry, { exists: 5, missing: 1, unknown: 0, outdated: 2 })
  })

  test('--check-registry --fail-on minor: images behind trip the threshold (exit 3)', async () => {
    const run = await vector([
      '--no-cluster',
      '--target-version',
      '1.34.2',
      '--check-registry',
      '--insecure',
      '--retries',
      '0',
      '--name',
      'pause-container',
      '--name',
      'etcd',
      '--fail-on',
      'minor',
    ])
    assert.equal(run.code, 3, run.stderr)
    assert.match(run.stdout, /^NAME\s+IMAGE\s+ENTRY\s+WHY\s+REGISTRY\s+NEWEST$/m)
    assert.match(
      run.stdout,
      /^etcd\s+\S+gardener\/etcd:v3\.5\.27\s+\S+images\.yaml:2\s+only entry\s+exists\s+v3\.6\.1 \(minor\)$/m,
    )
    assert.match(run.stdout, /^pause-container\s.*\sexists\s+up-to-date$/m)
    assert.match(run.stderr, /^error: 1 image behind \(--fail-on minor\)$/m)
  })

  test('--check-cluster -A: deployed containers matched by repository; one that differs exits 3', async () => {
    const run = await vector(['--check-cluster', '-A'])
    assert.equal(run.code, 3, run.stderr)
    const [main, deployed] = run.stdout.split('\n\n')
    assert.match(main!, /^NAME\s+IMAGE\s+ENTRY\s+WHY\s+CLUSTER$/m)
    assert.match(main!, /^kube-apiserver\s.*\s1 differs$/m)
    assert.match(main!, /^etcd\s.*\s1 matches$/m)
    assert.match(main!, /^backend\s.*\s1 matches$/m)
    assert.match(main!, /^pause-container\s.*\snot deployed$/m)
    assert.match(deployed!, /^NAMESPACE\s+WORKLOAD\s+CONTAINER\s+DEPLOYED\s+VECTOR\s+STATUS$/m)
    assert.match(
      deployed!,
      /^kube-system\s+Deployment\/kube-apiserver\s+kube-apiserver\s+\S+k8s\/kube-apiserver:v1\.34\.1\s+\S+k8s\/kube-apiserver:v1\.34\.2 \(kube-apiserver\)\s+differs: another tag$/m,
    )
    assert.equal(deployed!.trim().split('\n').length, 2)
    assert.match(run.stderr, /cluster: 3 containers match, 1 differ, 0 unknown \(5 read\)/)
    assert.match(run.stderr, /^error: 1 deployed container differ from the vector \(--check-cluster\)$/m)
  })
})
