// The two checks of `kubectl images vector`: against the registry (does every resolved image exist, and are
// there newer tags under a policy) and against the cluster (which deployed images differ from what the vector
// resolves to for this cluster's version).
import type { ContainerImage, ImageInventory } from '../cluster/types.ts'
import { noMatch } from '../latest/latest.ts'
import type { TagLookup } from '../latest/lookup.ts'
import { classify, type Distance, parsePolicy } from '../policy/index.ts'
import { type ImageReference, parseImageReference } from '../reference/index.ts'
import { RegistryError } from '../registry/errors.ts'
import { mapConcurrent } from '../util/limit.ts'
import type { ResolvedName } from './resolve.ts'
import type { VectorEntry } from './types.ts'

/** What the registry says about one resolved image. */
export interface RegistryCheck {
  /** exists: the manifest answered HEAD; missing: the registry says it does not exist; unknown: it failed. */
  status: 'exists' | 'missing' | 'unknown' | 'untagged'
  /** The digest the tag (or digest) resolves to. */
  digest?: string
  /** The image names a digest and no tag: there is no tag to compare with newer ones. */
  pinnedDigest?: boolean
  /** Newest tag under the policy, and how far the resolved tag is from it. */
  latest?: string
  latestImage?: string
  distance?: Distance
  policy?: string
  error?: string
}

export interface RegistryCheckOptions {
  lookup: TagLookup
  /** Policy expression for newer tags (default auto: the shape of the resolved tag). */
  policy?: string
  concurrency?: number
}

function refOf(item: ResolvedName): ImageReference | string {
  try {
    return parseImageReference((item.image ?? '').trim())
  } catch (error) {
    return (error as Error).message
  }
}

async function checkOne(item: ResolvedName, options: RegistryCheckOptions): Promise<RegistryCheck> {
  const ref = refOf(item)
  if (typeof ref === 'string') return { status: 'unknown', error: ref }
  if (!ref.tag && !ref.digest)
    return {
      status: 'untagged',
      error: 'no tag: the runtime would pull :latest, which the vector does not name',
    }
  const { client, signal } = options.lookup.options
  const repo = { domain: ref.domain, path: ref.path }
  const out: RegistryCheck = { status: 'unknown' }
  try {
    out.digest = (await client.resolveDigest(repo, ref.digest ?? ref.tag!, signal)).digest
    out.status = 'exists'
  } catch (error) {
    const missing = error instanceof RegistryError && error.kind === 'not-found'
    return { status: missing ? 'missing' : 'unknown', error: (error as Error).message }
  }
  if (!ref.tag) return { ...out, pinnedDigest: true }
  try {
    const policy = parsePolicy(options.policy ?? 'auto', { currentTag: ref.tag })
    out.policy = policy.expr
    const { ranked, tagCount } = await options.lookup.rank(repo, policy)
    const latest = ranked[0]
    if (latest === undefined) {
      out.error = noMatch(ref.name, policy.expr, tagCount)
      return out
    }
    out.latest = latest
    out.latestImage = `${ref.name}:${latest}`
    out.distance = classify(ref.tag, latest, policy)
  } catch (error) {
    out.error = `cannot list tags: ${(error as Error).message}`
  }
  return out
}

/** Checks every resolved image once (items sharing an image share the answer). */
export async function checkRegistry(
  items: readonly ResolvedName[],
  options: RegistryCheckOptions,
): Promise<Map<string, RegistryCheck>> {
  const images = [...new Set(items.filter((i) => i.image !== undefined).map((i) => i.image!))]
  const repos = new Map<string, { domain: string; path: string }>()
  for (const image of images) {
    try {
      const ref = parseImageReference(image.trim())
      repos.set(ref.name, { domain: ref.domain, path: ref.path })
    } catch {}
  }
  await options.lookup.options.client.expect([...repos.values()]).catch(() => undefined)
  const byImage = new Map<string, RegistryCheck>()
  await mapConcurrent(images, options.concurrency ?? 32, async (image) => {
    const item = items.find((i) => i.image === image)!
    byImage.set(image, await checkOne(item, options))
  })
  const out = new Map<string, RegistryCheck>()
  for (const item of items) if (item.image !== undefined) out.set(item.name, byImage.get(item.image)!)
  return out
}

/** One deployed container whose repository the vector names. */
export interface DeployedRow {
  namespace: string
  kind: string
  workload: string
  container: string
  containerType: ContainerImage['containerKind']
  image: string
  /** Vector names whose entries use this repository. */
  names: string[]
  /** What the vector resolves to for those names (the first one, when several differ). */
  expected?: string
  /** matches: the deployed image is what the vector resolves to; differs: it is not; unknown: cannot tell. */
  status: 'matches' | 'differs' | 'unknown'
  reason?: string
}

export interface ClusterCheck {
  rows: DeployedRow[]
  /** Per vector name: how its deployed containers compare. */
  perName: Map<string, { matches: number; differs: number; unknown: number }>
  /** Containers read, and how many use a repository the vector does not name. */
  containers: number
  unmatched: number
}

