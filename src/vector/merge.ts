// MergeImageVectors and MergeCABundle from gardener/gardener pkg/utils/imagevector/imagevector.go.
// The key is textual: (name, runtimeVersion, targetVersion, sha256(join(architectures, ''))), a missing
// constraint counting as '' and missing architectures as a zero key that differs from every list.
import type { CABundle, ImageSource, Origin, VectorEntry } from './types.ts'

/** computeKey. `\u0000` separates the parts; `-` stands for nil architectures (a joined list never starts so). */
export function mergeKey(source: ImageSource): string {
  const archs = source.architectures === undefined ? '-' : `+${source.architectures.join('')}`
  return `${source.name}\u0000${source.runtimeVersion ?? ''}\u0000${source.targetVersion ?? ''}\u0000${archs}`
}

/**
 * mergeImageSources: override fields win where set. The base tag is kept when the override has none (an
 * overwrite may change only the registry); a ref in the override drops repository and tag; a repository in
 * the override drops the base ref. version falls back to the base version, then (quirk) the base tag.
 * Metadata (not in Gardener's struct) is merged key by key, and the origins are concatenated.
 */
export function mergeImageSources<T extends VectorEntry>(old: T, override: T): T {
  let repository = override.repository ?? old.repository
  let tag = override.tag ?? old.tag
  let version = override.version ?? old.version
  if (version === undefined && tag !== undefined) version = old.tag
  let ref = override.ref
  if (ref === undefined && override.repository === undefined) ref = old.ref
  if (ref !== undefined) {
    repository = undefined
    tag = undefined
  }
  const out: VectorEntry = { name: override.name }
  const runtimeVersion = override.runtimeVersion ?? old.runtimeVersion
  const targetVersion = override.targetVersion ?? old.targetVersion
  const architectures = override.architectures ?? old.architectures
  if (runtimeVersion !== undefined) out.runtimeVersion = runtimeVersion
  if (targetVersion !== undefined) out.targetVersion = targetVersion
  if (architectures !== undefined) out.architectures = architectures
  if (ref !== undefined) out.ref = ref
  if (repository !== undefined) out.repository = repository
  if (tag !== undefined) out.tag = tag
  if (version !== undefined) out.version = version
  if (old.meta || override.meta) out.meta = { ...old.meta, ...override.meta }
  if (old.origins || override.origins) out.origins = [...(old.origins ?? []), ...(override.origins ?? [])]
  return out as T
}

/** What happened to one entry of a later vector during a merge. */
export interface MergeAction {
  /** Which vector of the sequence (0 = the base) and which entry of it. */
  vector: number
  entry: number
  /** `merged` into an existing entry in place, or `appended` as a new one. */
  action: 'merged' | 'appended'
  /** Index in the result. */
  into: number
}

/**
 * MergeImageVectors(vectors...): entries with a key already seen (in any earlier vector, or earlier in the
 * same one) are merged in place; new keys are appended. Returns the result and what happened to each entry.
 */
export function mergeWithActions<T extends VectorEntry>(
  vectors: ReadonlyArray<readonly T[]>,
): { vector: T[]; actions: MergeAction[] } {
  const out: T[] = []
  const actions: MergeAction[] = []
  const keyToIndex = new Map<string, number>()
  vectors.forEach((vector, v) => {
    vector.forEach((image, e) => {
      const key = mergeKey(image)
      const at = keyToIndex.get(key)
      if (at !== undefined) {
        out[at] = mergeImageSources(out[at]!, image)
        actions.push({ vector: v, entry: e, action: 'merged', into: at })
        return
      }
      keyToIndex.set(key, out.length)
      actions.push({ vector: v, entry: e, action: 'appended', into: out.length })
      out.push(image)
    })
  })
  return { vector: out, actions }
}

/** MergeImageVectors: later vectors overwrite earlier ones by key; new keys are appended. */
export function mergeImageVectors<T extends VectorEntry>(...vectors: ReadonlyArray<readonly T[]>): T[] {
  return mergeWithActions(vectors).vector
}

/** MergeCABundle: the override's bundle replaces the base bundle whole. */
export function mergeCABundle(base?: CABundle, override?: CABundle): CABundle | undefined {
  return override ?? base
}

/** The entry's defining origin and the overwrites merged into it, as `file:line` labels. */
export function originLabels(entry: VectorEntry): string[] {
  return (entry.origins ?? []).map(originLabel)
}

export function originLabel(origin: Origin): string {
  if (origin.line !== undefined) return `${origin.file}:${origin.line}`
  return `${origin.file} ${origin.where ? `${origin.where} ` : ''}images[${origin.index}]`
}
