// Reads rendered manifests (files, directories, `-` for stdin) into an ImageInventory with no cluster:
// multi-document YAML or JSON, `List` objects, the same workload kinds and pod-spec paths as the API reader.
import type { Dirent } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CORE_SCHEMA, loadAll, mergeTag } from 'js-yaml'
import { Composer, LineCounter, Parser } from 'yaml'
import { UserError } from '../util/errors.ts'
import type { ContainerImage, ImageInventory, ReadWarning, WorkloadRef } from './types.ts'
import { annotationsOf, compareContainerImages, containerImages, isWorkload, podSpecOf } from './workloads.ts'

export interface ReadManifestsOptions {
  /** What `-` reads. Default process.stdin. */
  stdin?: NodeJS.ReadableStream
  /** Namespace for objects that set none (like `kubectl apply -n`); otherwise they keep none. */
  namespace?: string
}

const EXTENSIONS = /\.(?:ya?ml|json)$/i
const STDIN_NAME = '<stdin>'

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file or directory'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return code ?? String(err)
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

/**
 * A manifest's text: UTF-8, or UTF-16 with its byte order mark (what Windows PowerShell's `>` writes; kubectl
 * reads it too). Other text with NUL bytes is no manifest: an error rather than a silent empty read.
 */
export function decodeManifest(bytes: Buffer, name: string): string {
  let text: string
  if (bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder('utf-16le').decode(bytes)
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder('utf-16be').decode(bytes)
  else text = bytes.toString('utf8')
  if (text.includes('\u0000'))
    throw new UserError(`${name}: not a text manifest (it holds NUL bytes); save it as UTF-8`)
  return text
}

/**
 * Back-to-back JSON values (`jq '.items[]'` output, compact or pretty), each parsed; undefined when the text
 * is not such a stream.
 */
function parseJsonStream(text: string): unknown[] | undefined {
  const values: unknown[] = []
  let depth = 0
  let start = -1
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (depth++ === 0) start = i
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth < 0) return undefined
      if (depth === 0) {
        try {
          values.push(JSON.parse(text.slice(start, i + 1)))
        } catch {
          return undefined
        }
      }
    } else if (depth === 0 && !/\s/.test(text[i]!)) return undefined
  }
  return depth === 0 && values.length > 0 ? values : undefined
}

/** Manifest files under a directory, recursively, in sorted order; symlinked directories are followed once. */
async function walk(dir: string, seen: Set<string>, out: string[]): Promise<void> {
  const real = await realpath(dir)
  if (seen.has(real)) return
  seen.add(real)
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (err) {
    throw new UserError(`${dir}: ${fsReason(err)}`, { cause: err })
  }
  const names = entries.map((e) => e.name).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  for (const name of names) {
    const path = join(dir, name)
    let info: Awaited<ReturnType<typeof stat>>
    try {
      info = await stat(path)
    } catch {
      continue // a dangling symlink is not a manifest
    }
    if (info.isDirectory()) await walk(path, seen, out)
    else if (info.isFile() && EXTENSIONS.test(name)) out.push(path)
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * Workload rows of one object; List objects (`List`, `DeploymentList`...) give their items'. An object met
 * again through a YAML alias is read once: aliases share objects, and following each would make a file of
 * nested aliased Lists exponential to walk.
 */
function collect(
  obj: unknown,
  namespace: string | undefined,
  out: ContainerImage[],
  seen: Set<object>,
  noImage: string[],
): void {
  if (!isRecord(obj) || seen.has(obj)) return
  seen.add(obj)
  const kind = obj.kind
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(obj.items)) {
    // Items of a typed list (`kubectl get deployments -o yaml`) may omit kind/apiVersion.
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length)
    for (const item of obj.items) {
      if (itemKind && isRecord(item) && item.kind === undefined && !seen.has(item)) {
        seen.add(item)
        collect({ apiVersion: obj.apiVersion, kind: itemKind, ...item }, namespace, out, seen, noImage)
      } else collect(item, namespace, out, seen, noImage)
    }
    return
  }
  if (!isWorkload(kind, obj.apiVersion)) return
  const meta = isRecord(obj.metadata) ? obj.metadata : {}
  const ns = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : namespace
  const ref: WorkloadRef = {
    kind,
    apiVersion: String(obj.apiVersion),
    namespace: ns,
    name: typeof meta.name === 'string' ? meta.name : '',
  }
  if (ref.namespace === undefined) delete ref.namespace
  const podSpec = podSpecOf(kind, obj)
  out.push(...containerImages(ref, annotationsOf(obj), podSpec))
  // A rendered manifest can hold what the API server would refuse (an unset Helm value): say so.
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = isRecord(podSpec) ? podSpec[key] : undefined
    if (list === undefined) continue
    const what = `${kind}/${ref.name}`
    if (!Array.isArray(list)) {
      noImage.push(`${what}: ${key} is not a list`)
      continue
    }
    for (const c of list) {
      const image = isRecord(c) ? c.image : undefined
      if (typeof image !== 'string' || !image.trim()) {
        const name = isRecord(c) && typeof c.name === 'string' ? c.name : '?'
        noImage.push(`${what} container ${name} has no image`)
      }
    }
  }
}

