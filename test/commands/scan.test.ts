import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CLUSTER_KINDS } from '../../src/cluster/read.ts'
import { runCli, userEnv } from '../support/cli.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import {
  cluster,
  cronJob,
  daemonSet,
  deployment,
  dockerConfigSecret,
  type KubeObject,
  pod,
  statefulSet,
  withPods,
} from '../support/kube-fixtures.ts'
import { type FaultProxy, startFaultProxy } from '../support/proxy.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

interface Row {
  namespace: string
  kind: string
  name: string
  container: string
  containerType: string
  status: string
  latest?: string
  policySource?: string
  drift: boolean
  runningDigests: string[]
  pinned?: { current?: boolean }
  error?: string
}

/** Every resource the reader lists. */
const WORKLOAD_RESOURCES = CLUSTER_KINDS.map((info) => info.resource)
const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

describe('kubectl images scan against a test API server and a real registry', () => {
  let registry: TestRegistry
  let privateRegistry: TestRegistry
  let proxy: FaultProxy
  let api: KubeApi
  let dir: string
  let env: NodeJS.ProcessEnv
  let r: string

  before(async () => {
    ;[registry, privateRegistry] = await Promise.all([
      startRegistry({ auth: 'none', storage: 'inmemory' }),
      startRegistry({ auth: 'htpasswd', users: { puller: 'pull-secret-pw' }, storage: 'inmemory' }),
    ])
    proxy = await startFaultProxy(registry.url)
    r = proxy.host
    await registry.pushTags('lib/nginx', ['1.25.3', '1.26.0', '1.27.3', '1.25-alpine', '1.27-alpine'])
    await registry.pushTags('team/api', ['1.2.3', '1.2.4', '2.0.0', 'master-100', 'master-120'])
    await registry.pushTags('tools/agent', ['0.9.0', '0.9.1'])
    const pinned = await registry.push('team/pinned', '3.0.0')
    await privateRegistry.pushTags('secret/app', ['5.0.0', '5.1.0'])

    const web = withPods(
      deployment('shop', 'web', {
        containers: [
          { name: 'web', image: `${r}/lib/nginx:1.25.3` },
          { name: 'edge', image: `${r}/lib/nginx:1.25-alpine` },
        ],
        initContainers: [{ name: 'migrate', image: `${r}/team/api:1.2.3` }],
        replicas: 2,
      }),
    )
    // The second pod runs another digest: a rollout in progress, or a tag pushed again.
    const pods = web.filter((o) => o.kind === 'Pod')
    ;(pods[1] as unknown as { status: { containerStatuses: Array<{ imageID: string }> } }).status
      .containerStatuses[0]!.imageID = `${r}/lib/nginx@sha256:${'1'.repeat(64)}`
    const objects: KubeObject[] = cluster([
      ...web,
      ...withPods(
        deployment('shop', 'api', {
          containers: [{ name: 'api', image: `${r}/team/api:master-100` }],
          annotations: { 'kubectl-images.io/policy': "prefix('master-', suffix=number())" },
        }),
      ),
      ...withPods(
        statefulSet('shop', 'db', {
          containers: [{ name: 'db', image: `${r}/team/pinned:3.0.0@${pinned.digest}` }],
        }),
      ),
      ...withPods(
        daemonSet('ops', 'agent', { containers: [{ name: 'agent', image: `${r}/tools/agent:0.9.0` }] }),
      ),
      ...withPods(
        cronJob('ops', 'report', { containers: [{ name: 'report', image: `${r}/team/api:1.2.4` }] }),
      ),
      pod('ops', 'debug', {
        containers: [{ name: 'main', image: `${r}/tools/agent:0.9.1` }],
        ephemeralContainers: [{ name: 'dbg', image: `${r}/lib/nginx:1.27.3`, targetContainerName: 'main' }],
      }),
      ...withPods(
        deployment('ops', 'quiet', {
          containers: [{ name: 'quiet', image: `${r}/lib/nginx:1.25.3` }],
          annotations: { 'kubectl-images.io/skip': 'true' },
        }),
      ),
      ...withPods(
        deployment('private', 'app', {
          containers: [{ name: 'app', image: `${privateRegistry.host}/secret/app:5.0.0` }],
          imagePullSecrets: ['regcred'],
        }),
      ),
      dockerConfigSecret('private', 'regcred', {
        [privateRegistry.host]: { username: 'puller', password: 'pull-secret-pw' },
      }),
      ...withPods(
        deployment('restricted', 'hidden', { containers: [{ name: 'x', image: `${r}/lib/nginx:1.25.3` }] }),
      ),
    ])
    api = await startKubeApi({
      objects,
      tokens: { 'scan-token': 'scanner', 'nobody-token': 'nobody' },
      // No cluster-wide grant for workloads, and nothing in `restricted`; namespaces may be listed.
      forbidden: WORKLOAD_RESOURCES.map((resource) => ({
        user: 'scanner',
        namespace: 'restricted',
        resource,
      })),
    })
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-scan-'))
    await api.writeKubeconfig(join(dir, 'config'), { user: 'token', token: 'scan-token', namespace: 'shop' })
    env = userEnv(dir)
  })
  after(async () => {
    await Promise.all([api.stop(), proxy.stop(), registry.stop(), privateRegistry.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  async function scanJson(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const run = await runCli(['scan', '--insecure', '--retries', '0', '-o', 'json', ...args], {
      env: { ...env, ...extraEnv },
    })
    return {
      run,
      doc: run.stdout
        ? (JSON.parse(run.stdout) as { items: Row[]; warnings: Array<{ message: string }> } & Record<
            string,
            unknown
          >)
        : undefined,
    }
  }

  test('-A reads every workload kind once, with init and ephemeral containers, digests, drift and policies', async () => {
    const { run, doc } = await scanJson(['-A', '--no-cache'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(doc!.apiVersion, 'kubectl-images.io/v1alpha1')
    assert.equal(doc!.kind, 'ScanReport')
    const rows = doc!.items
    const find = (ns: string, name: string, container: string) => {
      const row = rows.find((x) => x.namespace === ns && x.name === name && x.container === container)
      assert.ok(
        row,
        `row ${ns}/${name}/${container} in ${JSON.stringify(rows.map((x) => `${x.namespace}/${x.name}/${x.container}`))}`,
      )
      return row
    }
    const web = find('shop', 'web', 'web')
    assert.equal(web.kind, 'Deployment')
    assert.equal(web.status, 'minor')
    assert.equal(web.latest, '1.27.3')
    assert.equal(web.drift, true)
    assert.equal(web.runningDigests.length, 2)
    assert.equal(find('shop', 'web', 'edge').latest, '1.27-alpine')
    const migrate = find('shop', 'web', 'migrate')
    assert.equal(migrate.containerType, 'init')
    assert.equal(migrate.status, 'major')
    const api = find('shop', 'api', 'api')
    assert.equal(api.latest, 'master-120')
    assert.equal(api.policySource, 'annotation kubectl-images.io/policy')
    assert.equal(find('shop', 'db', 'db').status, 'pinned-digest')
    assert.equal(find('shop', 'db', 'db').pinned?.current, true)
    assert.equal(find('ops', 'agent', 'agent').status, 'patch')
    assert.equal(find('ops', 'report', 'report').kind, 'CronJob')
    assert.equal(find('ops', 'debug', 'dbg').containerType, 'ephemeral')
    assert.equal(find('ops', 'quiet', 'quiet').status, 'skipped')
    // One row per workload container: no ReplicaSet, Job or owned Pod rows.
    assert.ok(!rows.some((x) => x.kind === 'ReplicaSet' || x.kind === 'Job'))
    assert.equal(rows.filter((x) => x.name === 'web').length, 3)
    // The private registry needs the pull secret, which is not read without the flag.
    assert.equal(find('private', 'app', 'app').status, 'unknown')
    assert.match(find('private', 'app', 'app').error!, /requires authentication/)
    // The forbidden namespace is a warning, not a failure.
    assert.ok(!rows.some((x) => x.namespace === 'restricted'))
    assert.ok(
      doc!.warnings.some((w) => /restricted/.test(w.message) && /forbidden/i.test(w.message)),
      JSON.stringify(doc!.warnings),
    )
  })

  test('--use-pull-secrets reads the workload pull secret, never printing it', async () => {
    const { run, doc } = await scanJson(['-n', 'private', '--use-pull-secrets', '--no-cache'])
    assert.equal(run.code, 0, run.stderr)
    const row = doc!.items.find((x) => x.name === 'app')!
    assert.equal(row.status, 'minor')
    assert.equal(row.latest, '5.1.0')
    assert.doesNotMatch(run.stdout + run.stderr, /pull-secret-pw/)
  })

  test('the table, --fail-on, and a second run served from the tag cache', async () => {
    proxy.clear()
    const first = await runCli(['scan', '--insecure', '--fail-on', 'minor'], { env })
    assert.equal(first.code, 3, first.stderr)
    const lines = first.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^NAMESPACE\s+WORKLOAD\s+CONTAINER\s+IMAGE\s+LATEST\s+STATUS$/)
    assert.ok(
      lines.some((l) =>
        /^shop\s+Deployment\/web\s+web\s+\S+lib\/nginx:1\.25\.3\s+1\.27\.3\s+minor, drift \(2 digests\)$/.test(
          l,
        ),
      ),
      first.stdout,
    )
    assert.match(first.stderr, /tripped --fail-on minor/)
    const listed = proxy.count(/tags\/list/)
    assert.ok(listed >= 3, `first run lists tags (${listed})`)
    proxy.clear()
    const second = await runCli(['scan', '--insecure', '-o', 'json'], { env })
    assert.equal(second.code, 0, second.stderr)
    assert.equal(proxy.count(/tags\/list/), 0, 'inside the cache TTL no tag list is requested')
    const third = await runCli(['scan', '--insecure', '-o', 'json', '--no-cache'], { env })
    assert.equal(third.code, 0)
    assert.ok(proxy.count(/tags\/list/) >= 3)
  })

  test('--only outdated, --explain and --policy-for', async () => {
    const run = await runCli(
      [
        'scan',
        '--insecure',
        '--no-cache',
        '--only',
        'outdated',
        '--explain',
        '--policy-for',
        `${r}/lib/nginx=semver('<1.27')`,
      ],
      { env },
    )
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout.split('\n')[0]!, /POLICY\s+POLICY SOURCE$/)
    assert.ok(!/pinned-digest|up-to-date/.test(run.stdout))
    assert.match(run.stdout, /1\.26\.0\s+minor.*semver\('<1\.27'\)\s+flag --policy-for/)
  })

  test('scans rendered manifests from stdin with no cluster', async () => {
    const manifest = `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: m1}
  spec: {template: {spec: {containers: [{name: c, image: "${r}/lib/nginx:1.26.0"}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j1, namespace: jobs}
spec: {template: {spec: {containers: [{name: j, image: "${r}/tools/agent:0.9.1"}]}}}
`
    const run = await runCli(['scan', '--insecure', '--no-cache', '-f', '-', '-o', 'json'], {
      env: { ...env, KUBECONFIG: join(dir, 'missing') },
      input: manifest,
    })
    assert.equal(run.code, 0, run.stderr)
    const rows = (JSON.parse(run.stdout) as { items: Row[] }).items
    assert.deepEqual(
      rows.map((x) => [x.namespace, x.kind, x.name, x.status]),
      [
        ['default', 'Deployment', 'm1', 'minor'],
        ['jobs', 'Job', 'j1', 'up-to-date'],
      ],
    )
  })

  test('a reader that stops early (| head) ends the run quietly', async () => {
    // Enough rows that the JSON outgrows the pipe's buffer: the CLI is still writing when the reader leaves.
    const manifest = Array.from(
      { length: 400 },
      (_, i) =>
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d${i}}\nspec: {template: {spec: {containers: [{name: c, image: "${r}/lib/nginx:1.26.0"}]}}}\n`,
    ).join('---\n')
    const child = spawn(
      process.execPath,
      [BIN, 'scan', '--insecure', '--no-cache', '-f', '-', '-o', 'json'],
      {
        env: { ...process.env, ...env, NO_COLOR: '1', KUBECONFIG: join(dir, 'missing') },
      },
    )
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk
    })
    child.stdout.once('data', () => child.stdout.destroy())
    child.stdin.end(manifest)
    const [code] = (await once(child, 'close')) as [number | null]
    assert.equal(stderr, '')
    assert.equal(code, 0)
  })

  test('--as, --as-group and --as-uid impersonate as in kubectl: the read is authorized as that identity', async () => {
    api.clearRequests()
    const as = ['--as', 'auditor', '--as-group', 'audit', '--as-group', 'view', '--as-uid', 'u-7']
    const { run, doc } = await scanJson(['-n', 'restricted', '--no-cache', ...as])
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(
      doc!.items.map((row) => row.name),
      ['hidden'],
    )
    const sent = api.requests.filter((r) => r.resource === 'deployments')
    assert.ok(sent.length > 0)
    for (const r of sent)
      assert.deepEqual(r.impersonation, { user: 'auditor', groups: ['audit', 'view'], uid: 'u-7', extra: {} })
    // The kubeconfig's own user may not read that namespace.
    const own = await scanJson(['-n', 'restricted', '--no-cache'])
    assert.equal(own.run.code, 1)
    assert.match(own.run.stderr, /could not read any workload in namespace restricted/)
    // Nor may the same impersonated user in a group that is denied: the groups are sent too.
    api.forbidden.push({ group: 'blocked', namespace: 'restricted' })
    try {
      const blocked = await scanJson(['-n', 'restricted', '--no-cache', ...as, '--as-group', 'blocked'])
      assert.equal(blocked.run.code, 1)
      assert.match(blocked.run.stderr, /could not read any workload in namespace restricted/)
    } finally {
      api.forbidden.pop()
    }
  })

  test('a user who may read nothing gets an error, not an empty report', async () => {
    api.forbidden.push({ user: 'nobody' })
    await api.writeKubeconfig(join(dir, 'nobody'), { user: 'token', token: 'nobody-token' })
    const run = await runCli(['scan', '-A'], { env: { ...env, KUBECONFIG: join(dir, 'nobody') } })
    assert.equal(run.code, 1)
    assert.match(
      run.stderr,
      /^error: could not read any workload in any namespace .*forbidden; check your RBAC/,
    )
  })

  test('--timeout stops a credential plugin that never answers: scan, pin and vector, one line each', async () => {
    const plugin = join(dir, 'hanging-plugin')
    await writeFile(plugin, '#!/bin/sh\nexec sleep 60\n')
    await chmod(plugin, 0o755)
    const config = join(dir, 'hanging')
    await api.writeKubeconfig(config)
    const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}\n      interactiveMode: Never`
    await writeFile(config, (await readFile(config, 'utf8')).replace(/ {4}token: .*/, exec))
    const vectorFile = fileURLToPath(new URL('../../examples/vector/images.yaml', import.meta.url))
    for (const args of [
      ['scan', '-A'],
      ['pin', '-A'],
      ['vector', vectorFile],
    ]) {
      const run = await runCli([...args, '--timeout', '1s'], {
        env: { ...env, KUBECONFIG: config },
        timeoutMs: 30_000,
      })
      assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`)
      assert.equal(run.stderr, `error: the run's --timeout passed while reading the cluster at ${api.url}\n`)
    }
  })

  test('a broken kubeconfig is one line and exit code 1', async () => {
    await writeFile(join(dir, 'broken'), 'apiVersion: v1\nclusters: [\n')
    const run = await runCli(['scan', '--insecure'], { env: { ...env, KUBECONFIG: join(dir, 'broken') } })
    assert.equal(run.code, 1)
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr)
    assert.match(run.stderr, /^error: .*broken/)
    const none = await runCli(['scan'], { env: { ...env, KUBECONFIG: join(dir, 'nope') } })
    assert.equal(none.code, 1)
    assert.match(none.stderr, /^error: /)
  })

  test('runs through kubectl plugin discovery', { skip: !existsSync('/usr/bin/kubectl') }, async () => {
    const pluginDir = join(dir, 'plugins')
    await mkdir(pluginDir, { recursive: true })
    await symlink(
      fileURLToPath(new URL('../../bin/kubectl-images', import.meta.url)),
      join(pluginDir, 'kubectl-images'),
    ).catch(() => undefined)
    const { stdout } = await promisify(execFile)(
      '/usr/bin/kubectl',
      ['images', 'scan', '-n', 'ops', '--insecure', '--no-cache'],
      {
        env: { ...process.env, ...env, NO_COLOR: '1', PATH: `${pluginDir}:${process.env.PATH}` },
        timeout: 30_000,
      },
    )
    assert.match(stdout, /^ops\s+DaemonSet\/agent\s+agent\s+\S+tools\/agent:0\.9\.0\s+0\.9\.1\s+patch$/m)
  })
})
