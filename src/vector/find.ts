// FindImage from gardener/gardener pkg/utils/imagevector/imagevector.go, with the scoring spelled out so a
// caller can say which entry won and why. Versions are normalised the Gardener way (pkg/utils/version): every
// `v` removed, cut at the first `-`, `+` or `~`, then parsed by Masterminds NewVersion; constraints are
// Masterminds constraints (src/policy/masterminds.ts), which npm `semver` alone does not implement.
import { type Constraint, parseConstraint, parseVersion, type SemVersion } from '../policy/masterminds.ts'
import { toImage } from './image.ts'
import type { FindOptions, Image, ImageSource } from './types.ts'

/** Gardener's version Normalize: drop every `v`, cut at the first `-`, `+` or `~`. */
export function normalizeVersion(version: string): string {
  const s = version.replaceAll('v', '')
  const cut = s.search(/[-+~]/)
  return cut < 0 ? s : s.slice(0, cut)
}

// Vectors are small and their constraints repeat across lookups: parse each text once per process.
const constraints = new Map<string, Constraint | Error>()
const versions = new Map<string, SemVersion | Error>()

/** A Masterminds constraint, parsed once; throws `improper constraint: "..."` when invalid. */
export function constraintOf(text: string): Constraint {
  let c = constraints.get(text)
  if (c === undefined) {
    try {
      c = parseConstraint(text)
    } catch (error) {
      c = error as Error
    }
    if (constraints.size > 10_000) constraints.clear()
    constraints.set(text, c)
  }
  if (c instanceof Error) throw c
  return c
}

/** The normalised version as Masterminds parses it; throws `invalid semantic version` when it is not one. */
export function versionOf(text: string): SemVersion {
  let v = versions.get(text)
  if (v === undefined) {
    try {
      v = parseVersion(normalizeVersion(text))
    } catch {
      v = new Error('invalid semantic version')
    }
    if (versions.size > 10_000) versions.clear()
    versions.set(text, v)
  }
  if (v instanceof Error) throw v
  return v
}

/** CheckVersionMeetsConstraint(version, constraint): the constraint is parsed first, then the version. */
export function versionMeetsConstraint(version: string, constraint: string): boolean {
  const c = constraintOf(constraint)
  return c.check(versionOf(version))
}

// Gardener prioritises exact pins: a constraint starting with a full x.y.z or with `=` scores 2.
const EXACT = /^(v?[0-9]+\.[0-9]+\.[0-9]+|=)/

/** checkVersionConstraint: [score, ok]; 0 when either side is absent. Throws on a bad constraint or version. */
export function versionScore(constraint: string | undefined, version: string | undefined): [number, boolean] {
  if (constraint === undefined || version === undefined) return [0, true]
  if (!versionMeetsConstraint(version, constraint)) return [0, false]
  return [EXACT.test(constraint) ? 2 : 1, true]
}

const DEFAULT_ARCHITECTURES = ['amd64', 'arm64']
export const DEFAULT_ARCHITECTURE = 'amd64'

/** checkArchitectureConstraint: no list = [amd64, arm64], no arch = amd64; one arch scores 2, several 1. */
export function archScore(
  architectures: readonly string[] | undefined,
  desired: string | undefined,
): [number, boolean] {
  const list = architectures ?? DEFAULT_ARCHITECTURES
  const want = desired ?? DEFAULT_ARCHITECTURE
  if (!list.includes(want)) return [0, false]
  return [list.length === 1 ? 2 : 1, true]
}

/** FindOptions.String(): `runtime version X target version Y architecture Z`, each part only when given. */
export function optionsString(opts: FindOptions): string {
  let s = ''
  if (opts.runtimeVersion !== undefined) s += `runtime version ${opts.runtimeVersion} `
  if (opts.targetVersion !== undefined) s += `target version ${opts.targetVersion} `
  if (opts.architecture !== undefined) s += `architecture ${opts.architecture}`
  return s
}

/** No entry matched: `could not find image "<name>" opts <options>`. */
export class FindImageError extends Error {
  readonly imageName: string
  constructor(name: string, opts: FindOptions) {
    super(`could not find image "${name}" opts ${optionsString(opts)}`)
    this.name = 'FindImageError'
    this.imageName = name
  }
}

/** Why an entry of the looked-up name did or did not qualify. */
export interface Candidate {
  /** Index in the vector. */
  index: number
  matched: boolean
  /** runtime + target + arch; 0 when not matched. */
  score: number
  scores: { runtime: number; target: number; arch: number }
  /** For an entry that did not match: which dimension excluded it. */
  excludedBy?: 'runtimeVersion' | 'targetVersion' | 'architectures'
}

export interface Found<T extends ImageSource> {
  image: Image
  /** The winning entry and its index in the vector. */
  entry: T
  index: number
  score: number
  /** Every entry with the name, in vector order. */
  candidates: Candidate[]
}

/** One entry through FindImage's checks. Throws on a bad constraint or version. */
export function scoreEntry(index: number, source: ImageSource, opts: FindOptions): Candidate {
  const scores = { runtime: 0, target: 0, arch: 0 }
  const out = (excludedBy?: Candidate['excludedBy']): Candidate =>
    excludedBy
      ? { index, matched: false, score: 0, scores, excludedBy }
      : { index, matched: true, score: scores.runtime + scores.target + scores.arch, scores }
  let ok: boolean
  ;[scores.runtime, ok] = versionScore(source.runtimeVersion, opts.runtimeVersion)
  if (!ok) return out('runtimeVersion')
  ;[scores.target, ok] = versionScore(source.targetVersion, opts.targetVersion)
  if (!ok) return out('targetVersion')
  ;[scores.arch, ok] = archScore(source.architectures, opts.architecture)
  if (!ok) return out('architectures')
  return out()
}

/**
 * Every entry named `name`, scored. Throws the constraint or version error Gardener's FindImage would return
 * (it aborts at the first entry whose check fails to parse).
 */
export function scoreCandidates(
  vector: readonly ImageSource[],
  name: string,
  opts: FindOptions,
): Candidate[] {
  const out: Candidate[] = []
  for (let i = 0; i < vector.length; i++) {
    const source = vector[i]!
    if (source.name === name) out.push(scoreEntry(i, source, opts))
  }
  return out
}

/**
 * FindImage with the reasons: the highest score wins, ties go to the earliest entry. Throws FindImageError when
 * nothing matches, or the constraint/version error that aborts Gardener's lookup.
 */
export function explainFind<T extends ImageSource>(
  vector: readonly T[],
  name: string,
  opts: FindOptions = {},
): Found<T> {
  const candidates = scoreCandidates(vector, name, opts)
  let best: Candidate | undefined
  for (const c of candidates) if (c.matched && (best === undefined || c.score > best.score)) best = c
  if (best === undefined) throw new FindImageError(name, opts)
  const entry = vector[best.index]!
  return {
    image: toImage(entry, opts.targetVersion),
    entry,
    index: best.index,
    score: best.score,
    candidates,
  }
}

/** FindImage: the image for `name` under the options. */
export function findImage(vector: readonly ImageSource[], name: string, opts: FindOptions = {}): Image {
  return explainFind(vector, name, opts).image
}

/** FindImages: name -> image; stops at the first name that cannot be found. */
export function findImages(
  vector: readonly ImageSource[],
  names: readonly string[],
  opts: FindOptions = {},
): Record<string, Image> {
  const out: Record<string, Image> = {}
  for (const name of names) out[name] = findImage(vector, name, opts)
  return out
}
