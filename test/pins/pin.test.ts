// The pin core against rendered manifests (-f) and the real test registry behind a recording proxy: tags,
// digests (single- and multi-arch, --platform, --digest-only), --latest --include, fixed entries, errors.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { collectPins, type PinRequest } from '../../src/pins/pin.ts'
import { type FaultProxy, startFaultProxy } from '../support/proxy.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

interface Container {
  name: string
  image: string
}

function workload(
  kind: string,
  namespace: string | undefined,
  name: string,
  containers: Container[],
  extra: {
    initContainers?: Container[]
    ephemeralContainers?: Container[]
    annotations?: Record<string, string>
  } = {},
): string {
  const spec = {
    containers,
    ...(extra.initContainers ? { initContainers: extra.initContainers } : {}),
    ...(extra.ephemeralContainers ? { ephemeralContainers: extra.ephemeralContainers } : {}),
  }
  const metadata = {
    name,
    ...(namespace ? { namespace } : {}),
    ...(extra.annotations ? { annotations: extra.annotations } : {}),
  }
  const body =
    kind === 'Pod'
      ? { apiVersion: 'v1', kind, metadata, spec }
      : { apiVersion: 'apps/v1', kind, metadata, spec: { template: { spec } } }
  return JSON.stringify(body)
}

