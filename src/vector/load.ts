// A vector with its overwrites, the way Gardener's components assemble theirs: the base file, then
// IMAGEVECTOR_OVERWRITE, a component's overwrite out of IMAGEVECTOR_OVERWRITE_COMPONENTS, and (ours) every
// --overwrite file in order, merged with MergeImageVectors. Without any overwrite nothing is merged, as in
// Gardener (a merge also folds duplicate keys of the base file into their first entry).
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { UserError } from '../util/errors.ts'
import { mergeCABundle, mergeImageVectors, mergeWithActions } from './merge.ts'
import {
  type ComponentOverwriteFile,
  isComponentOverwrite,
  readComponentOverwrite,
  readImageVector,
  type VectorFile,
} from './read.ts'
import type { CABundle, VectorEntry, VectorWarning } from './types.ts'

export const OVERWRITE_ENV = 'IMAGEVECTOR_OVERWRITE'
export const OVERWRITE_COMPONENTS_ENV = 'IMAGEVECTOR_OVERWRITE_COMPONENTS'

/**
 * WithEnvOverride: when the variable names a file, read it as an image vector and merge it over `vector`
 * (its caBundle replaces the base one). Unset or empty: the vector as it is.
 */
export function withEnvOverride<T extends VectorEntry>(
  vector: readonly T[],
  caBundle: CABundle | undefined,
  name: string = OVERWRITE_ENV,
  env: NodeJS.ProcessEnv = process.env,
): { vector: T[]; caBundle: CABundle | undefined } {
  const path = env[name]
  if (!path) return { vector: [...vector], caBundle }
  const overwrite = readImageVector(readFileSync(path, 'utf8'), path, { layer: 'overwrite' })
  return {
    vector: mergeImageVectors<VectorEntry>(vector, overwrite.images) as T[],
    caBundle: mergeCABundle(caBundle, overwrite.caBundle),
  }
}

/** One overwrite applied over the base vector. */
export interface OverwriteLayer {
  file: string
  /** How it was given: `--overwrite`, `$IMAGEVECTOR_OVERWRITE` or `$IMAGEVECTOR_OVERWRITE_COMPONENTS`. */
  via: string
  /** The component whose overwrite this is (component overwrite files). */
  component?: string
  entries: number
  /** Entries that replaced an entry with the same key in place. */
  merged: number
  /** Entries with a new key, added after all earlier entries. */
  appended: number
}

export interface LoadedVector {
  file: string
  base: VectorFile
  layers: OverwriteLayer[]
  /** The vector lookups run on: the base, or the merge of the base and the overwrites. */
  vector: VectorEntry[]
  caBundle?: CABundle
  warnings: VectorWarning[]
}

export interface LoadRequest {
  /** The vector file; `-` reads stdin. */
  file: string
  /** --overwrite files, in order (image vectors or component overwrite files). */
  overwrites?: readonly string[]
  /** --component: which component of a component overwrite file applies. */
  component?: string
  env?: NodeJS.ProcessEnv
  stdin?: NodeJS.ReadableStream
  now?: Date
}

function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'file not found'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory'
  return code ?? (error as Error).message
}

async function readText(path: string, what: string, stdin?: NodeJS.ReadableStream): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of stdin ?? process.stdin) chunks.push(Buffer.from(chunk as Buffer))
    return Buffer.concat(chunks).toString('utf8')
  }
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new UserError(`cannot read ${what} ${path}: ${fsReason(error)}`, { cause: error })
  }
}

interface Source {
  path: string
  via: string
}

/** Reads the base vector and the overwrites, and merges them. Throws VectorReadError for invalid files. */
export async function loadVector(request: LoadRequest): Promise<LoadedVector> {
  const env = request.env ?? process.env
  // Stdin can be read once: a second `-` would silently read nothing.
  if ([request.file, ...(request.overwrites ?? [])].filter((path) => path === '-').length > 1) {
    throw new UserError('stdin (-) can be given once, as the vector or as one --overwrite', { exitCode: 2 })
  }
  const label = request.file === '-' ? '<stdin>' : request.file
  const text = await readText(request.file, 'image vector', request.stdin)
  if (isComponentOverwrite(text)) {
    throw new UserError(
      `${label} holds component overwrites (components:), not an image vector; pass it with --overwrite and pick one with --component`,
    )
  }
  const base = readImageVector(text, label, request.now ? { now: request.now } : {})
  const warnings: VectorWarning[] = [...base.warnings]

  const sources: Source[] = []
  const envOverwrite = env[OVERWRITE_ENV]
  if (envOverwrite) sources.push({ path: envOverwrite, via: `$${OVERWRITE_ENV}` })
  const envComponents = env[OVERWRITE_COMPONENTS_ENV]
  if (envComponents && request.component !== undefined)
    sources.push({ path: envComponents, via: `$${OVERWRITE_COMPONENTS_ENV}` })
  for (const path of request.overwrites ?? []) sources.push({ path, via: '--overwrite' })

  const layers: OverwriteLayer[] = []
  const files: VectorFile[] = []
  let componentFound = false
  for (const source of sources) {
    const overwriteText = await readText(source.path, 'overwrite file', request.stdin)
    let file: VectorFile
    let component: string | undefined
    if (isComponentOverwrite(overwriteText)) {
      const components: ComponentOverwriteFile = readComponentOverwrite(overwriteText, source.path)
      warnings.push(...components.warnings)
      const names = [...components.components.keys()]
      if (request.component === undefined) {
        throw new UserError(
          `${source.path} holds component overwrites (${names.join(', ') || 'none'}); pick one with --component`,
          { exitCode: 2 },
        )
      }
      const chosen = components.components.get(request.component)
      if (!chosen) {
        throw new UserError(
          `component "${request.component}" is not in ${source.path} (it has: ${names.join(', ') || 'none'})`,
          { exitCode: 2 },
        )
      }
      componentFound = true
      component = chosen.name
      file = readImageVector(chosen.text, source.path, {
        layer: 'overwrite',
        where: `components[${chosen.name}].imageVectorOverwrite`,
        ...(chosen.mapLine ? { mapLine: chosen.mapLine } : {}),
        ...(request.now ? { now: request.now } : {}),
      })
    } else {
      file = readImageVector(overwriteText, source.path, {
        layer: 'overwrite',
        ...(request.now ? { now: request.now } : {}),
      })
    }
    warnings.push(...file.warnings)
    files.push(file)
    layers.push({
      file: source.path,
      via: source.via,
      ...(component === undefined ? {} : { component }),
      entries: file.images.length,
      merged: 0,
      appended: 0,
    })
  }
  if (request.component !== undefined && !componentFound) {
    throw new UserError(
      `--component ${request.component} needs a component overwrite file: --overwrite FILE (with components:) or $${OVERWRITE_COMPONENTS_ENV}`,
      { exitCode: 2 },
    )
  }

  let vector = base.images
  let caBundle = base.caBundle
  if (files.length > 0) {
    const merged = mergeWithActions([base.images, ...files.map((f) => f.images)])
    vector = merged.vector
    for (const action of merged.actions) {
      if (action.vector === 0) continue
      const layer = layers[action.vector - 1]!
      if (action.action === 'merged') layer.merged++
      else layer.appended++
    }
    for (const f of files) caBundle = mergeCABundle(caBundle, f.caBundle)
  }
  return {
    file: label,
    base,
    layers,
    vector,
    ...(caBundle ? { caBundle } : {}),
    warnings,
  }
}
