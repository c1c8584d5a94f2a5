import type { LatestResult } from '../latest/latest.ts'
import { API_VERSION, makeChalk, renderStructured, renderTable } from './output.ts'

export interface LatestRenderOptions {
  format: 'table' | 'json' | 'yaml' | 'name'
  all?: boolean
  digest?: boolean
  noHeaders?: boolean
  color?: boolean
}

/** Renders `latest` results: a table for people, JSON/YAML for scripts, bare names for shells. */
export function renderLatest(results: LatestResult[], options: LatestRenderOptions): string {
  if (options.format === 'json' || options.format === 'yaml') {
    return renderStructured({ apiVersion: API_VERSION, kind: 'LatestList', items: results }, options.format)
  }
  if (options.format === 'name') {
    const lines: string[] = []
    for (const result of results) {
      if (result.error || !result.latestImage || !result.latest) continue
      const base = result.latestImage.slice(0, result.latestImage.length - result.latest.length - 1)
      const tags = options.all && result.tags ? result.tags : [result.latest]
      for (const tag of tags)
        lines.push(`${base}:${tag}${result.digest && tag === result.latest ? `@${result.digest}` : ''}`)
    }
    return lines.length ? `${lines.join('\n')}\n` : ''
  }
  const chalk = makeChalk(Boolean(options.color))
  const head = ['IMAGE', 'POLICY', options.all ? 'TAGS' : 'LATEST']
  if (options.digest) head.push('DIGEST')
  const rows = results.map((result) => {
    if (result.error) {
      const row = [result.image, result.policy ?? '', chalk.red(`error: ${result.error}`)]
      if (options.digest) row.push('')
      return row
    }
    const latest = options.all && result.tags ? result.tags.join('\n') : (result.latest ?? '')
    const changed = result.currentTag !== undefined && result.currentTag !== result.latest
    const row = [result.image, result.policy ?? '', changed ? chalk.yellow(latest) : chalk.green(latest)]
    if (options.digest) row.push(result.digest ?? '')
    return row
  })
  return renderTable(head, rows, { noHeaders: Boolean(options.noHeaders) })
}
