// Read and ReadComponentOverwrite from gardener/gardener pkg/utils/imagevector: decode an image vector the way
// sigs.k8s.io/yaml does (YAML 1.1 scalars as go-yaml v2 resolves them, then encoding/json into Go structs:
// unknown keys ignored, keys matched case-insensitively, a non-string scalar in a string field is an error),
// then validate. Unlike Gardener, every problem is reported with its file, line, entry and field, and what
// Gardener drops (sourceRepository, labels, resourceId, unknown keys) is kept beside each entry.
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseAllDocuments,
  type Scalar,
  type Tags,
  type YAMLMap,
} from 'yaml'
import { tryParseVersion } from '../policy/masterminds.ts'
import { constraintOf } from './find.ts'
import { mergeKey } from './merge.ts'
import type { CABundle, FieldIssue, ImageSource, Origin, VectorEntry, VectorWarning } from './types.ts'
import { aggregateMessage, renderFieldIssue, validateCABundle, validateImageVector } from './validate.ts'

/** A vector file, read and validated. */
export interface VectorFile {
  file: string
  images: VectorEntry[]
  caBundle?: CABundle
  warnings: VectorWarning[]
}

export interface ReadOptions {
  /** `base` (default) for the vector, `overwrite` for an overwrite. Recorded in each entry's origin. */
  layer?: Origin['layer']
  /** Where in the file the vector sits (component overwrites), recorded in origins and messages. */
  where?: string
  /** Maps a line of `text` to a line of `file` (a component overwrite inside a block scalar). */
  mapLine?: (line: number) => number | undefined
  /** Clock for the caBundle expiry check. */
  now?: Date
}

/** A vector file that Gardener's Read would refuse; `issues` say where and why. */
export class VectorReadError extends Error {
  readonly file: string
  readonly issues: FieldIssue[]
  /** The error Gardener's Read returns for the same input (field errors aggregated, no lines). */
  readonly goMessage: string
  constructor(file: string, issues: FieldIssue[], goMessage: string) {
    super(
      issues.length === 1
        ? formatIssue(file, issues[0]!)
        : `${file} is not a valid image vector: ${issues.length} errors`,
    )
    this.name = 'VectorReadError'
    this.file = file
    this.issues = issues
    this.goMessage = goMessage
  }

  /** One line per problem: `file:line: field: message (entry "name")`. */
  lines(): string[] {
    return this.issues.flatMap((issue) => [
      formatIssue(this.file, issue),
      ...(issue.causes ?? []).map((c) => `  ${c}`),
    ])
  }
}

const MAX_SHOWN_VALUE = 60

/** `file:line: <Gardener's message> (entry "name")`; long or multi-line values are elided. */
export function formatIssue(file: string, issue: FieldIssue): string {
  let shown = issue
  if (
    typeof issue.value === 'string' &&
    (issue.value.length > MAX_SHOWN_VALUE || issue.value.includes('\n'))
  ) {
    const first = issue.value.split('\n')[0]!.slice(0, MAX_SHOWN_VALUE)
    shown = { ...issue, value: `${first}...` }
  }
  const where = issue.line === undefined ? file : `${file}:${issue.line}`
  return `${where}: ${renderFieldIssue(shown)}${issue.entry ? ` (entry "${issue.entry}")` : ''}`
}

// go-yaml v2 resolves plain scalars like YAML 1.1 but has no sexagesimal numbers, keeps timestamps as
// strings when decoding into interface{}, and knows no !!binary for untyped targets.
const YAML_OPTIONS = {
  version: '1.1' as const,
  uniqueKeys: true,
  customTags: (tags: Tags): Tags =>
    tags.filter(
      (t) =>
        typeof t === 'string' ||
        (t.format !== 'TIME' && !t.tag.endsWith(':timestamp') && !t.tag.endsWith(':binary')),
    ),
}

type GoType = 'null' | 'string' | 'number' | 'bool' | 'object' | 'array'

interface Ctx {
  doc: Document
  /** Anchors by name, in document order (built on the first alias; the library walks the document per alias). */
  anchors?: Map<string, Array<{ offset: number; node: Node }>>
  lines: LineCounter
  mapLine: ((line: number) => number | undefined) | undefined
  issues: FieldIssue[]
  warnings: VectorWarning[]
  file: string
}

