// Resolves every name of a vector (or the ones asked for) with Gardener's FindImage, and says for each which
// entry won and why, and which overwrite entries lost (Gardener appends an overwrite whose constraints differ
// from the base entry's, and it then silently loses to the base entry).
import { type Candidate, explainFind, FindImageError, type Found, scoreEntry } from './find.ts'
import { imageString, toImage } from './image.ts'
import { originLabel, originLabels } from './merge.ts'
import type { FindOptions, ImageSource, VectorEntry, VectorWarning } from './types.ts'

export interface ResolveOptions extends FindOptions {
  /** Names to resolve, in this order (default: every name, in vector order). */
  names?: readonly string[]
  /**
   * What tag-less entries get as tag, as `v` + this with leading `v`s trimmed. Default: the target version
   * as given (Gardener's raw string); a caller may pass the normalised cluster version instead.
   */
  tagVersion?: string
}

/** Where the tag of the resolved image came from. */
export type TagSource = 'entry' | 'ref' | 'target-version' | 'untagged'

/** One entry of the name, as the lookup saw it. */
export interface CandidateView {
  entry: string[]
  matched: boolean
  score?: number
  /** Why it did not match. */
  excludedBy?: string
  runtimeVersion?: string
  targetVersion?: string
  architectures?: string[]
}

/** The resolution of one name. */
export interface ResolvedName {
  name: string
  /** Image.String() of the result. */
  image?: string
  ref?: string
  repository?: string
  tag?: string
  version?: string
  tagFrom?: TagSource
  /** The winning entry: where it was defined (and overwritten), and its constraints. */
  entry?: {
    origins: string[]
    index: number
    overwritten: boolean
    runtimeVersion?: string
    targetVersion?: string
    architectures?: string[]
  }
  score?: number
  why: string
  candidates: CandidateView[]
  error?: string
}

export interface Resolution {
  items: ResolvedName[]
  warnings: VectorWarning[]
}

/** Every name of the vector, in the order of first appearance. */
export function vectorNames(vector: readonly ImageSource[]): string[] {
  return [...new Set(vector.map((e) => e.name))]
}

function constraintsOf(
  entry: ImageSource,
): Pick<CandidateView, 'runtimeVersion' | 'targetVersion' | 'architectures'> {
  return {
    ...(entry.runtimeVersion === undefined ? {} : { runtimeVersion: entry.runtimeVersion }),
    ...(entry.targetVersion === undefined ? {} : { targetVersion: entry.targetVersion }),
    ...(entry.architectures === undefined ? {} : { architectures: entry.architectures }),
  }
}

/**
 * `targetVersion ">= 1.35"`, `runtimeVersion "1.14.2" (exact)`, `architectures [arm64]`, or `no constraints`; with
 * the options, a constraint the lookup had no version for is marked `(not checked)`.
 */
export function describeConstraints(
  entry: ImageSource,
  scores?: Candidate['scores'],
  opts?: FindOptions,
): string {
  const parts: string[] = []
  const note = (score: number | undefined, given: string | undefined) =>
    opts && given === undefined ? ' (not checked)' : score === 2 ? ' (exact)' : ''
  if (entry.runtimeVersion !== undefined)
    parts.push(`runtimeVersion "${entry.runtimeVersion}"${note(scores?.runtime, opts?.runtimeVersion)}`)
  if (entry.targetVersion !== undefined)
    parts.push(`targetVersion "${entry.targetVersion}"${note(scores?.target, opts?.targetVersion)}`)
  if (entry.architectures !== undefined) parts.push(`architectures [${entry.architectures.join(', ')}]`)
  return parts.length ? parts.join(', ') : 'no constraints'
}

function optionsText(opts: FindOptions): string {
  const parts: string[] = []
  if (opts.targetVersion !== undefined) parts.push(`target version ${opts.targetVersion}`)
  if (opts.runtimeVersion !== undefined) parts.push(`runtime version ${opts.runtimeVersion}`)
  parts.push(`architecture ${opts.architecture ?? 'amd64'}`)
  return parts.join(', ')
}

function plural(n: number, word: string, suffix = 's'): string {
  return `${n} ${word}${n === 1 ? '' : suffix}`
}