function repositoryOf(source: { ref?: string; repository?: string }): string | undefined {
  try {
    if (source.ref !== undefined) return parseImageReference(source.ref.trim()).name
    if (source.repository !== undefined) return parseImageReference(source.repository.trim()).name
  } catch {}
  return undefined
}

function compare(
  deployed: ImageReference,
  expected: ImageReference,
  runningDigests: readonly string[],
): { status: DeployedRow['status']; reason?: string } {
  if (deployed.name !== expected.name) return { status: 'differs', reason: 'another repository' }
  if (expected.digest) {
    if (deployed.digest === expected.digest) return { status: 'matches' }
    if (deployed.digest) return { status: 'differs', reason: 'another digest' }
    // The spec deploys another tag: whatever older pods still run, that is not the vector's image.
    if (expected.tag && deployed.tag !== expected.tag) return { status: 'differs', reason: 'another tag' }
    if (runningDigests.includes(expected.digest)) return { status: 'matches' }
    if (runningDigests.length > 0)
      return { status: 'differs', reason: `its pods run ${runningDigests.join(', ')}` }
    if (expected.tag) return { status: 'matches', reason: 'same tag; the digest was not compared' }
    return { status: 'differs', reason: 'another tag' }
  }
  if (!expected.tag) {
    // Untagged in the vector: the runtime pulls :latest.
    if (!deployed.tag && !deployed.digest) return { status: 'matches' }
    if (deployed.tag === 'latest') return { status: 'matches' }
    return { status: 'differs', reason: 'the vector names no tag' }
  }
  if (deployed.tag === expected.tag) return { status: 'matches' }
  if (!deployed.tag && deployed.digest)
    return { status: 'unknown', reason: 'deployed by digest only; the vector names a tag' }
  return { status: 'differs', reason: deployed.tag ? 'another tag' : 'no tag (:latest)' }
}

/**
 * Matches deployed containers to vector names by repository (every repository any entry of the name used,
 * before or after overwrites) and compares each with the name's resolved image.
 */
export function checkCluster(
  vector: readonly VectorEntry[],
  items: readonly ResolvedName[],
  inventory: ImageInventory,
  defaultNamespace = 'default',
): ClusterCheck {
  const namesByRepo = new Map<string, string[]>()
  const add = (repo: string | undefined, name: string) => {
    if (repo === undefined) return
    const list = namesByRepo.get(repo) ?? []
    if (!list.includes(name)) list.push(name)
    namesByRepo.set(repo, list)
  }
  for (const entry of vector) {
    add(repositoryOf(entry), entry.name)
    for (const origin of entry.origins ?? []) add(repositoryOf(origin.source), entry.name)
  }
  const expected = new Map<string, { image: string; ref: ImageReference }>()
  for (const item of items) {
    if (!item.image) continue
    try {
      const ref = parseImageReference(item.image.trim())
      expected.set(item.name, { image: item.image, ref })
      add(ref.name, item.name)
    } catch {}
  }
  const rows: DeployedRow[] = []
  const perName = new Map<string, { matches: number; differs: number; unknown: number }>()
  let unmatched = 0
  for (const usage of inventory.images) {
    let deployed: ImageReference
    try {
      deployed = parseImageReference(usage.image.trim())
    } catch {
      unmatched++
      continue
    }
    const names = (namesByRepo.get(deployed.name) ?? []).filter((n) => items.some((i) => i.name === n))
    if (names.length === 0) {
      unmatched++
      continue
    }
    const row: DeployedRow = {
      namespace: usage.workload.namespace ?? defaultNamespace,
      kind: usage.workload.kind,
      workload: usage.workload.name,
      container: usage.container,
      containerType: usage.containerKind,
      image: usage.image,
      names,
      status: 'unknown',
    }
    const candidates = names.flatMap((n) => {
      const e = expected.get(n)
      return e ? [{ name: n, ...e }] : []
    })
    if (candidates.length === 0) {
      row.reason = 'the vector resolves no image for this version'
    } else {
      const results = candidates.map((c) => ({ c, r: compare(deployed, c.ref, usage.runningDigests) }))
      const hit =
        results.find((x) => x.r.status === 'matches') ?? results.find((x) => x.r.status === 'unknown')
      const chosen = hit ?? results[0]!
      row.expected = chosen.c.image
      row.status = chosen.r.status
      if (chosen.r.reason) row.reason = chosen.r.reason
    }
    rows.push(row)
    for (const name of names) {
      const counts = perName.get(name) ?? { matches: 0, differs: 0, unknown: 0 }
      counts[row.status === 'matches' ? 'matches' : row.status === 'differs' ? 'differs' : 'unknown']++
      perName.set(name, counts)
    }
  }
  rows.sort(
    (a, b) =>
      cmp(a.namespace, b.namespace) ||
      cmp(a.kind, b.kind) ||
      cmp(a.workload, b.workload) ||
      cmp(a.container, b.container),
  )
  return { rows, perName, containers: inventory.images.length, unmatched }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
