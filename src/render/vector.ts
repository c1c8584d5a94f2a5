import type { ChalkInstance } from 'chalk'
import { Document } from 'yaml'
import type { VectorItem, VectorReport } from '../vector/run.ts'
import type { CABundle, VectorWarning } from '../vector/types.ts'
import { makeChalk, renderStructured, renderTable } from './output.ts'

export interface VectorRenderOptions {
  format: 'table' | 'json' | 'yaml'
  noHeaders?: boolean
  color?: boolean
}

function registryCell(item: VectorItem, chalk: ChalkInstance): string {
  const r = item.registry
  if (!r) return '-'
  switch (r.status) {
    case 'exists':
      return chalk.green('exists')
    case 'missing':
      return chalk.red('missing')
    case 'untagged':
      return chalk.dim('untagged')
    default:
      return chalk.magenta('unknown')
  }
}

function newestCell(item: VectorItem, chalk: ChalkInstance): string {
  const r = item.registry
  if (r?.status !== 'exists') return '-'
  if (r.pinnedDigest) return chalk.cyan('pinned-digest')
  if (!r.distance) return '-'
  if (r.distance === 'up-to-date') return chalk.green('up-to-date')
  if (r.distance === 'newer') return chalk.green(`newer than ${r.latest}`)
  const text = `${r.latest} (${r.distance})`
  return r.distance === 'major' ? chalk.red(text) : chalk.yellow(text)
}

function clusterCell(item: VectorItem, chalk: ChalkInstance): string {
  const c = item.cluster
  if (!c) return chalk.dim('not deployed')
  const parts: string[] = []
  if (c.differs) parts.push(chalk.red(`${c.differs} differ${c.differs === 1 ? 's' : ''}`))
  if (c.unknown) parts.push(chalk.magenta(`${c.unknown} unknown`))
  if (c.matches) parts.push(chalk.green(`${c.matches} match${c.matches === 1 ? 'es' : ''}`))
  return parts.join(', ')
}

/** The report: a kubectl-style table (plus the deployed containers that differ), or a versioned document. */
export function renderVector(report: VectorReport, options: VectorRenderOptions): string {
  if (options.format === 'json' || options.format === 'yaml') return renderStructured(report, options.format)
  const chalk = makeChalk(Boolean(options.color))
  const registry = report.summary.registry !== undefined
  const cluster = report.summary.cluster !== undefined
  const head = ['NAME', 'IMAGE', 'ENTRY', 'WHY']
  if (registry) head.push('REGISTRY', 'NEWEST')
  if (cluster) head.push('CLUSTER')
  const rows = report.items.map((item) => {
    const cells = [
      item.name,
      item.error
        ? chalk.red('-')
        : item.tagFrom === 'untagged'
          ? chalk.yellow(item.image ?? '')
          : (item.image ?? ''),
      item.entry?.origins.join(' + ') ?? '-',
      item.error ? chalk.red(item.why) : item.why,
    ]
    if (registry) cells.push(registryCell(item, chalk), newestCell(item, chalk))
    if (cluster) cells.push(clusterCell(item, chalk))
    return cells
  })
  let out = renderTable(head, rows, { noHeaders: Boolean(options.noHeaders) })
  const off = (report.deployed ?? []).filter((row) => row.status !== 'matches')
  if (off.length > 0) {
    const deployed = off.map((row) => [
      row.namespace,
      `${row.kind}/${row.workload}`,
      row.containerType === 'container' ? row.container : `${row.container} (${row.containerType})`,
      row.image,
      row.expected ? `${row.expected} (${row.names.join(', ')})` : `- (${row.names.join(', ')})`,
      (row.status === 'differs' ? chalk.red : chalk.magenta)(
        `${row.status}${row.reason ? `: ${row.reason}` : ''}`,
      ),
    ])
    out += `\n${renderTable(
      ['NAMESPACE', 'WORKLOAD', 'CONTAINER', 'DEPLOYED', 'VECTOR', 'STATUS'],
      deployed,
      {
        noHeaders: Boolean(options.noHeaders),
      },
    )}`
  }
  return out
}

function versionsText(report: VectorReport): string {
  const parts: string[] = []
  const from = (f?: string) => (f === 'cluster' ? ' (cluster)' : '')
  parts.push(
    report.targetVersion === undefined
      ? 'no target version'
      : `target version ${report.targetVersion}${from(report.targetVersionFrom)}`,
  )
  if (report.runtimeVersion !== undefined)
    parts.push(`runtime version ${report.runtimeVersion}${from(report.runtimeVersionFrom)}`)
  parts.push(`architecture ${report.architecture}`)
  return parts.join(', ')
}

/** A warning as one line: `warning: file:line: message`. */
export function warningLine(warning: VectorWarning): string {
  const where = warning.file ? `${warning.file}${warning.line === undefined ? '' : `:${warning.line}`}: ` : ''
  return `warning: ${where}${warning.message}`
}

/** Lines for stderr: warnings, the overwrites applied, and the totals. */
export function vectorNotes(report: VectorReport): string[] {
  const lines = report.warnings.map(warningLine)
  // Why a registry check said missing or unknown, once per image (the table has no room for it).
  const failed = new Map<string, string>()
  for (const item of report.items) {
    const r = item.registry
    if (item.image && r?.error && (r.status === 'missing' || r.status === 'unknown'))
      failed.set(item.image, r.error)
  }
  for (const [image, error] of failed) lines.push(`warning: ${image}: ${error}`)
  for (const layer of report.overwrites) {
    lines.push(
      `overwrite ${layer.file} (${layer.via}${layer.component ? `, component ${layer.component}` : ''}): ${layer.entries} entr${layer.entries === 1 ? 'y' : 'ies'}, ${layer.merged} merged in place, ${layer.appended} appended`,
    )
  }
  const s = report.summary
  const counts = [`${s.resolved} resolved`]
  if (s.untagged) counts.push(`${s.untagged} untagged`)
  if (s.unresolved) counts.push(`${s.unresolved} without a matching entry`)
  let line = `${s.entries} entries, ${s.names} names; ${versionsText(report)}: ${counts.join(', ')}`
  if (s.registry) {
    const r = s.registry
    line += `; registry: ${r.exists} exist, ${r.missing} missing, ${r.unknown} unknown, ${r.outdated} with newer tags`
  }
  if (s.cluster) {
    const c = s.cluster
    line += `; cluster: ${c.matches} containers match, ${c.differs} differ, ${c.unknown} unknown (${c.containers} read)`
  }
  lines.push(line)
  return lines
}

/** `-o vector`: the resolved, flattened vector as YAML, with a comment saying what it was resolved for. */
export function renderFlatVector(
  report: VectorReport,
  flat: Array<Record<string, unknown>>,
  caBundle?: CABundle,
): string {
  // YAML 1.1 quoting: Gardener reads vectors with go-yaml v2, where an unquoted tag `yes` or `on` is a boolean.
  const doc = new Document({ images: flat, ...(caBundle?.inline ? { caBundle } : {}) }, { version: '1.1' })
  const skipped = report.items.filter((i) => i.error).map((i) => i.name)
  const comment = [
    ` Resolved by kubectl images vector from ${report.file}${report.overwrites.length ? ` and ${report.overwrites.map((o) => o.file).join(', ')}` : ''}`,
    ` ${versionsText(report)}`,
  ]
  if (skipped.length) comment.push(` No entry matches for: ${skipped.join(', ')}.`)
  doc.commentBefore = comment.join('\n')
  return doc.toString({ indent: 2, lineWidth: 0 })
}
