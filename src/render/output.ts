import { Chalk, type ChalkInstance } from 'chalk'
import Table from 'cli-table3'
import { stringify } from 'yaml'

/** Version of the JSON/YAML documents the commands print; bump on an incompatible change. */
export const API_VERSION = 'kubectl-images.io/v1alpha1'

export type StructuredFormat = 'json' | 'yaml'

/** Colour only for a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return Boolean(stream.isTTY)
}

export function makeChalk(color: boolean): ChalkInstance {
  return new Chalk({ level: color ? 1 : 0 })
}

export function renderStructured(document: unknown, format: StructuredFormat): string {
  if (format === 'json') return `${JSON.stringify(document, null, 2)}\n`
  // YAML 1.1 quoting: tags such as `on`, `yes` or `2024-01-05` stay strings for 1.1 readers (PyYAML, go-yaml v2).
  return stringify(document, { indent: 2, lineWidth: 0, version: '1.1' })
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '   ',
}

/**
 * A kubectl-style table: upper-case headers, columns separated by spaces, no borders, so it
 * reads like `kubectl get` and stays friendly to grep and awk.
 */
export function renderTable(head: string[], rows: string[][], options: { noHeaders?: boolean } = {}): string {
  const table = new Table({
    ...(options.noHeaders ? {} : { head }),
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  })
  table.push(...rows)
  if (rows.length === 0 && options.noHeaders) return ''
  return `${table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')}\n`
}
