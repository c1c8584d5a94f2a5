// The notes under the scan table: one warning line per cause of failure, then the summary.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderStructured } from '../../src/render/output.ts'
import { scanNotes } from '../../src/render/scan.ts'
import type { ScanReport, ScanRow } from '../../src/scan/scan.ts'

const row = (repository: string, error?: string): ScanRow => ({
  namespace: 'default',
  kind: 'Deployment',
  name: repository.split('/').pop()!,
  container: 'c',
  containerType: 'container',
  image: `${repository}:1.0`,
  repository,
  runningDigests: [],
  drift: false,
  pods: 0,
  status: error ? 'unknown' : 'up-to-date',
  ...(error ? { error } : {}),
})

test('failures sharing a cause are one line naming the first repositories; a lone one names its own', () => {
  const refused = 'connection to 10.0.0.9:5000 refused'
  const items = [
    ...['a', 'b', 'c', 'd', 'e'].map((n) => row(`10.0.0.9:5000/${n}`, refused)),
    row('ghcr.io/acme/api', 'no tag matches policy semver(">=2")'),
    row('ghcr.io/acme/ok'),
    row('10.0.0.9:5000/a', refused),
  ]
  const report: ScanReport = {
    apiVersion: 'kubectl-images.io/v1alpha1',
    kind: 'ScanReport',
    source: 'manifests',
    generatedAt: '2026-11-26T00:00:00Z',
    summary: {
      containers: items.length,
      workloads: 7,
      repositories: 7,
      statuses: { unknown: 7, 'up-to-date': 1 },
    },
    warnings: [{ message: 'cannot list jobs in namespace x: forbidden' }],
    items,
  }
  assert.deepEqual(scanNotes(report), [
    'warning: cannot list jobs in namespace x: forbidden',
    `warning: ${refused} (5 repositories: 10.0.0.9:5000/a, 10.0.0.9:5000/b, 10.0.0.9:5000/c and 2 more)`,
    'warning: ghcr.io/acme/api: no tag matches policy semver(">=2")',
    '8 containers in 7 workloads, 7 repositories: 7 unknown, 1 up-to-date',
  ])
})

test('-o yaml quotes tags a YAML 1.1 reader would take for booleans, numbers or dates', () => {
  const tags = ['on', 'yes', 'No', '2024-01-05', '1_000', '12:30', '1.25']
  const yaml = renderStructured({ items: tags.map((latest) => ({ latest })) }, 'yaml')
  for (const tag of tags) assert.ok(yaml.includes(`latest: "${tag}"\n`), `${tag} in\n${yaml}`)
})
