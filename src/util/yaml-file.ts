import { type Document, isAlias, LineCounter, type Node, parseDocument } from 'yaml'
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