function lineOf(
  ctx: Ctx,
  node: { range?: [number, number, number] | null } | null | undefined,
): number | undefined {
  const offset = node?.range?.[0]
  if (offset === undefined) return undefined
  const line = ctx.lines.linePos(offset).line
  return ctx.mapLine ? ctx.mapLine(line) : line
}

function collectAnchors(node: unknown, out: Map<string, Array<{ offset: number; node: Node }>>): void {
  if (node === null || typeof node !== 'object' || isAlias(node)) return
  const n = node as Node & { anchor?: string }
  if (n.anchor) {
    const list = out.get(n.anchor) ?? []
    list.push({ offset: n.range?.[0] ?? 0, node: n })
    out.set(n.anchor, list)
  }
  if (isMap(n))
    for (const pair of n.items) {
      collectAnchors(pair.key, out)
      collectAnchors(pair.value, out)
    }
  else if (isSeq(n)) for (const item of n.items) collectAnchors(item, out)
}

function resolve(ctx: Ctx, node: unknown): Node | null {
  if (node === null || node === undefined) return null
  if (!isAlias(node)) return node as Node
  if (!ctx.anchors) {
    ctx.anchors = new Map()
    collectAnchors(ctx.doc.contents, ctx.anchors)
  }
  // An alias refers to the last definition of its anchor before it.
  const at = node.range?.[0] ?? Number.MAX_SAFE_INTEGER
  const defs = ctx.anchors.get(node.source) ?? []
  let found: Node | undefined
  for (const def of defs) if (def.offset < at) found = def.node
  return found ?? (node.resolve(ctx.doc) as Node | undefined) ?? null
}

/** A node as plain data (what Gardener's tooling would see), aliases and merge keys resolved. */
function toValue(ctx: Ctx, node: unknown, depth = 0): unknown {
  const n = resolve(ctx, node)
  if (n === null || depth > 64) return null
  if (isMap(n)) {
    const out: Record<string, unknown> = {}
    for (const pair of pairsOf(ctx, n)) out[keyText(pair.key)] = toValue(ctx, pair.value, depth + 1)
    return out
  }
  if (isSeq(n)) return n.items.map((item) => toValue(ctx, item, depth + 1))
  return (n as Scalar).value ?? null
}

function goTypeOf(node: Node | null): GoType {
  if (node === null) return 'null'
  if (isMap(node)) return 'object'
  if (isSeq(node)) return 'array'
  const value = (node as Scalar).value
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'string') return 'string'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number' || typeof value === 'bigint') return 'number'
  return 'string'
}

function keyText(key: unknown): string {
  if (isScalar(key)) return key.value === null ? 'null' : String(key.value)
  return String(key)
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || (key.value === '<<' && key.type === 'PLAIN'))
}

/** The pairs of a mapping with `<<` merge keys expanded (explicit keys win, then earlier merged maps). */
function pairsOf(ctx: Ctx, map: YAMLMap): Array<Pair<unknown, unknown>> {
  const explicit: Array<Pair<unknown, unknown>> = []
  const merged: Array<Pair<unknown, unknown>> = []
  for (const pair of map.items as Array<Pair<unknown, unknown>>) {
    if (!isMergeKey(pair.key)) {
      explicit.push(pair)
      continue
    }
    const value = resolve(ctx, pair.value)
    const sources = isSeq(value) ? value.items.map((item) => resolve(ctx, item)) : [value]
    for (const source of sources) if (isMap(source)) merged.push(...pairsOf(ctx, source))
  }
  if (merged.length === 0) return explicit
  const seen = new Set(explicit.map((p) => keyText(p.key)))
  const out: Array<Pair<unknown, unknown>> = []
  for (const pair of merged) {
    const k = keyText(pair.key)
    if (seen.has(k)) continue
    seen.add(k)
    out.push(pair)
  }
  return [...out, ...explicit]
}

/**
 * Matches keys to Go struct fields like encoding/json: an exact match, else a case-insensitive one (with a
 * warning, as it is surely a typo). Returns undefined for keys the struct does not have.
 */
