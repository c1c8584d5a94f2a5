// pin --check against rendered manifests (-f) and the real test registry: a clean file, each kind of drift
// (deployed image differs, tag gone, tag moved), entries matching no workload, and what could not be checked.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type CheckRequest, checkExitCode, checkPins } from '../../src/pins/check.ts'
import { renderCheck } from '../../src/render/pin.ts'
import { deleteManifest } from '../support/images.ts'
import { pickFreePort } from '../support/lifecycle.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

function deployment(
  namespace: string,
  name: string,
  containers: Array<{ name: string; image: string }>,
): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { template: { spec: { containers } } },
  })
}

describe('pin --check (manifests and a real registry)', () => {
  let registry: TestRegistry
  let dir: string
  let r: string
  let manifests: string
  const d: Record<string, string> = {}
  let multi: Awaited<ReturnType<TestRegistry['push']>>

  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    r = registry.host
    const [app, gone, moving] = await Promise.all([
      registry.pushTags('team/app', ['1.0', '1.1']),
      registry.push('team/gone', '1.0'),
      registry.push('team/moving', '1.0'),
    ])
    multi = await registry.push('team/multi', '2.0', { platforms: ['linux/amd64', 'linux/arm64'] })
    Object.assign(d, { app10: app['1.0']!, gone: gone.digest, moving: moving.digest })
    // The tag goes away with its manifest; the other tag is pushed again with new content.
    await deleteManifest(registry.pushTarget, 'team/gone', gone.digest)
    d.moved = (await registry.push('team/moving', '1.0', { seed: 'rebuilt' })).digest
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-check-'))
    manifests = join(dir, 'manifests.yaml')
    await writeFile(
      manifests,
      [
        deployment('shop', 'web', [
          { name: 'web', image: `${r}/team/app:1.0` },
          { name: 'sidecar', image: `${r}/team/multi:2.0` },
        ]),
        deployment('shop', 'api', [{ name: 'api', image: `${r}/team/app:1.1` }]),
        deployment('shop', 'old', [{ name: 'old', image: `${r}/team/gone:1.0` }]),
        deployment('shop', 'cron', [{ name: 'cron', image: `${r}/team/moving:1.0` }]),
      ].join('\n---\n'),
    )
  })
  after(async () => {
    await registry.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function check(pins: string, name = 'pins.yaml') {
    const file = join(dir, name)
    await writeFile(file, pins)
    const request: CheckRequest = {
      check: file,
      filename: [manifests],
      insecure: true,
      'request-timeout': '3s',
      timeout: '20s',
      concurrency: 8,
      retries: 0,
      version: 'test',
      apiVersion: 'kubectl-images.io/v1alpha1',
      env: { HOME: dir },
    }
    const report = await checkPins(request)
    return { report, code: checkExitCode(report), file }
  }

  const entry = (image: string, result: string, keys: Record<string, string> = {}) =>
    `  - image: ${image}\n    resultImage: ${result}\n${Object.entries(keys)
      .map(([k, v]) => `    ${k}: ${v}\n`)
      .join('')}`

  test('clean: digest and platform pins of what runs, and an entry for no workload only warns', async () => {
    const { report, code } = await check(
      `images:\n${[
        entry(`${r}/team/app`, `${r}/team/app:1.0@${d.app10}`, { deployment: 'Deployment/web' }),
        entry(`${r}/team/app`, `${r}/team/app:1.1`, { deployment: 'Deployment/api' }),
        // A --platform pin: the platform manifest belongs to the index the tag points at.
        entry(`${r}/team/multi`, `${r}/team/multi:2.0@${multi.platformDigests['linux/arm64']}`),
        entry(`${r}/team/app`, `${r}/team/app:1.0`, { namespace: 'elsewhere' }),
      ].join('')}`,
    )
    assert.equal(code, 0, JSON.stringify(report.items, null, 2))
    assert.deepEqual(report.summary, {
      entries: 4,
      containers: 3,
      uncovered: 2,
      drift: 0,
      noWorkload: 1,
      errors: 0,
    })
    const none = report.items.find((item) => item.namespace === 'elsewhere')!
    assert.deepEqual(none.problems, [{ type: 'no-workload', message: 'matches no workload' }])
    assert.equal(none.workload, undefined)
  })

  test('drift: deployed image differs, tag gone, tag moved (exit code 3)', async () => {
    const { report, code } = await check(
      `images:\n${[
        entry(`${r}/team/app`, `${r}/team/app:1.0`),
        entry(`${r}/team/gone`, `${r}/team/gone:1.0@${d.gone}`),
        entry(`${r}/team/moving`, `${r}/team/moving:1.0@${d.moving}`),
        entry(`${r}/team/multi`, `${r}/team/multi@${d.app10}`),
      ].join('')}`,
    )
    assert.equal(code, 3)
    const problems = Object.fromEntries(
      report.items.map((item) => [
        `${item.entry} ${item.workload?.name}`,
        item.problems.map((p) => `${p.type}: ${p.message}`),
      ]),
    )
    assert.deepEqual(problems, {
      'images[0] web': [],
      'images[0] api': ['deployed-differs: deployed tag differs'],
      'images[1] old': [`tag-not-found: tag 1.0 is gone from the registry`],
      // Same tag as the pin and no pods: the moved tag is the one problem.
      'images[2] cron': [`tag-moved: tag 1.0 now points at ${d.moved}`],
      // A digest from another repository: gone from this one, and not what the tag gives.
      'images[3] web': [
        `deployed-differs: deployed tag 2.0 points at ${multi.digest}`,
        `digest-not-found: digest ${d.app10} is gone from the registry`,
      ],
    })
    assert.equal(report.summary.drift, 4)
    const table = renderCheck(report, { format: 'table' })
    const lines = table.trimEnd().split('\n')
    assert.match(lines[0]!, /^ENTRY\s+WORKLOAD\s+EXPECTED\s+ACTUAL\s+PROBLEM$/)
    assert.equal(lines.length, 5)
    assert.match(
      table,
      new RegExp(
        `images\\[0\\]\\s+shop/Deployment/api \\[api\\]\\s+${r}/team/app:1.0\\s+${r}/team/app:1.1\\s+deployed tag differs`,
      ),
    )
  })

  test('a registry that cannot be reached: exit code 1 when nothing drifted', async () => {
    const port = await pickFreePort()
    const { report, code } = await check(
      `images:\n${entry(`${r}/team/app`, `${r}/team/app:1.0@${d.app10}`, { deployment: 'Deployment/web' })}${entry(
        `127.0.0.1:${port}/x`,
        `127.0.0.1:${port}/x:1`,
      )}`,
    )
    assert.equal(code, 1)
    assert.equal(report.summary.errors, 1)
    const item = report.items.find((i) => i.expected === `127.0.0.1:${port}/x:1`)!
    assert.deepEqual(
      item.problems.map((p) => p.type),
      ['no-workload', 'error'],
    )
    assert.match(item.problems[1]!.message, new RegExp(`^cannot check 127\\.0\\.0\\.1:${port}/x:1: `))
  })

  test('a bad file is an error with file, line and key', async () => {
    await assert.rejects(
      check('images:\n  - image: a\n    resultImage: a:1\n    namespaces: x\n', 'bad.yaml'),
      {
        name: 'UserError',
        message: `${join(dir, 'bad.yaml')}:4: images[0].namespaces: unknown key (expected image, resultImage, namespace, deployment, container, imageRegex)`,
      },
    )
  })
})
