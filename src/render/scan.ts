import type { ChalkInstance } from 'chalk'
import type { ScanReport, ScanRow, ScanStatus } from '../scan/scan.ts'
import { makeChalk, renderStructured, renderTable } from './output.ts'

export interface ScanRenderOptions {
  format: 'table' | 'wide' | 'json' | 'yaml'
  noHeaders?: boolean
  color?: boolean
  /** Add the policy and where it came from. */
  explain?: boolean
}

/** Statuses that `--only outdated` keeps. */
export const OUTDATED: readonly ScanStatus[] = ['patch', 'minor', 'major', 'behind']

/** Keeps the rows `--only` asks for: `outdated`, or status names. */
export function filterRows(report: ScanReport, only: readonly string[]): ScanReport {
  if (only.length === 0) return report
  const keep = new Set<string>(only.flatMap((o): readonly string[] => (o === 'outdated' ? OUTDATED : [o])))
  const stalePins = only.includes('outdated')
  const items = report.items.filter(
    (row) => keep.has(row.status) || (stalePins && row.pinned?.current === false),
  )
  return { ...report, items }
}

function statusCell(row: ScanRow, chalk: ChalkInstance): string {
  let text: string = row.status
  if (row.status === 'pinned-digest' && row.pinned?.current === false) text = 'pinned-digest (tag moved)'
  if (row.drift) text += `, drift (${row.runningDigests.length} digests)`
  switch (row.status) {
    case 'up-to-date':
    case 'newer':
      return chalk.green(text)
    case 'patch':
    case 'behind':
      return chalk.yellow(text)
    case 'minor':
      return chalk.hex('#ff8700')(text)
    case 'major':
      return chalk.red(text)
    case 'pinned-digest':
      return row.pinned?.current === false ? chalk.red(text) : chalk.cyan(text)
    case 'unknown':
      return chalk.magenta(text)
    default:
      return chalk.dim(text)
  }
}

function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(':')
  return `${algorithm}:${hex?.slice(0, 12)}`
}

/** The report for people (a kubectl-style table) or scripts (a versioned JSON/YAML document). */
export function renderScan(report: ScanReport, options: ScanRenderOptions): string {
  if (options.format === 'json' || options.format === 'yaml') return renderStructured(report, options.format)
  const chalk = makeChalk(Boolean(options.color))
  const wide = options.format === 'wide'
  const head = ['NAMESPACE', 'WORKLOAD', 'CONTAINER', 'IMAGE', 'LATEST', 'STATUS']
  if (wide || options.explain) head.push('POLICY', 'POLICY SOURCE')
  if (wide) head.push('RUNNING DIGESTS')
  const rows = report.items.map((row) => {
    const container =
      row.containerType === 'container' ? row.container : `${row.container} (${row.containerType})`
    const cells = [
      row.namespace,
      `${row.kind}/${row.name}`,
      container,
      row.image,
      row.latest ?? '-',
      statusCell(row, chalk),
    ]
    if (wide || options.explain) cells.push(row.policy ?? '-', row.policySource ?? '-')
    if (wide) cells.push(row.runningDigests.map(shortDigest).join(', ') || '-')
    return cells
  })
  return renderTable(head, rows, { noHeaders: Boolean(options.noHeaders) })
}

/** Lines for stderr: what could not be read or checked, and the totals. */
export function scanNotes(report: ScanReport): string[] {
  const lines: string[] = []
  for (const warning of report.warnings) lines.push(`warning: ${warning.message}`)
  // One line per cause: a registry that is down fails every repository it serves the same way.
  const failures = new Map<string, Set<string>>()
  for (const row of report.items) {
    if (!row.error) continue
    const repos = failures.get(row.error) ?? new Set<string>()
    failures.set(row.error, repos.add(row.repository ?? row.image))
  }
  for (const [error, repos] of failures) {
    const names = [...repos]
    if (names.length === 1) lines.push(`warning: ${names[0]}: ${error}`)
    else {
      const shown = names.slice(0, 3).join(', ')
      const more = names.length > 3 ? ` and ${names.length - 3} more` : ''
      lines.push(`warning: ${error} (${names.length} repositories: ${shown}${more})`)
    }
  }
  const counts = Object.entries(report.summary.statuses)
    .map(([status, count]) => `${count} ${status}`)
    .join(', ')
  const { containers, workloads, repositories } = report.summary
  lines.push(
    `${containers} container${containers === 1 ? '' : 's'} in ${workloads} workload${workloads === 1 ? '' : 's'}, ${repositories} repositor${repositories === 1 ? 'y' : 'ies'}${counts ? `: ${counts}` : ''}`,
  )
  return lines
}