function fieldFor<K extends string>(
  ctx: Ctx,
  fields: readonly K[],
  key: string,
  where: string,
  line: number | undefined,
): K | undefined {
  if ((fields as readonly string[]).includes(key)) return key as K
  const folded = fields.find((f) => f.toLowerCase() === key.toLowerCase())
  if (folded)
    ctx.warnings.push({
      file: ctx.file,
      ...(line === undefined ? {} : { line }),
      message: `${where}: key "${key}" is read as "${folded}" (Gardener matches keys case-insensitively)`,
    })
  return folded
}

function typeIssue(
  field: string,
  got: GoType,
  want: string,
  line: number | undefined,
  hint = '',
): FieldIssue {
  return {
    type: 'FieldValueTypeInvalid',
    field,
    detail: `cannot unmarshal ${got} into ${want}${hint}`,
    ...(line === undefined ? {} : { line }),
  }
}

/** A string field: [value | undefined (null), ok]. Records a type issue otherwise. */
function stringField(ctx: Ctx, node: Node | null, field: string, key: string): [string | undefined, boolean] {
  const t = goTypeOf(node)
  if (t === 'null') return [undefined, true]
  if (t === 'string') return [String((node as Scalar).value), true]
  const source = isScalar(node) ? (node as Scalar).source : undefined
  const hint = t === 'number' || t === 'bool' ? `; quote it: ${key}: "${source ?? ''}"` : ''
  ctx.issues.push(typeIssue(field, t, 'a string', lineOf(ctx, node), hint))
  return [undefined, false]
}

const ENTRY_FIELDS = [
  'name',
  'runtimeVersion',
  'targetVersion',
  'architectures',
  'ref',
  'repository',
  'tag',
  'version',
] as const
type EntryField = (typeof ENTRY_FIELDS)[number]

interface EntryRead {
  entry: VectorEntry
  line: number | undefined
  fieldLines: Partial<Record<EntryField, number>>
}

function readEntry(ctx: Ctx, node: Node | null, path: string): EntryRead | undefined {
  if (!isMap(node)) {
    const got = goTypeOf(node)
    ctx.issues.push({
      type: 'FieldValueTypeInvalid',
      field: path,
      detail: `expected an entry (a mapping with name, repository, tag...), got ${got === 'object' ? 'a mapping' : got}`,
      ...(lineOf(ctx, node) === undefined ? {} : { line: lineOf(ctx, node)! }),
    })
    return undefined
  }
  const line = lineOf(ctx, node)
  const entry: VectorEntry = { name: '' }
  const fieldLines: Partial<Record<EntryField, number>> = {}
  const meta: Record<string, unknown> = {}
  for (const pair of pairsOf(ctx, node)) {
    const key = keyText(pair.key)
    const value = resolve(ctx, pair.value)
    const valueLine = lineOf(ctx, value) ?? lineOf(ctx, pair.key as Node)
    const field = fieldFor(ctx, ENTRY_FIELDS, key, path, valueLine)
    if (field === undefined) {
      meta[key] = toValue(ctx, value)
      continue
    }
    if (valueLine !== undefined) fieldLines[field] = valueLine
    if (field === 'architectures') {
      const t = goTypeOf(value)
      if (t === 'null') {
        delete entry.architectures
        continue
      }
      if (!isSeq(value)) {
        ctx.issues.push(typeIssue(`${path}.architectures`, t, 'a list of strings', valueLine))
        continue
      }
      const archs: string[] = []
      value.items.forEach((item, j) => {
        const [s] = stringField(ctx, resolve(ctx, item), `${path}.architectures[${j}]`, 'architectures')
        archs.push(s ?? '')
      })
      entry.architectures = archs
      continue
    }
    const [s, ok] = stringField(ctx, value, `${path}.${field}`, key)
    if (!ok) continue
    if (field === 'name') entry.name = s ?? ''
    else if (s === undefined) delete entry[field]
    else entry[field] = s
  }
  if (Object.keys(meta).length > 0) entry.meta = meta
  return { entry, line, fieldLines }
}

function issueAt(issue: FieldIssue, line: number | undefined, entry: string | undefined): FieldIssue {
  return {
    ...issue,
    ...(line === undefined ? {} : { line }),
    ...(entry ? { entry } : {}),
  }
}

function docLine(ctx: Ctx): number | undefined {
  return lineOf(ctx, ctx.doc.contents as Node | null) ?? (ctx.mapLine ? ctx.mapLine(1) : 1)
}