describe('pin core (manifests and a real registry)', () => {
  let registry: TestRegistry
  let proxy: FaultProxy
  let dir: string
  let r: string
  let multi: Awaited<ReturnType<TestRegistry['push']>>
  let app: Record<string, string>
  let plain: Awaited<ReturnType<TestRegistry['push']>>
  let manifests: string

  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    proxy = await startFaultProxy(registry.url)
    r = proxy.host
    ;[app, multi, plain] = await Promise.all([
      registry.pushTags('team/app', ['1.0.0', '1.1.0', '1.2.0', '2.0.0-rc1']),
      registry.push('team/multi', '2.0', { platforms: ['linux/amd64', 'linux/arm64'], attestations: true }),
      registry.push('team/plain', 'latest'),
      registry.pushTags('lib/web', ['1.0', '1.1', '1.2']),
      registry.pushTags('tools/agent', ['0.1.0', '0.2.0', '0.3.0']),
    ])
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-pin-'))
    manifests = join(dir, 'manifests.yaml')
    await writeFile(
      manifests,
      [
        workload(
          'Deployment',
          'shop',
          'web',
          [
            { name: 'web', image: `${r}/team/app:1.0.0` },
            { name: 'sidecar', image: `${r}/team/multi:2.0` },
          ],
          { initContainers: [{ name: 'migrate', image: `${r}/team/app:1.0.0` }] },
        ),
        workload('Deployment', 'shop', 'api', [{ name: 'api', image: `${r}/lib/web:1.0` }]),
        workload('StatefulSet', 'ops', 'db', [{ name: 'db', image: `${r}/team/plain` }]),
        workload(
          'Deployment',
          'ops',
          'agent',
          [
            { name: 'agent', image: `${r}/tools/agent:0.1.0` },
            { name: 'helper', image: `${r}/tools/agent:0.1.0` },
          ],
          {
            annotations: {
              'kubectl-images.io/skip.agent': 'true',
              'kubectl-images.io/policy.helper': "semver('<0.3')",
            },
          },
        ),
        workload('Pod', 'ops', 'debug', [{ name: 'main', image: `${r}/lib/web:1.1` }], {
          ephemeralContainers: [{ name: 'dbg', image: `${r}/team/app:1.1.0` }],
        }),
      ].join('\n---\n'),
    )
  })
  after(async () => {
    await Promise.all([proxy.stop(), registry.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  function request(extra: Partial<PinRequest> = {}): PinRequest {
    return {
      filename: [manifests],
      insecure: true,
      'request-timeout': '5s',
      timeout: '30s',
      concurrency: 8,
      retries: 0,
      version: 'test',
      env: { HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') },
      ...extra,
    }
  }
  const results = (outcome: Awaited<ReturnType<typeof collectPins>>) =>
    Object.fromEntries(outcome.entries.map((e) => [`${e.deployment}/${e.container}`, e.resultImage]))

  test('as deployed: one entry per workload container (init included, ephemeral not), no registry request', async () => {
    proxy.clear()
    const outcome = await collectPins(request())
    assert.deepEqual(outcome.errors, [])
    // Sorted by image, then namespace, deployment, container.
    assert.deepEqual(outcome.entries.slice(0, 2), [
      {
        image: `${r}/lib/web`,
        resultImage: `${r}/lib/web:1.1`,
        namespace: 'ops',
        deployment: 'Pod/debug',
        container: 'main',
      },
      {
        image: `${r}/lib/web`,
        resultImage: `${r}/lib/web:1.0`,
        namespace: 'shop',
        deployment: 'Deployment/api',
        container: 'api',
      },
    ])
    assert.deepEqual(results(outcome), {
      'Deployment/api/api': `${r}/lib/web:1.0`,
      'Pod/debug/main': `${r}/lib/web:1.1`,
      'Deployment/web/web': `${r}/team/app:1.0.0`,
      'Deployment/web/migrate': `${r}/team/app:1.0.0`,
      'Deployment/web/sidecar': `${r}/team/multi:2.0`,
      'StatefulSet/db/db': `${r}/team/plain`,
      'Deployment/agent/agent': `${r}/tools/agent:0.1.0`,
      'Deployment/agent/helper': `${r}/tools/agent:0.1.0`,
    })
    assert.equal(proxy.requests.length, 0)
  })

  test('--digest: repo:tag@digest, the index digest for multi-arch, each tag asked once', async () => {
    proxy.clear()
    const outcome = await collectPins(request({ digest: true }))
    assert.deepEqual(outcome.errors, [])
    const got = results(outcome)
    assert.equal(got['Deployment/web/web'], `${r}/team/app:1.0.0@${app['1.0.0']}`)
    assert.equal(got['Deployment/web/migrate'], `${r}/team/app:1.0.0@${app['1.0.0']}`)
    assert.equal(got['Deployment/web/sidecar'], `${r}/team/multi:2.0@${multi.digest}`)
    // No tag written: the tag a pull uses, made explicit.
    assert.equal(got['StatefulSet/db/db'], `${r}/team/plain:latest@${plain.digest}`)
    assert.equal(proxy.count(/\/v2\/team\/app\/manifests\/1\.0\.0$/, 'HEAD'), 1)
    assert.equal(proxy.count(/\/manifests\//, 'GET'), 0)
  })

  test('--digest-only and --platform', async () => {
    const only = results(await collectPins(request({ 'digest-only': true })))
    assert.equal(only['Deployment/web/sidecar'], `${r}/team/multi@${multi.digest}`)
    assert.equal(only['StatefulSet/db/db'], `${r}/team/plain@${plain.digest}`)
    const arm = await collectPins(request({ platform: 'linux/aarch64' }))
    assert.deepEqual(arm.errors, [])
    assert.equal(
      results(arm)['Deployment/web/sidecar'],
      `${r}/team/multi:2.0@${multi.platformDigests['linux/arm64']}`,
    )
    // Single manifests are pinned as they are, with a warning that their platform was not checked.
    assert.equal(results(arm)['Deployment/web/web'], `${r}/team/app:1.0.0@${app['1.0.0']}`)
    assert.ok(
      arm.warnings.some((w) =>
        /^\d+ images are single manifests, not indexes: .*team\/app:1\.0\.0(, |$)/.test(w),
      ),
    )
    const none = await collectPins(request({ platform: 'linux/s390x' }))
    assert.ok(
      none.errors.some((e) =>
        /^shop\/Deployment\/web container sidecar: .*team\/multi:2\.0 has no linux\/s390x manifest \(it offers linux\/amd64, linux\/arm64\)$/.test(
          e,
        ),
      ),
      none.errors.join('\n'),
    )
  })

  test('--latest: the newest tag under the scan policy; --include limits which images move', async () => {
    const latest = await collectPins(request({ latest: true }))
    // An image whose policy matches no tag (here: only `latest` exists) cannot move; pin it by hand.
    assert.deepEqual(latest.errors, [
      `ops/StatefulSet/db container db: cannot find the newest tag: no tag of ${r}/team/plain matches policy auto(current="latest") (1 tag listed); pin it with -F or leave it out of --include`,
    ])
    const all = results(latest)
    assert.equal(all['Deployment/web/web'], `${r}/team/app:1.2.0`)
    assert.equal(all['Deployment/api/api'], `${r}/lib/web:1.2`)
    // The workload's annotations decide as in scan: a skipped container stays as deployed.
    assert.equal(all['Deployment/agent/helper'], `${r}/tools/agent:0.2.0`)
    assert.equal(all['Deployment/agent/agent'], `${r}/tools/agent:0.1.0`)
    assert.ok(
      latest.warnings.includes(
        `${r}/tools/agent (annotation kubectl-images.io/skip.agent) is skipped; it stays as deployed`,
      ),
      latest.warnings.join('\n'),
    )
    const some = await collectPins(request({ latest: true, include: [`${r}/lib/*`] }))
    assert.equal(results(some)['Deployment/api/api'], `${r}/lib/web:1.2`)
    assert.equal(results(some)['Deployment/web/web'], `${r}/team/app:1.0.0`)
    // --policy-for as in scan, then digests of the new tags.
    const policy = await collectPins(
      request({
        latest: true,
        include: [`${r}/team/app`],
        'policy-for': [`${r}/team/app=semver('<1.2')`],
        digest: true,
      }),
    )
    assert.equal(results(policy)['Deployment/web/web'], `${r}/team/app:1.1.0@${app['1.1.0']}`)
    await assert.rejects(collectPins(request({ include: ['x'] })), /--include limits --latest/)
  })

  test('fixed entries override rows: files in order, then -F, the last match wins, even over --latest', async () => {
    const file = join(dir, 'fixed.yaml')
    await writeFile(
      file,
      `images:\n  - image: ${r}/team/app\n    resultImage: ${r}/team/app:1.1.0\n  - image: ${r}/team/app\n    resultImage: ${r}/team/app:0.9\n    container: migrate\n  - image: ${r}/nope\n    resultImage: ${r}/nope:1\n`,
    )
    const outcome = await collectPins(
      request({
        latest: true,
        'fixed-images-file': [file],
        'fixed-image': [
          `${r}/team/app:shop:Deployment/web:web=${r}/team/app:1.0.0`,
          `${r}/team/app:ops=${r}/team/app:5`,
        ],
      }),
    )
    const got = results(outcome)
    assert.equal(got['Deployment/web/web'], `${r}/team/app:1.0.0`)
    assert.equal(got['Deployment/web/migrate'], `${r}/team/app:0.9`)
    assert.equal(got['Deployment/api/api'], `${r}/lib/web:1.2`)
    assert.deepEqual(
      outcome.warnings.filter((w) => /match|wins/.test(w)),
      [
        // web/web has -F #1, migrate the second file entry.
        `${file}:2 images[0]: a later entry wins for every container it matches`,
        `${file}:7 images[2]: matches no container`,
        `-F #2 (${r}/team/app:ops=${r}/team/app:5): matches no container`,
      ],
    )
    // Without -F, the first file entry pins web/web.
    const fileOnly = await collectPins(request({ 'fixed-images-file': [file] }))
    assert.equal(results(fileOnly)['Deployment/web/web'], `${r}/team/app:1.1.0`)
    assert.ok(!fileOnly.warnings.some((w) => w.includes('images[0]')))
  })

  test('a missing tag fails its container; --simple reports conflicts', async () => {
    const missing = await collectPins(
      request({ digest: true, 'fixed-image': [`${r}/lib/web=${r}/lib/web:9.9`] }),
    )
    assert.equal(missing.errors.length, 2)
    assert.match(
      missing.errors.sort()[1]!,
      /^shop\/Deployment\/api container api: tag or digest .*lib\/web:9\.9 not found/,
    )
    const simple = await collectPins(request({ simple: true }))
    assert.deepEqual(
      simple.entries.find((e) => e.image === `${r}/lib/web`),
      { image: `${r}/lib/web`, resultImage: `${r}/lib/web:1.1` },
    )
    assert.ok(simple.warnings.some((w) => w.startsWith(`--simple: ${r}/lib/web is pinned to several images`)))
  })
})
