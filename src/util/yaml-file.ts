import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'
import { UserError } from './errors.ts'

/**
 * A YAML file parsed with positions, so every validation error can name `file:line: path: message`.
 * Shared by the readers of user files (the scan config, kluctl fixed-images files).
 */
export class YamlFile {
  readonly file: string
  readonly doc: Document.Parsed
  private readonly lines: LineCounter

  private constructor(file: string, doc: Document.Parsed, lines: LineCounter) {
    this.file = file
    this.doc = doc
    this.lines = lines
  }

  /** Parses `text` (one document, unique keys); a syntax error is a UserError at `file:line:col`. */
  static parse(text: string, file: string): YamlFile {
    const lines = new LineCounter()
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
    const first = doc.errors[0]
    if (first !== undefined) {
      const { line, col } = lines.linePos(first.pos[0])
      throw new UserError(`${file}:${line}:${col}: invalid YAML: ${first.message.split('\n')[0]}`)
    }
    return new YamlFile(file, doc, lines)
  }

  line(node: Node | null | undefined, fallback = 1): number {
    const offset = node?.range?.[0]
    return offset === undefined ? fallback : this.lines.linePos(offset).line
  }

  fail(node: Node | null | undefined, path: string, message: string, fallbackLine?: number): UserError {
    const where = path === '' ? '' : `${path}: `
    return new UserError(`${this.file}:${this.line(node, fallbackLine)}: ${where}${message}`)
  }

  /** Follows `*anchor` references; the line stays the alias's. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null
    return (node as Node | null) ?? null
  }
}

/**
 * What a node is, for "expected …, got …" messages. `quoteHint` adds, for a number or boolean, that quoting
 * makes it a string (where a string was wanted and YAML read e.g. `1.10` as a number).
 */
export function describeNode(node: Node | null, options: { quoteHint?: boolean } = {}): string {
  if (node === null) return 'nothing'
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const v = node.value
    if (v === null) return 'nothing'
    if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`
    return `${typeof v} ${String(v)}${options.quoteHint ? ' (quote it to make it a string)' : ''}`
  }
  return 'an unsupported value'
}