/** Parses YAML (or JSON) as go-yaml v2 would, reporting syntax errors with their line. */
function parseYaml(text: string, file: string, mapLine: ReadOptions['mapLine']): { ctx: Ctx } {
  const lines = new LineCounter()
  const docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter: lines })
  const list = Array.isArray(docs) ? docs : []
  const doc = (list[0] ?? undefined) as Document | undefined
  const ctx: Ctx = {
    doc: doc as Document,
    lines,
    mapLine,
    issues: [],
    warnings: [],
    file,
  }
  if (!doc) return { ctx }
  const error = doc.errors[0]
  if (error) {
    const raw = error.linePos?.[0]?.line
    const line = raw === undefined ? undefined : mapLine ? mapLine(raw) : raw
    ctx.issues.push({
      type: 'Syntax',
      field: '',
      detail: `unreadable YAML (${error.message.split(/ at line \d+|\n/)[0]})`,
      ...(line === undefined ? {} : { line }),
    })
  }
  if (list.length > 1)
    ctx.warnings.push({ file, message: 'only the first YAML document is read (as Gardener does)' })
  return { ctx }
}

function fail(ctx: Ctx): never {
  throw new VectorReadError(ctx.file, ctx.issues, aggregateMessage(ctx.issues.map(renderFieldIssue)))
}

/**
 * Read: an image vector from YAML or JSON text. An empty document or `images: []` is an empty vector. Throws
 * VectorReadError when Gardener would refuse the file (decoding or validation), with every problem found.
 */
export function readImageVector(text: string, file: string, options: ReadOptions = {}): VectorFile {
  const { ctx } = parseYaml(text, file, options.mapLine)
  const out: VectorFile = { file, images: [], warnings: ctx.warnings }
  if (ctx.issues.length > 0) fail(ctx)
  const root = ctx.doc ? resolve(ctx, ctx.doc.contents) : null
  if (root === null || goTypeOf(root) === 'null') return out
  if (!isMap(root)) {
    const got = goTypeOf(root)
    const hint =
      got === 'array' ? ' (a bare list is not an image vector: put the entries under "images:")' : ''
    ctx.issues.push({
      type: 'FieldValueTypeInvalid',
      field: '',
      detail: `expected a mapping with an "images" list, got ${got === 'array' ? 'a list' : got}${hint}`,
      ...(docLine(ctx) === undefined ? {} : { line: docLine(ctx)! }),
    })
    fail(ctx)
  }
  const reads: Array<EntryRead | undefined> = []
  let caNode: Node | null = null
  let caLine: number | undefined
  for (const pair of pairsOf(ctx, root)) {
    const key = keyText(pair.key)
    const value = resolve(ctx, pair.value)
    const field = fieldFor(
      ctx,
      ['images', 'caBundle'] as const,
      key,
      'the document',
      lineOf(ctx, pair.key as Node),
    )
    if (field === 'caBundle') {
      caNode = value
      caLine = lineOf(ctx, value) ?? lineOf(ctx, pair.key as Node)
      continue
    }
    if (field !== 'images') continue
    reads.length = 0
    const t = goTypeOf(value)
    if (t === 'null') continue
    if (!isSeq(value)) {
      ctx.issues.push(typeIssue('images', t, 'a list of entries', lineOf(ctx, value)))
      continue
    }
    value.items.forEach((item, i) => {
      reads.push(readEntry(ctx, resolve(ctx, item), `images[${i}]`))
    })
  }
  if (caNode !== null) {
    const t = goTypeOf(caNode)
    if (isMap(caNode)) {
      const bundle: CABundle = {}
      for (const pair of pairsOf(ctx, caNode)) {
        const key = keyText(pair.key)
        const value = resolve(ctx, pair.value)
        if (fieldFor(ctx, ['inline'] as const, key, 'caBundle', lineOf(ctx, value)) !== 'inline') continue
        const [s, ok] = stringField(ctx, value, 'caBundle.inline', key)
        if (ok) {
          if (s === undefined) delete bundle.inline
          else bundle.inline = s
          caLine = lineOf(ctx, value) ?? caLine
        }
      }
      out.caBundle = bundle
    } else if (t !== 'null') {
      ctx.issues.push(typeIssue('caBundle', t, 'a mapping with "inline"', caLine))
    }
  }
  if (ctx.issues.length > 0) fail(ctx)

  const layer = options.layer ?? 'base'
  out.images = reads.map((read, index) => {
    const { entry, line } = read!
    const source: ImageSource = { ...entry }
    delete (source as VectorEntry).meta
    const origin: Origin = {
      file,
      index,
      layer,
      source,
      ...(line === undefined ? {} : { line }),
      ...(options.where ? { where: options.where } : {}),
    }
    return { ...entry, origins: [origin] }
  })

  // Validation, with the line of the field (or of the entry) and the entry's name.
  for (const issue of validateImageVector(out.images)) {
    const m = /^images\[(\d+)\]\.([\w/]+)/.exec(issue.field)
    const read = m ? reads[Number(m[1])] : undefined
    const field = m?.[2] as EntryField | undefined
    const line = (field && read?.fieldLines[field]) ?? read?.line
    ctx.issues.push(issueAt(issue, line, read?.entry.name))
  }
  for (const issue of validateCABundle(out.caBundle, 'caBundle', options.now))
    ctx.issues.push(issueAt(issue, caLine, undefined))
  if (ctx.issues.length > 0) fail(ctx)

  lintEntries(ctx, out.images, reads)
  return out
}

