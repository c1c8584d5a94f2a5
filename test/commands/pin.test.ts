// kubectl images pin end to end: the CLI against the HTTPS test API server and a real registry.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { checkExitCode, checkPins } from '../../src/pins/check.ts'
import { collectPins } from '../../src/pins/pin.ts'
import { runCli, userEnv } from '../support/cli.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import {
  cluster,
  deployment,
  dockerConfigSecret,
  type KubeObject,
  statefulSet,
  withPods,
} from '../support/kube-fixtures.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

interface Entry {
  image: string
  resultImage: string
  namespace?: string
  deployment?: string
  container?: string
}

type Pod = { status: { containerStatuses: Array<{ name: string; imageID: string }> } }

describe('kubectl images pin against a test API server and a real registry', () => {
  let registry: TestRegistry
  let api: KubeApi
  let dir: string
  let env: NodeJS.ProcessEnv
  let r: string
  let app: Record<string, string>
  let multi: Awaited<ReturnType<TestRegistry['push']>>
  const other = `sha256:${'1'.repeat(64)}`
  const old = `sha256:${'2'.repeat(64)}`

  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    r = registry.host
    ;[app, multi] = await Promise.all([
      registry.pushTags('team/app', ['1.0', '1.1']),
      registry.push('team/multi', '2.0', { platforms: ['linux/amd64', 'linux/arm64'], attestations: true }),
    ])
    // Pods report the digests they pulled (the index digest for multi-arch), as containerd does.
    const web = withPods(
      deployment('shop', 'web', {
        containers: [
          { name: 'web', image: `${r}/team/app:1.0` },
          { name: 'sidecar', image: `${r}/team/multi:2.0` },
        ],
        replicas: 2,
      }),
      {
        podOptions: {
          containers: [
            { name: 'web', image: `${r}/team/app:1.0`, imageID: `${r}/team/app@${app['1.0']}` },
            { name: 'sidecar', image: `${r}/team/multi:2.0`, imageID: `${r}/team/multi@${multi.digest}` },
          ],
        },
      },
    )
    // A rollout in progress: the second pod still runs another digest.
    const rolling = withPods(
      deployment('shop', 'rolling', {
        containers: [{ name: 'api', image: `${r}/team/app:1.1` }],
        replicas: 2,
      }),
      {
        podOptions: {
          containers: [{ name: 'api', image: `${r}/team/app:1.1`, imageID: `${r}/team/app@${app['1.1']}` }],
        },
      },
    )
    const pods = rolling.filter((o) => o.kind === 'Pod') as unknown as Pod[]
    pods[1]!.status.containerStatuses[0]!.imageID = `${r}/team/app@${other}`
    const objects: KubeObject[] = cluster([
      ...web,
      ...rolling,
      // The tag was pushed again since these pods pulled it: they still run the old build.
      ...withPods(
        deployment('ops', 'legacy', { containers: [{ name: 'legacy', image: `${r}/team/app:1.0` }] }),
        {
          podOptions: {
            containers: [{ name: 'legacy', image: `${r}/team/app:1.0`, imageID: `${r}/team/app@${old}` }],
          },
        },
      ),
      // No pods: nothing runs, so --from-running falls back to the registry.
      ...withPods(statefulSet('ops', 'db', { containers: [{ name: 'db', image: `${r}/team/app:1.1` }] }), {
        pods: 0,
      }),
    ])
    api = await startKubeApi({ objects })
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-pin-cli-'))
    await api.writeKubeconfig(join(dir, 'config'), { namespace: 'shop' })
    env = userEnv(dir)
  })
  after(async () => {
    await Promise.all([api.stop(), registry.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  const request = () => ({
    insecure: true,
    'request-timeout': '5s',
    timeout: '30s',
    concurrency: 8,
    retries: 0,
    version: 'test',
    apiVersion: 'kubectl-images.io/v1alpha1',
    env,
  })
  const pin = (args: string[]) => runCli(['pin', '--insecure', '--retries', '0', ...args], { env })
  const byWorkload = (entries: Entry[]) =>
    Object.fromEntries(entries.map((e) => [`${e.namespace}/${e.deployment}/${e.container}`, e.resultImage]))

  let pinned = ''

  test('pin -A --digest -o yaml: kluctl fixed images pinned by digest, sorted', async () => {
    const run = await pin(['-A', '--digest', '-o', 'yaml'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stderr, '')
    const entry = (result: string, namespace: string, deployment: string, container: string) =>
      `  - image: ${result.split(/[:@]/).slice(0, 2).join(':')}\n    resultImage: ${result}\n    namespace: ${namespace}\n    deployment: ${deployment}\n    container: ${container}\n`
    assert.equal(
      run.stdout,
      `images:\n${[
        entry(`${r}/team/app:1.0@${app['1.0']}`, 'ops', 'Deployment/legacy', 'legacy'),
        entry(`${r}/team/app:1.1@${app['1.1']}`, 'ops', 'StatefulSet/db', 'db'),
        entry(`${r}/team/app:1.1@${app['1.1']}`, 'shop', 'Deployment/rolling', 'api'),
        entry(`${r}/team/app:1.0@${app['1.0']}`, 'shop', 'Deployment/web', 'web'),
        entry(`${r}/team/multi:2.0@${multi.digest}`, 'shop', 'Deployment/web', 'sidecar'),
      ].join('')}`,
    )
    const doc = parse(run.stdout) as { images: Entry[] }
    assert.deepEqual(Object.keys(doc), ['images'])
    assert.deepEqual(byWorkload(doc.images), {
      'ops/Deployment/legacy/legacy': `${r}/team/app:1.0@${app['1.0']}`,
      'ops/StatefulSet/db/db': `${r}/team/app:1.1@${app['1.1']}`,
      'shop/Deployment/rolling/api': `${r}/team/app:1.1@${app['1.1']}`,
      'shop/Deployment/web/web': `${r}/team/app:1.0@${app['1.0']}`,
      'shop/Deployment/web/sidecar': `${r}/team/multi:2.0@${multi.digest}`,
    })
    pinned = run.stdout
  })

  test('--output-file is atomic: a failed run leaves the old file, a good one replaces it', async () => {
    const out = join(dir, 'out')
    await mkdir(out, { recursive: true })
    const file = join(out, 'pins.json')
    await writeFile(file, '{"images": []}\n', { mode: 0o640 })
    // Rendered manifests whose tag is not in the registry: --digest fails (and needs no cluster).
    const manifest = join(dir, 'missing.yaml')
    await writeFile(
      manifest,
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'gone', namespace: 'shop' },
        spec: { template: { spec: { containers: [{ name: 'gone', image: `${r}/team/app:9.9` }] } } },
      }),
    )
    const failed = await pin(['-f', manifest, '--digest', '--output-file', file])
    assert.equal(failed.code, 1)
    assert.equal(failed.stdout, '')
    assert.equal(
      failed.stderr,
      `error: shop/Deployment/gone container gone: tag or digest ${r}/team/app:9.9 not found\nerror: 1 container could not be pinned; nothing was written (${file} is unchanged)\n`,
    )
    assert.equal(await readFile(file, 'utf8'), '{"images": []}\n')
    assert.deepEqual(await readdir(out), ['pins.json'])

    const ok = await pin([
      '-n',
      'shop',
      '-l',
      'app=web',
      '--digest-only',
      '--platform',
      'linux/arm64',
      '-o',
      'json',
      '--output-file',
      file,
    ])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout, '')
    assert.equal(
      ok.stderr,
      `warning: ${r}/team/app:1.0 is a single manifest, not an index: pinned as it is, without checking its platform against linux/arm64\nwrote 2 entries to ${file}\n`,
    )
    assert.deepEqual(byWorkload((JSON.parse(await readFile(file, 'utf8')) as { images: Entry[] }).images), {
      'shop/Deployment/web/web': `${r}/team/app@${app['1.0']}`,
      'shop/Deployment/web/sidecar': `${r}/team/multi@${multi.platformDigests['linux/arm64']}`,
    })
    assert.equal((await stat(file)).mode & 0o777, 0o640)
    assert.deepEqual(await readdir(out), ['pins.json'])
  })

  test('pin --check: drift from running pods exits 3; a clean file exits 0', async () => {
    assert.ok(pinned, 'needs the first test')
    const file = join(dir, 'check.yaml')
    await writeFile(file, pinned)
    const drift = await runCli(['pin', '--insecure', '-A', '--check', file], { env })
    assert.equal(drift.code, 3, drift.stderr)
    const lines = drift.stdout.trimEnd().split('\n')
    assert.equal(lines.length, 3, drift.stdout)
    assert.match(
      lines[1]!,
      new RegExp(
        `^images\\[0\\]\\s+ops/Deployment/legacy \\[legacy\\]\\s+\\S+\\s+${r}/team/app:1\\.0\\s+pods run ${old}$`,
      ),
    )
    assert.match(
      lines[2]!,
      new RegExp(
        `^images\\[2\\]\\s+shop/Deployment/rolling \\[api\\]\\s+\\S+\\s+${r}/team/app:1\\.1\\s+pods run ${other}$`,
      ),
    )
    assert.match(drift.stderr, /^5 entries checked against 5 containers: 2 with drift\n$/)

    // In process (the command renders the same report): a namespace and selector where nothing drifted.
    const report = await checkPins({ ...request(), namespace: 'shop', selector: 'app=web', check: file })
    assert.equal(checkExitCode(report), 0)
    assert.equal(report.kind, 'PinCheck')
    assert.deepEqual(report.summary, {
      entries: 5,
      containers: 2,
      uncovered: 0,
      drift: 0,
      noWorkload: 3,
      errors: 0,
    })
  })

  test('pin --check: a spec on another tag than the pin is drift, whatever digest its pods run', async () => {
    // The pods of shop/web run 1.0's digest; the pin names that digest under tag 1.1.
    const file = join(dir, 'moved.yaml')
    await writeFile(
      file,
      [
        'images:',
        `  - image: ${r}/team/app`,
        `    resultImage: ${r}/team/app:1.1@${app['1.0']}`,
        '    namespace: shop',
        '    deployment: Deployment/web',
        '    container: web',
        '',
      ].join('\n'),
    )
    const report = await checkPins({ ...request(), namespace: 'shop', selector: 'app=web', check: file })
    assert.equal(checkExitCode(report), 3)
    assert.equal(report.summary.drift, 1)
    // Not only the tag having moved in the registry: the deployed tag itself differs from the pin.
    assert.deepEqual(
      report.items.flatMap((item) =>
        item.problems.filter((p) => p.type === 'deployed-differs').map((p) => p.message),
      ),
      ['deployed tag differs'],
    )
  })

  test('--from-running pins what the pods run; a fixed entry settles a workload with drift', async () => {
    const drift = await collectPins({ ...request(), 'all-namespaces': true, 'from-running': true })
    assert.deepEqual(drift.errors, [
      `shop/Deployment/rolling container api: pods run 2 digests (${[app['1.1'], other].sort().join(', ')}); pin one with -F ${r}/team/app:shop:Deployment/rolling:api=${r}/team/app@<digest>`,
    ])
    const outcome = await collectPins({
      ...request(),
      'all-namespaces': true,
      'from-running': true,
      'fixed-image': [`${r}/team/app:shop:Deployment/rolling:api=${r}/team/app:1.1`],
    })
    assert.deepEqual(outcome.errors, [])
    assert.deepEqual(byWorkload(outcome.entries), {
      'ops/Deployment/legacy/legacy': `${r}/team/app:1.0@${old}`,
      'ops/StatefulSet/db/db': `${r}/team/app:1.1@${app['1.1']}`,
      'shop/Deployment/rolling/api': `${r}/team/app:1.1@${app['1.1']}`,
      'shop/Deployment/web/web': `${r}/team/app:1.0@${app['1.0']}`,
      'shop/Deployment/web/sidecar': `${r}/team/multi:2.0@${multi.digest}`,
    })
    assert.deepEqual(outcome.warnings, [
      '1 container has no running pod reporting a digest; pinned to what the tag points at in the registry',
    ])
  })

  test('a usage error exits 2 with one line', async () => {
    const check = await pin(['--check', 'x.yaml', '--digest', '--simple'])
    assert.equal(check.code, 2)
    assert.equal(
      check.stderr,
      'error: --check compares a file; it cannot be combined with --digest, --simple\n',
    )
  })

  test('the pin command module loads no client-node and no undici', async () => {
    const mod = new URL('../../src/commands/pin.ts', import.meta.url).href
    const code = `
      import { registerHooks } from 'node:module'
      const seen = []
      registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context) } })
      await import(${JSON.stringify(mod)})
      console.log(JSON.stringify(seen))
    `
    const { stdout } = await execFile_(process.execPath, ['--input-type=module', '-e', code])
    const seen = JSON.parse(stdout) as string[]
    assert.deepEqual(
      seen.filter(
        (s) => s.includes('@kubernetes/client-node') || s.includes('undici') || s.includes('/pins/'),
      ),
      [],
    )
  })
})

