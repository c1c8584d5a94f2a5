import type { CheckItem, CheckReport } from '../pins/check.ts'
import { renderStructured, renderTable, type StructuredFormat } from './output.ts'

export { renderFixedImages as renderPins } from '../pins/fixed-images.ts'

function workloadCell(item: CheckItem): string {
  const w = item.workload
  if (!w) return '-'
  return `${w.namespace ? `${w.namespace}/` : ''}${w.kind}/${w.name} [${w.container}]`
}

/**
 * `pin --check`: a table of the entries with a problem (ENTRY, WORKLOAD, EXPECTED, ACTUAL, PROBLEM), or the
 * whole versioned PinCheck document.
 */
export function renderCheck(
  report: CheckReport,
  options: { format: 'table' | StructuredFormat; noHeaders?: boolean },
): string {
  if (options.format !== 'table') return renderStructured(report, options.format)
  const rows = report.items
    .filter((item) => item.problems.length > 0)
    .map((item) => [
      item.entry,
      workloadCell(item),
      item.expected,
      item.actual ?? '-',
      item.problems.map((p) => p.message).join('; '),
    ])
  if (rows.length === 0) return ''
  return renderTable(['ENTRY', 'WORKLOAD', 'EXPECTED', 'ACTUAL', 'PROBLEM'], rows, {
    noHeaders: Boolean(options.noHeaders),
  })
}

/** Lines for stderr: warnings and the totals. */
export function checkNotes(report: CheckReport): string[] {
  const lines = report.warnings.map((warning) => `warning: ${warning.message}`)
  const { entries, containers, uncovered, drift, noWorkload, errors } = report.summary
  const parts = [`${drift} with drift`]
  if (noWorkload) parts.push(`${noWorkload} matching no workload`)
  if (errors) parts.push(`${errors} not checked`)
  const entryWord = entries === 1 ? 'entry' : 'entries'
  const containerWord = containers === 1 ? 'container' : 'containers'
  const notCovered = uncovered ? ` (${uncovered} not covered by ${report.file})` : ''
  lines.push(
    `${entries} ${entryWord} checked against ${containers} ${containerWord}${notCovered}: ${parts.join(', ')}`,
  )
  return lines
}