/** Things Gardener accepts that are almost certainly mistakes. */
function lintEntries(
  ctx: Ctx,
  images: readonly VectorEntry[],
  reads: ReadonlyArray<EntryRead | undefined>,
): void {
  const at = (i: number, field?: EntryField): { file: string; line?: number } => {
    const line = (field && reads[i]?.fieldLines[field]) ?? reads[i]?.line
    return { file: ctx.file, ...(line === undefined ? {} : { line }) }
  }
  const seen = new Map<string, number>()
  images.forEach((entry, i) => {
    const key = mergeKey(entry)
    const first = seen.get(key)
    if (first === undefined) seen.set(key, i)
    else {
      const firstLine = reads[first]?.line
      ctx.warnings.push({
        ...at(i),
        message: `images[${i}] "${entry.name}" has the same name, runtimeVersion, targetVersion and architectures as images[${first}]${firstLine === undefined ? '' : ` (line ${firstLine})`}: lookups never pick it (ties go to the first), and an overwrite would merge it into the first`,
      })
    }
    const version = entry.version
    if (version !== undefined && tryParseVersion(version) === undefined && isConstraint(version)) {
      ctx.warnings.push({
        ...at(i, 'version'),
        message: `images[${i}] "${entry.name}": version "${version}" is only displayed, never matched; a constraint belongs in targetVersion (or runtimeVersion)`,
      })
    }
  })
}

function isConstraint(text: string): boolean {
  try {
    constraintOf(text)
    return true
  } catch {
    return false
  }
}

/** A component's image vector overwrite, as the string it is stored as, and where it sits in the file. */
export interface ComponentOverwrite {
  name: string
  text: string
  line?: number
  /** Maps a line of `text` to a line of the components file (block scalars only). */
  mapLine?: (line: number) => number | undefined
}

export interface ComponentOverwriteFile {
  file: string
  /** By component name; a later entry with the same name replaces an earlier one (a Go map). */
  components: Map<string, ComponentOverwrite>
  warnings: VectorWarning[]
}

/** How lines of a string scalar map to lines of the file: exact for block literals and one-line scalars. */
function scalarLineMap(ctx: Ctx, node: Node | null): ((line: number) => number | undefined) | undefined {
  if (!isScalar(node)) return undefined
  const start = lineOf(ctx, node)
  if (start === undefined) return undefined
  if (node.type === 'BLOCK_LITERAL') return (line) => start + line
  if (!(node.source ?? '').includes('\n') && !String(node.value).includes('\n')) return () => start
  return undefined
}

/**
 * ValidateComponentImageVectors: each component needs a name, and its overwrite must Read as an image
 * vector. Issues are Gardener's (`components[<name>].imageVectorOverwrite`), with the inner problems as causes.
 */