const execFile_ = promisify(execFile)

describe('kubectl images pin --use-pull-secrets', () => {
  let privateRegistry: TestRegistry
  let api: KubeApi
  let dir: string
  let env: NodeJS.ProcessEnv
  let app: Record<string, string>

  before(async () => {
    privateRegistry = await startRegistry({
      auth: 'htpasswd',
      users: { puller: 'pin-secret-pw' },
      storage: 'inmemory',
    })
    app = await privateRegistry.pushTags('secret/app', ['5.0.0'])
    const image = `${privateRegistry.host}/secret/app:5.0.0`
    api = await startKubeApi({
      objects: cluster([
        ...withPods(
          deployment('private', 'app', {
            containers: [{ name: 'app', image }],
            imagePullSecrets: ['regcred'],
          }),
          {
            podOptions: {
              containers: [
                { name: 'app', image, imageID: `${privateRegistry.host}/secret/app@${app['5.0.0']}` },
              ],
            },
          },
        ),
        dockerConfigSecret('private', 'regcred', {
          [privateRegistry.host]: { username: 'puller', password: 'pin-secret-pw' },
        }),
      ]),
    })
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-pin-secrets-'))
    await api.writeKubeconfig(join(dir, 'config'), { namespace: 'private' })
    env = userEnv(dir)
  })
  after(async () => {
    await Promise.all([api.stop(), privateRegistry.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  test('pins and checks a private image by digest with the workload pull secret, never printing it', async () => {
    const pin = (args: string[]) => runCli(['pin', '--insecure', '--retries', '0', ...args], { env })
    const without = await pin(['--digest'])
    assert.equal(without.code, 1)
    assert.match(without.stderr, /private\/Deployment\/app.*requires authentication/)

    const run = await pin(['--digest', '--use-pull-secrets', '-o', 'json'])
    assert.equal(run.code, 0, run.stderr)
    const doc = JSON.parse(run.stdout) as { images: Entry[] }
    assert.deepEqual(
      doc.images.map((e) => e.resultImage),
      [`${privateRegistry.host}/secret/app:5.0.0@${app['5.0.0']}`],
    )
    const file = join(dir, 'pins.yaml')
    const written = await pin(['--digest', '--use-pull-secrets', '--output-file', file])
    assert.equal(written.code, 0, written.stderr)
    const check = await pin(['--check', file, '--use-pull-secrets'])
    assert.equal(check.code, 0, check.stderr)
    for (const out of [without, run, written, check])
      assert.doesNotMatch(out.stdout + out.stderr, /pin-secret-pw/)
  })
})