function why(
  found: Found<VectorEntry>,
  tagFrom: TagSource,
  opts: FindOptions,
  tag: string | undefined,
): string {
  const winner = found.candidates.find((c) => c.index === found.index)!
  const constraints = describeConstraints(found.entry, winner.scores, opts)
  const total = found.candidates.length
  const parts = total === 1 && constraints === 'no constraints' ? ['only entry'] : [constraints]
  const matched = found.candidates.filter((c) => c.matched)
  if (total > 1) {
    if (matched.length === 1) parts.push(`only match of ${total} entries`)
    else {
      const tied = matched.filter((c) => c.score === found.score)
      if (tied.length > 1) parts.push(`first of ${tied.length} matches with score ${found.score}`)
      else {
        const next = Math.max(...matched.filter((c) => c.index !== found.index).map((c) => c.score))
        parts.push(`score ${found.score} beats ${next} (${plural(matched.length - 1, 'other match', 'es')})`)
      }
    }
  }
  if (tagFrom === 'target-version') parts.push(`no tag: ${tag} from the target version`)
  if (tagFrom === 'untagged') parts.push('no tag and no target version: untagged')
  return parts.join('; ')
}

function excludedText(c: Candidate, entry: ImageSource, opts: FindOptions): string {
  switch (c.excludedBy) {
    case 'runtimeVersion':
      return `runtimeVersion "${entry.runtimeVersion}" excludes ${opts.runtimeVersion}`
    case 'targetVersion':
      return `targetVersion "${entry.targetVersion}" excludes ${opts.targetVersion}`
    default:
      return entry.architectures
        ? `architectures [${entry.architectures.join(', ')}] exclude ${opts.architecture ?? 'amd64'}`
        : `architectures (default [amd64, arm64]) exclude ${opts.architecture ?? 'amd64'}`
  }
}

function tagSourceOf(entry: ImageSource, tagVersion: string | undefined): TagSource {
  if (entry.ref !== undefined) return 'ref'
  if (entry.tag !== undefined) return 'entry'
  return tagVersion === undefined ? 'untagged' : 'target-version'
}

/** Resolves names with FindImage; a name without a matching entry is an item with `error`, not an exception. */
export function resolveVector(vector: readonly VectorEntry[], options: ResolveOptions = {}): Resolution {
  const opts: FindOptions = {
    ...(options.runtimeVersion === undefined ? {} : { runtimeVersion: options.runtimeVersion }),
    ...(options.targetVersion === undefined ? {} : { targetVersion: options.targetVersion }),
    ...(options.architecture === undefined ? {} : { architecture: options.architecture }),
  }
  const tagVersion = options.tagVersion ?? options.targetVersion
  const names = options.names ? [...new Set(options.names)] : vectorNames(vector)
  const items: ResolvedName[] = []
  const warnings: VectorWarning[] = []
  for (const name of names) {
    let found: Found<VectorEntry>
    try {
      found = explainFind(vector, name, opts)
    } catch (error) {
      const candidates = vector.flatMap((entry, index) => (entry.name === name ? [{ entry, index }] : []))
      const views = candidates.map(({ entry }): CandidateView => {
        let excludedBy: string | undefined
        try {
          const c = scoreEntry(0, entry, opts)
          if (c.excludedBy) excludedBy = excludedText(c, entry, opts)
        } catch (e) {
          excludedBy = (e as Error).message
        }
        return {
          entry: originLabels(entry),
          matched: false,
          ...(excludedBy ? { excludedBy } : {}),
          ...constraintsOf(entry),
        }
      })
      const message = (error as Error).message
      items.push({
        name,
        why:
          error instanceof FindImageError
            ? candidates.length === 0
              ? 'no entry with this name'
              : `no entry matches (${views.map((v) => v.excludedBy ?? 'excluded').join('; ')})`
            : message,
        candidates: views,
        error: message,
      })
      continue
    }
    const entry = found.entry
    const image = toImage(entry, tagVersion)
    const tagFrom = tagSourceOf(entry, tagVersion)
    const origins = entry.origins ?? []
    const item: ResolvedName = {
      name,
      image: imageString(image),
      ...(image.ref === undefined ? {} : { ref: image.ref }),
      ...(image.repository === undefined ? {} : { repository: image.repository }),
      ...(image.tag === undefined ? {} : { tag: image.tag }),
      ...(entry.version === undefined ? {} : { version: entry.version }),
      tagFrom,
      entry: {
        origins: originLabels(entry),
        index: found.index,
        overwritten: origins.some((o) => o.layer === 'overwrite'),
        ...constraintsOf(entry),
      },
      score: found.score,
      why: why(found, tagFrom, opts, image.tag),
      candidates: found.candidates.map((c) => {
        const e = vector[c.index]!
        return {
          entry: originLabels(e),
          matched: c.matched,
          ...(c.matched ? { score: c.score } : { excludedBy: excludedText(c, e, opts) }),
          ...constraintsOf(e),
        }
      }),
    }
    items.push(item)
    warnings.push(...losingOverwrites(vector, found, opts))
  }
  return { items, warnings }
}

