// Reads rendered manifests (files, directories, `-` for stdin) into an ImageInventory with no cluster:
// multi-document YAML or JSON, `List` objects, the same workload kinds and pod-spec paths as the API reader.
import type { Dirent } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
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

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
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

/** Workload rows of one object; List objects (`List`, `DeploymentList`...) give their items'. */
function collect(obj: unknown, namespace: string | undefined, out: ContainerImage[]): void {
  if (!isRecord(obj)) return
  const kind = obj.kind
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(obj.items)) {
    // Items of a typed list (`kubectl get deployments -o yaml`) may omit kind/apiVersion.
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length)
    for (const item of obj.items) {
      if (itemKind && isRecord(item) && item.kind === undefined) {
        collect({ apiVersion: obj.apiVersion, kind: itemKind, ...item }, namespace, out)
      } else collect(item, namespace, out)
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
  out.push(...containerImages(ref, annotationsOf(obj), podSpecOf(kind, obj)))
}

function parseInto(text: string, name: string, namespace: string | undefined, out: ContainerImage[]): void {
  // `kubectl get -o json` output: JSON.parse is many times faster and leaner than a YAML parse of the same
  // text. Anything it rejects (YAML, several JSON documents) goes through the YAML parser for its errors.
  const first = text.charCodeAt(text.search(/\S/))
  if (first === 0x7b || first === 0x5b) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined
    }
    if (parsed !== undefined) {
      collect(parsed, namespace, out)
      return
    }
  }
  // Document by document: each one's syntax tree is dropped before the next is built, so a large
  // `helm template` output does not hold the trees of all its documents at once.
  const lines = new LineCounter()
  const composer = new Composer({ merge: true })
  for (const doc of composer.compose(new Parser(lines.addNewLine).parse(text))) {
    const err = doc.errors[0]
    if (err) {
      const line = lines.linePos(err.pos[0]).line
      throw new UserError(`${line ? `${name}:${line}` : name}: ${err.message.split('\n')[0]}`)
    }
    if (doc.contents === null) continue
    collect(doc.toJS({ maxAliasCount: 1000 }), namespace, out)
  }
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
      parseInto(await readStream(opts.stdin ?? process.stdin), STDIN_NAME, opts.namespace, images)
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
      let text: string
      try {
        text = await readFile(file, 'utf8')
      } catch (err) {
        throw new UserError(`${file}: ${fsReason(err)}`, { cause: err })
      }
      parseInto(text, file, opts.namespace, images)
    }
  }
  return { source: 'manifests', images: images.sort(compareContainerImages), warnings }
}
