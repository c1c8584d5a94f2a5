// collectVector in-process: flags checked before anything is read (exit code 2), what a missing kubeconfig
// says, and the exit-code-3 reasons.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { collectVector, type VectorReport, type VectorRequest, vectorFailures } from '../../src/vector/run.ts'
import { startRegistry } from '../support/registry.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/vector/images.yaml', import.meta.url))

describe('collectVector', () => {
  let dir: string
  let request: VectorRequest
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-vector-run-'))
    request = {
      file: EXAMPLE,
      cacheTtlMs: 0,
      version: 'test',
      apiVersion: 'kubectl-images.io/v1alpha1',
      'request-timeout': '5s',
      timeout: '10s',
      concurrency: 4,
      retries: 0,
      env: { KUBECONFIG: join(dir, 'missing'), HOME: dir },
    }
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('bad flags are usage errors (exit 2), checked before any file or cluster is read', async () => {
    const cases: Array<[Partial<VectorRequest>, RegExp]> = [
      [{ 'no-cluster': true, 'check-cluster': true }, /cannot be combined with --no-cluster/],
      [{ 'runtime-version': 'v1.x.y' }, /^invalid --runtime-version "v1\.x\.y"/],
      [{ arch: '' }, /^--arch takes an architecture such as amd64 or arm64 \(got ""\)$/],
      [{ arch: 'x86-64' }, /^--arch takes an architecture such as amd64 or arm64 \(got "x86-64"\)$/],
      [{ 'fail-on': ['major'] }, /^--fail-on major compares tags in the registry: add --check-registry$/],
      [{ policy: 'semver()' }, /^--policy decides which newer tags --check-registry reports/],
      [{ 'check-registry': true, policy: "prefix('x'" }, /^invalid policy "prefix\('x'" at column/],
      [{ 'no-cluster': true, name: ['etcd', 'nope', 'nada'] }, /^no entry named "nope", "nada" in /],
      [{ file: join(dir, 'missing.yaml'), 'no-cluster': true, 'check-cluster': true }, /cannot be combined/],
    ]
    for (const [extra, message] of cases) {
      await assert.rejects(
        collectVector({ ...request, ...extra }),
        (error: Error & { exitCode?: number }) => {
          assert.match(error.message, message)
          assert.equal(error.exitCode, 2, error.message)
          return true
        },
      )
    }
  })

  test('no kubeconfig: exit 1, and the way around is --no-cluster', async () => {
    await assert.rejects(collectVector(request), (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, 1)
      assert.match(error.message, /^no kubeconfig found: KUBECONFIG names a file that does not exist/)
      assert.match(error.message, /, or resolve without a cluster: --no-cluster --target-version VERSION$/)
      assert.doesNotMatch(error.message, /-f to scan/)
      return true
    })
  })

  test('exit code 3 reasons: failed checks always, the rest with --fail-on', async () => {
    const { report } = await collectVector({ ...request, 'no-cluster': true, 'target-version': '1.31.2' })
    assert.equal(report.summary.unresolved, 1)
    assert.deepEqual(vectorFailures(report, []), [])
    assert.deepEqual(vectorFailures(report, ['unresolved']), [
      '1 name without a tagged image (--fail-on unresolved)',
    ])
    const checked: VectorReport = {
      ...report,
      summary: {
        ...report.summary,
        registry: { exists: 3, missing: 2, unknown: 1, outdated: 1 },
        cluster: { containers: 4, matches: 2, differs: 1, unknown: 1, unmatched: 0 },
      },
      items: report.items.map((i, k) =>
        k === 0 ? { ...i, registry: { status: 'exists', latest: 'v2', distance: 'major' } } : i,
      ),
    }
    assert.deepEqual(vectorFailures(checked, ['patch', 'unknown']), [
      '2 images missing from the registry (--check-registry)',
      '1 deployed container differ from the vector (--check-cluster)',
      '1 image behind (--fail-on patch)',
      '1 check could not be done (--fail-on unknown)',
    ])
  })

  test("--check-registry trusts an overwrite's caBundle (a mirror with its own PKI)", async () => {
    const registry = await startRegistry({ auth: 'none', storage: 'inmemory', tls: true })
    try {
      await registry.pushTags('mirror/etcd', ['v3.5.27'])
      const pem = await readFile(registry.caPath!, 'utf8')
      const images = [{ name: 'etcd', repository: `${registry.host}/mirror/etcd` }]
      const withCa = join(dir, 'with-ca.json')
      const withoutCa = join(dir, 'without-ca.json')
      await writeFile(withCa, JSON.stringify({ images, caBundle: { inline: pem } }))
      await writeFile(withoutCa, JSON.stringify({ images }))
      const check = async (overwrite: string) => {
        const { report, caBundle } = await collectVector({
          ...request,
          'no-cluster': true,
          'target-version': '1.34.0',
          name: ['etcd'],
          overwrite: [overwrite],
          'check-registry': true,
        })
        return { registry: report.items[0]!.registry!, caBundle }
      }
      const trusted = await check(withCa)
      assert.equal(trusted.caBundle?.inline, pem)
      assert.equal(trusted.registry.status, 'exists', trusted.registry.error)
      const untrusted = await check(withoutCa)
      assert.equal(untrusted.registry.status, 'unknown')
      assert.match(untrusted.registry.error ?? '', /certificate|TLS|tls/)
    } finally {
      await registry.stop()
    }
  })
})