// YAML 1.2 core with merge keys (`<<`), as the yaml package reads manifests for the error path below.
const MANIFEST_SCHEMA = CORE_SCHEMA.withTags(mergeTag)

function parseInto(
  text: string,
  name: string,
  namespace: string | undefined,
  out: ContainerImage[],
  noImage: string[],
): void {
  const seen = new Set<object>()
  // `kubectl get -o json` output: JSON.parse is many times faster and leaner than a YAML parse of the same
  // text. Several JSON documents back to back are read one by one; anything else goes on to the YAML parsers.
  const first = text.charCodeAt(text.search(/\S/))
  if (first === 0x7b || first === 0x5b) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (parsed !== undefined) {
      collect(parsed, namespace, out, seen, noImage)
      return
    }
    const stream = parseJsonStream(text)
    if (stream) {
      for (const value of stream) collect(value, namespace, out, seen, noImage)
      return
    }
  }
  // js-yaml builds plain objects straight from the text: on a 7 MB `kubectl get -o yaml` it takes a fifth of
  // the time and under half the memory of the yaml package's document trees. What it rejects goes to the
  // yaml package, which reads it or says where it is wrong (file:line, as for every other file we read).
  let docs: unknown[] | undefined
  try {
    docs = loadAll(text, { schema: MANIFEST_SCHEMA, maxAliases: 1000 })
  } catch {
    docs = undefined
  }
  if (docs) {
    for (const doc of docs) collect(doc, namespace, out, seen, noImage)
    return
  }
  // Document by document: each one's syntax tree is dropped before the next is built.
  const lines = new LineCounter()
  const composer = new Composer({ merge: true })
  for (const doc of composer.compose(new Parser(lines.addNewLine).parse(text))) {
    const err = doc.errors[0]
    if (err) {
      const line = lines.linePos(err.pos[0]).line
      throw new UserError(`${line ? `${name}:${line}` : name}: ${err.message.split('\n')[0]}`)
    }
    if (doc.contents === null) continue
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 1000 })
    } catch (error) {
      // A bad merge (`<<: *scalar`) or too many aliases: found only when the document is built.
      const line = lines.linePos(doc.contents.range?.[0] ?? doc.range[0]).line
      throw new UserError(`${name}:${line}: ${(error as Error).message.split('\n')[0]}`)
    }
    collect(value, namespace, out, seen, noImage)
  }
}

/** One warning per file, naming the first few containers without an image. */
function noImageWarnings(file: string, noImage: string[]): ReadWarning[] {
  if (noImage.length === 0) return []
  const more = noImage.length > 3 ? ` and ${noImage.length - 3} more` : ''
  return [{ message: `${file}: ${noImage.slice(0, 3).join('; ')}${more}: not scanned` }]
}

/**
 * Reads manifests: files (any extension), directories (recursively, `.yaml`/`.yml`/`.json`, sorted) and `-`
 * for stdin; multi-document YAML, `List` objects, empty documents skipped, non-workloads ignored. A document
 * that does not parse is a UserError `file:line: reason`. Rows have no running digests and 0 pods.
 */
export async function readManifests(
  paths: string[],
  opts: ReadManifestsOptions = {},
): Promise<ImageInventory> {
  const images: ContainerImage[] = []
  const warnings: ReadWarning[] = []
  let stdinRead = false
  for (const path of paths) {
    if (path === '-') {
      // Stdin can be read once; naming it twice adds nothing.
      if (stdinRead) continue
      stdinRead = true
      const bytes = await readStream(opts.stdin ?? process.stdin)
      const noImage: string[] = []
      parseInto(decodeManifest(bytes, STDIN_NAME), STDIN_NAME, opts.namespace, images, noImage)
      warnings.push(...noImageWarnings(STDIN_NAME, noImage))
      continue
    }
    let info: Awaited<ReturnType<typeof stat>>
    try {
      info = await stat(path)
    } catch (err) {
      throw new UserError(`${path}: ${fsReason(err)}; check the -f path`, { cause: err })
    }
    const files: string[] = []
    if (info.isDirectory()) {
      await walk(path, new Set(), files)
      if (!files.length) warnings.push({ message: `${path}: no .yaml, .yml or .json files` })
    } else files.push(path)
    for (const file of files) {
      let bytes: Buffer
      try {
        bytes = await readFile(file)
      } catch (err) {
        throw new UserError(`${file}: ${fsReason(err)}`, { cause: err })
      }
      const noImage: string[] = []
      parseInto(decodeManifest(bytes, file), file, opts.namespace, images, noImage)
      warnings.push(...noImageWarnings(file, noImage))
    }
  }
  return { source: 'manifests', images: images.sort(compareContainerImages), warnings }
}