export function validateComponentImageVectors(
  components: ReadonlyMap<string, ComponentOverwrite> | Readonly<Record<string, string>>,
  file = '<components>',
): FieldIssue[] {
  const list: ComponentOverwrite[] =
    components instanceof Map
      ? [...components.values()]
      : Object.entries(components).map(([name, text]) => ({ name, text }))
  const out: FieldIssue[] = []
  for (const component of list) {
    const path = `components[${component.name}]`
    const line = component.line
    if (component.name === '')
      out.push(
        issueAt(
          { type: 'FieldValueRequired', field: `${path}.name`, detail: 'component name is required' },
          line,
          undefined,
        ),
      )
    try {
      readImageVector(component.text, file, {
        layer: 'overwrite',
        where: `${path}.imageVectorOverwrite`,
        ...(component.mapLine ? { mapLine: component.mapLine } : {}),
      })
    } catch (error) {
      if (!(error instanceof VectorReadError)) throw error
      out.push({
        ...issueAt(
          {
            type: 'FieldValueInvalid',
            field: `${path}.imageVectorOverwrite`,
            value: component.text,
            hasValue: true,
            detail: error.goMessage,
          },
          line,
          undefined,
        ),
        causes: error.issues.map((issue) =>
          formatIssue(issue.line === undefined ? `${file} ${path}.imageVectorOverwrite` : file, issue),
        ),
      })
    }
  }
  return out
}

/** ReadComponentOverwrite: `components: [{name, imageVectorOverwrite}]`, each overwrite validated. */
export function readComponentOverwrite(text: string, file: string): ComponentOverwriteFile {
  const { ctx } = parseYaml(text, file, undefined)
  const out: ComponentOverwriteFile = { file, components: new Map(), warnings: ctx.warnings }
  if (ctx.issues.length > 0) fail(ctx)
  const root = ctx.doc ? resolve(ctx, ctx.doc.contents) : null
  if (root !== null && goTypeOf(root) !== 'null') {
    if (!isMap(root)) {
      ctx.issues.push(typeIssue('', goTypeOf(root), 'a mapping with a "components" list', docLine(ctx)))
      fail(ctx)
    }
    for (const pair of pairsOf(ctx, root)) {
      const key = keyText(pair.key)
      if (
        fieldFor(ctx, ['components'] as const, key, 'the document', lineOf(ctx, pair.key as Node)) !==
        'components'
      )
        continue
      const value = resolve(ctx, pair.value)
      out.components.clear()
      if (goTypeOf(value) === 'null') continue
      if (!isSeq(value)) {
        ctx.issues.push(typeIssue('components', goTypeOf(value), 'a list', lineOf(ctx, value)))
        continue
      }
      value.items.forEach((item, i) => {
        const node = resolve(ctx, item)
        const path = `components[${i}]`
        if (!isMap(node)) {
          ctx.issues.push(
            typeIssue(
              path,
              goTypeOf(node),
              'a mapping with name and imageVectorOverwrite',
              lineOf(ctx, node),
            ),
          )
          return
        }
        const component: ComponentOverwrite = { name: '', text: '' }
        const line = lineOf(ctx, node)
        if (line !== undefined) component.line = line
        for (const p of pairsOf(ctx, node)) {
          const k = keyText(p.key)
          const v = resolve(ctx, p.value)
          const field = fieldFor(ctx, ['name', 'imageVectorOverwrite'] as const, k, path, lineOf(ctx, v))
          if (field === undefined) continue
          const [s] = stringField(ctx, v, `${path}.${field}`, k)
          if (field === 'name') component.name = s ?? ''
          else {
            component.text = s ?? ''
            const map = scalarLineMap(ctx, v)
            if (map) component.mapLine = map
            else delete component.mapLine
          }
        }
        out.components.set(component.name, component)
      })
    }
  }
  if (ctx.issues.length > 0) fail(ctx)
  ctx.issues.push(...validateComponentImageVectors(out.components, file))
  if (ctx.issues.length > 0) fail(ctx)
  return out
}

/** Whether a parsed document is a component overwrite file (`components:` and no `images:`). */
export function isComponentOverwrite(text: string): boolean {
  if (!/components/i.test(text)) return false
  const docs = parseAllDocuments(text, YAML_OPTIONS)
  const doc = Array.isArray(docs) ? docs[0] : undefined
  const root = doc?.contents
  if (!isMap(root)) return false
  const keys = new Set(root.items.map((p) => keyText(p.key).toLowerCase()))
  return keys.has('components') && !keys.has('images')
}
