// checkCluster: deployed containers against the vector's resolved images, with the digests their pods run.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { ContainerImage } from '../../src/cluster/types.ts'
import { checkCluster } from '../../src/vector/check.ts'
import { containerImage } from '../support/inventory.ts'

const A = `sha256:${'a'.repeat(64)}`
const B = `sha256:${'b'.repeat(64)}`

const container = (name: string, image: string, runningDigests: string[]): ContainerImage =>
  containerImage(name, image, {
    namespace: 'garden',
    container: 'app',
    runningDigests,
    pods: runningDigests.length,
  })

test('a pinned vector image: matched by the digest the pods run, differing when they run another or the spec moved', () => {
  const vector = [{ name: 'app', repository: 'r.io/app', tag: `1.0@${A}` }]
  const items = [{ name: 'app', image: `r.io/app:1.0@${A}`, why: 'test', candidates: [] }]
  const { rows } = checkCluster(vector, items, {
    source: 'cluster',
    warnings: [],
    images: [
      container('runs-it', 'r.io/app:1.0', [A]),
      container('runs-another', 'r.io/app:1.0', [B]),
      container('no-pods', 'r.io/app:1.0', []),
      container('spec-moved', 'r.io/app:1.1', [A]),
    ],
  })
  const by = Object.fromEntries(
    rows.map((row) => [row.workload, `${row.status}${row.reason ? `: ${row.reason}` : ''}`]),
  )
  assert.deepEqual(by, {
    'runs-it': 'matches',
    'runs-another': `differs: its pods run ${B}`,
    'no-pods': 'matches: same tag; the digest was not compared',
    'spec-moved': 'differs: another tag',
  })
})
