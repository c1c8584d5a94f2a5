import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { ContainerImage } from '../../src/cluster/types.ts'
import { TagLookup } from '../../src/latest/lookup.ts'
import { RegistryClient } from '../../src/registry/client.ts'
import { TagExclusions } from '../../src/registry/exclude.ts'
import { failingRows, type PolicyDecision, scanImages, tagPrefetcher } from '../../src/scan/scan.ts'
import { containerImage } from '../support/inventory.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const usage = containerImage

describe('scanImages against a real registry', () => {
  let registry: TestRegistry
  let pinnedDigest: string
  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    await registry.pushTags('lib/nginx', [
      '1.25.3',
      '1.25.4',
      '1.26.0',
      '1.27.3',
      '1.25-alpine',
      '1.27-alpine',
    ])
    await registry.pushTags('team/app', ['1.2.3', '1.2.4', '0.9.0', '2.0.0'])
    pinnedDigest = (await registry.push('team/pinned', '1.0.0')).digest
    await registry.push('team/pinned', '1.1.0')
  })
  after(() => registry.stop())

  async function scan(images: ContainerImage[], decide?: (u: ContainerImage) => Partial<PolicyDecision>) {
    const client = new RegistryClient({
      access: async () => ({ insecure: true, skipTlsVerify: false, source: 'test' }),
      http: { retries: 0 },
    })
    const lookup = new TagLookup({ client, exclusions: new TagExclusions() })
    const report = await scanImages(
      { source: 'cluster', context: 'test', images, warnings: [] },
      {
        lookup,
        apiVersion: 'kubectl-images.io/v1alpha1',
        resolvePolicy: (u) => ({
          expr: 'auto',
          source: 'default',
          excludes: [],
          skip: false,
          ...decide?.(u),
        }),
      },
    )
    await client.close()
    return { report, client }
  }

  test('classifies each container and asks for each repository once', async () => {
    const r = registry.host
    const { report, client } = await scan([
      usage('web', `${r}/lib/nginx:1.25.3`),
      usage('web2', `${r}/lib/nginx:1.25.3`),
      usage('edge', `${r}/lib/nginx:1.25-alpine`),
      usage('api', `${r}/team/app:1.2.3`),
      usage('old', `${r}/team/app:0.9.0`),
      usage('new', `${r}/team/app:2.0.0`),
    ])
    const byName = Object.fromEntries(report.items.map((row) => [row.name, row]))
    assert.equal(byName.web!.status, 'minor')
    assert.equal(byName.web!.latest, '1.27.3')
    assert.equal(byName.edge!.status, 'minor')
    assert.equal(byName.edge!.latest, '1.27-alpine')
    assert.equal(byName.api!.status, 'major')
    assert.equal(byName.old!.status, 'major')
    assert.equal(byName.new!.status, 'up-to-date')
    assert.equal(client.stats.tagListRequests, 2, 'one tag list per repository')
    assert.equal(report.summary.repositories, 2)
    assert.equal(report.summary.containers, 6)
    assert.deepEqual(
      report.items.map((row) => row.repository),
      [...report.items.map((row) => row.repository)].sort(),
      'rows of one repository are grouped',
    )
  })

  test('patch, pinned digests (current and moved), drift, unknown and skipped rows', async () => {
    const r = registry.host
    const { report } = await scan(
      [
        usage('patchy', `${r}/team/app:1.2.3`, {
          runningDigests: ['sha256:aa', 'sha256:bb'],
          annotations: { 'kubectl-images.io/policy': "semver('~1.2')" },
        }),
        usage('pin-ok', `${r}/team/pinned:1.1.0@${pinnedDigest}`),
        usage('pin-digest-only', `${r}/team/pinned@${pinnedDigest}`),
        usage('pin-missing', `${r}/team/gone@${pinnedDigest}`),
        usage('missing', `${r}/team/missing:1.0`),
        usage('broken', 'Not/Valid:x'),
        usage('skipped', `${r}/team/app:1.2.3`, { annotations: { 'kubectl-images.io/skip': 'true' } }),
      ],
      // Like the real resolver, decided by the image, the container and the policy annotations alone.
      (u) =>
        u.annotations['kubectl-images.io/skip'] === 'true'
          ? { skip: true, source: 'annotation kubectl-images.io/skip' }
          : u.annotations['kubectl-images.io/policy']
            ? { expr: u.annotations['kubectl-images.io/policy'], source: 'flag --policy' }
            : {},
    )
    const byName = Object.fromEntries(report.items.map((row) => [row.name, row]))
    assert.equal(byName.patchy!.status, 'patch')
    assert.equal(byName.patchy!.latest, '1.2.4')
    assert.equal(byName.patchy!.policySource, 'flag --policy')
    assert.equal(byName.patchy!.drift, true)
    assert.equal(byName['pin-ok']!.status, 'pinned-digest')
    assert.equal(byName['pin-ok']!.pinned!.current, false, '1.1.0 now points at another digest')
    assert.equal(byName['pin-digest-only']!.status, 'pinned-digest')
    assert.equal(byName['pin-digest-only']!.pinned!.current, undefined)
    // A pin whose repository the registry cannot list is unknown, with the reason; the pin is still shown.
    assert.equal(byName['pin-missing']!.status, 'unknown')
    assert.match(byName['pin-missing']!.error!, /not found/)
    assert.equal(byName['pin-missing']!.pinned!.digest, pinnedDigest)
    assert.equal(byName.missing!.status, 'unknown')
    assert.match(byName.missing!.error!, /not found/)
    assert.equal(byName.broken!.status, 'unknown')
    assert.match(byName.broken!.error!, /invalid image reference/)
    assert.equal(byName.skipped!.status, 'skipped')

    assert.deepEqual(failingRows(report, ['major']), [])
    assert.deepEqual(
      failingRows(report, ['patch']).map((row) => row.name),
      ['patchy'],
    )
    assert.deepEqual(
      failingRows(report, ['unknown'])
        .map((row) => row.name)
        .sort(),
      ['broken', 'missing', 'pin-missing'],
    )
    assert.ok(
      failingRows(report, ['any']).some((row) => row.name === 'pin-ok'),
      'a moved pin fails --fail-on any',
    )
  })
  test('tagPrefetcher: each repository fetched once ahead of the scan; skipped and bad images not at all', async () => {
    const r = registry.host
    const client = new RegistryClient({
      access: async () => ({ insecure: true, skipTlsVerify: false, source: 'test' }),
      http: { retries: 0 },
    })
    const lookup = new TagLookup({ client, exclusions: new TagExclusions() })
    const resolvePolicy = (u: ContainerImage): PolicyDecision => ({
      expr: 'auto',
      source: 'default',
      excludes: [],
      skip: u.workload.name === 'skipped',
    })
    const prefetch = tagPrefetcher({ lookup, resolvePolicy })
    const images = [
      usage('web', `${r}/lib/nginx:1.25.3`),
      usage('skipped', `${r}/team/pinned:1.0.0`),
      usage('bad', 'Not//An:Image'),
    ]
    prefetch(images.slice(0, 2))
    prefetch([usage('web2', `${r}/lib/nginx:1.27.3`), ...images.slice(2)])
    // The lookup is memoised: awaiting it waits for the prefetched request instead of sending another.
    assert.equal((await lookup.tags({ domain: r, path: 'lib/nginx' })).length, 6)
    const report = await scanImages(
      { source: 'cluster', images, warnings: [] },
      { lookup, resolvePolicy, apiVersion: 'kubectl-images.io/v1alpha1' },
    )
    await client.close()
    assert.equal(report.items.find((row) => row.name === 'web')?.status, 'minor')
    assert.equal(client.stats.tagListRequests, 1, 'nginx once; the skipped repository never')
  })
})