function keyText(entry: ImageSource): string {
  const part = (label: string, value: string | undefined) =>
    value === undefined ? `no ${label}` : `${label} "${value}"`
  const archs =
    entry.architectures === undefined
      ? 'no architectures'
      : `architectures [${entry.architectures.join(', ')}]`
  return `${part('runtimeVersion', entry.runtimeVersion)}, ${part('targetVersion', entry.targetVersion)}, ${archs}`
}

/**
 * Overwrite entries of the name that matched but lost: appended ones (their key differs from every base entry)
 * and base entries an overwrite was merged into that another entry beats.
 */
function losingOverwrites(
  vector: readonly VectorEntry[],
  found: Found<VectorEntry>,
  opts: FindOptions,
): VectorWarning[] {
  const out: VectorWarning[] = []
  const winner = found.entry
  const winnerLabel = `${originLabels(winner)[0] ?? `images[${found.index}]`} (${describeConstraints(winner)})`
  for (const c of found.candidates) {
    if (!c.matched || c.index === found.index) continue
    const entry = vector[c.index]!
    const origins = entry.origins ?? []
    const overwrites = origins.filter((o) => o.layer === 'overwrite')
    if (overwrites.length === 0) continue
    const how =
      c.score === found.score
        ? `wins the tie (score ${c.score}) by coming first`
        : `wins with score ${found.score} to ${c.score}`
    const first = origins[0]
    const where = overwrites[0]!
    const at = { file: where.file, ...(where.line === undefined ? {} : { line: where.line }) }
    if (first?.layer === 'overwrite') {
      out.push({
        ...at,
        message: `overwrite entry "${entry.name}" is not used for ${optionsText(opts)}: its key (${keyText(first.source)}) differs from every base entry of that name, so it was appended, and ${winnerLabel} ${how}; repeat the base entry's runtimeVersion, targetVersion and architectures exactly to replace it`,
      })
    } else {
      out.push({
        ...at,
        message: `overwrite entry "${entry.name}" replaced ${first ? originLabel(first) : `images[${c.index}]`} (${describeConstraints(entry)}), which is not used for ${optionsText(opts)}: ${winnerLabel} ${how}`,
      })
    }
  }
  return out
}

/**
 * The resolved, flattened vector: one entry per resolved name with its image (no constraints left), plus the
 * metadata of the winning entry, so the result is itself an image vector that resolves the same for any version.
 */
export function flattenVector(
  vector: readonly VectorEntry[],
  resolution: Resolution,
): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const item of resolution.items) {
    if (item.error || !item.entry) continue
    const entry = vector[item.entry.index]!
    const flat: Record<string, unknown> = { name: item.name }
    if (item.ref !== undefined) flat.ref = item.ref
    else {
      if (item.repository !== undefined) flat.repository = item.repository
      if (item.tag !== undefined) flat.tag = item.tag
    }
    // A version equal to the tag says nothing (a merge copies the old tag into version when neither side has one).
    if (entry.version !== undefined && entry.version !== item.tag) flat.version = entry.version
    for (const [key, value] of Object.entries(entry.meta ?? {})) if (!(key in flat)) flat[key] = value
    out.push(flat)
  }
  return out
}
