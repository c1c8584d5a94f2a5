import type { ContainerImage, ContainerKind, ImageInventory, ReadWarning } from '../cluster/types.ts'
import { noMatch } from '../latest/latest.ts'
import type { TagLookup } from '../latest/lookup.ts'
import { classify, parsePolicy } from '../policy/index.ts'
import type { TagPolicy } from '../policy/types.ts'
import { type ImageReference, parseImageReference } from '../reference/index.ts'
import type { RepositoryRef } from '../registry/client.ts'
import { TagExclusions } from '../registry/exclude.ts'
import { mapConcurrent } from '../util/limit.ts'
import { ANNOTATION_POLICY, ANNOTATION_SKIP } from './rules.ts'
import { FAIL_ON, type ScanStatus } from './statuses.ts'

export { SCAN_STATUSES, type ScanStatus } from './statuses.ts'

/** Which policy applies to one container, and why (see src/scan/rules.ts for the order). */
export interface PolicyDecision {
  expr: string
  /** Where the policy came from, e.g. `annotation kubectl-images.io/policy`, `default`. */
  source: string
  /** Extra exclusion patterns from the rule that matched. */
  excludes: string[]
  skip: boolean
  why?: string
  /** Something about the workload's annotations worth a warning (the scan goes on). */
  warning?: string
}

/**
 * Decides from the image, the container's name and the workload's kubectl-images.io skip and policy
 * annotations alone (src/scan/rules.ts): a scan asks once per distinct combination.
 */
export type PolicyResolver = (
  usage: ContainerImage,
  image: { name: string; familiarName: string; tag?: string; digest?: string },
) => PolicyDecision

export interface PinnedDigest {
  digest: string
  /** The tag written beside the digest, if any. */
  tag?: string
  /** What that tag points at in the registry now. */
  tagDigest?: string
  /** Whether the pinned digest is still what the tag points at (undefined when there is no tag to check). */
  current?: boolean
}

/** One row of the report: one container of one workload. */
export interface ScanRow {
  namespace: string
  kind: string
  name: string
  container: string
  containerType: ContainerKind
  image: string
  repository?: string
  tag?: string
  digest?: string
  /** Digests the pods really run. */
  runningDigests: string[]
  /** The workload's pods run several digests for this container. */
  drift: boolean
  pods: number
  latest?: string
  latestImage?: string
  status: ScanStatus
  policy?: string
  policySource?: string
  why?: string
  pinned?: PinnedDigest
  error?: string
}

export interface ScanReport {
  apiVersion: string
  kind: 'ScanReport'
  source: ImageInventory['source']
  context?: string
  generatedAt: string
  summary: {
    containers: number
    workloads: number
    repositories: number
    statuses: Partial<Record<ScanStatus, number>>
  }
  warnings: ReadWarning[]
  items: ScanRow[]
}

export interface ScanOptions {
  lookup: TagLookup
  resolvePolicy: PolicyResolver
  /** Namespace shown for manifests that name none. */
  defaultNamespace?: string
  /** Repositories resolved at once (the registry client limits requests per host on its own). */
  concurrency?: number
  onProgress?: (done: number, total: number) => void
  apiVersion: string
}

interface Prepared {
  usage: ContainerImage
  ref?: ImageReference
  decision?: PolicyDecision
  policy?: TagPolicy
  key?: string
  error?: string
}

interface Resolved {
  latest?: string
  error?: string
}

const IMPLICIT_TAG = 'latest'

/**
 * Compares every container image of an inventory with the newest tag under its policy. Each
 * (repository, policy, exclusions) is looked up once; a failure is an `unknown` row, never a failed scan.
 */
export async function scanImages(inventory: ImageInventory, options: ScanOptions): Promise<ScanReport> {
  const prepared = inventory.images.map((usage) => prepare(usage, options))

  const lookups = new Map<string, { repo: RepositoryRef; policy: TagPolicy; extra?: TagExclusions }>()
  const lookupErrors = new Map<string, string>()
  for (const item of prepared) {
    if (!item.key || !item.ref || !item.policy || lookups.has(item.key) || lookupErrors.has(item.key))
      continue
    let extra: TagExclusions | undefined
    try {
      if (item.decision?.excludes.length)
        extra = new TagExclusions(item.decision.excludes, { defaults: false })
    } catch (error) {
      lookupErrors.set(item.key, `invalid exclusion pattern: ${(error as Error).message}`)
      continue
    }
    lookups.set(item.key, {
      repo: { domain: item.ref.domain, path: item.ref.path },
      policy: item.policy,
      ...(extra ? { extra } : {}),
    })
  }
  const repositories = new Map<string, RepositoryRef>()
  for (const { repo } of lookups.values()) repositories.set(`${repo.domain}/${repo.path}`, repo)
  await options.lookup.options.client.expect([...repositories.values()]).catch(() => undefined)

  const resolved = new Map<string, Resolved>()
  for (const [key, error] of lookupErrors) resolved.set(key, { error })
  let done = 0
  const entries = [...lookups.entries()]
  options.onProgress?.(0, entries.length)
  await mapConcurrent(entries, options.concurrency ?? 64, async ([key, { repo, policy, extra }]) => {
    try {
      const { latest, tagCount } = await options.lookup.latest(repo, policy, extra)
      resolved.set(
        key,
        latest === undefined
          ? { error: noMatch(`${repo.domain}/${repo.path}`, policy.expr, tagCount) }
          : { latest },
      )
    } catch (error) {
      resolved.set(key, { error: (error as Error).message })
    }
    options.onProgress?.(++done, entries.length)
  })

  const pinChecks = new Map<string, Promise<string | Error>>()
  const client = options.lookup.options.client
  for (const item of prepared) {
    const ref = item.ref
    if (!ref?.digest || !ref.tag || item.decision?.skip) continue
    const key = `${ref.name}:${ref.tag}`
    if (!pinChecks.has(key)) {
      pinChecks.set(
        key,
        client
          .resolveDigest({ domain: ref.domain, path: ref.path }, ref.tag, options.lookup.options.signal)
          .then(
            (d) => d.digest,
            (error: Error) => error,
          ),
      )
    }
  }

  const rows: ScanRow[] = []
  for (const item of prepared) {
    rows.push(await buildRow(item, resolved, pinChecks, options))
  }
  rows.sort(compareRows)
  const statuses: Partial<Record<ScanStatus, number>> = {}
  for (const row of rows) statuses[row.status] = (statuses[row.status] ?? 0) + 1
  const workloads = new Set(rows.map((row) => `${row.namespace}/${row.kind}/${row.name}`))
  return {
    apiVersion: options.apiVersion,
    kind: 'ScanReport',
    source: inventory.source,
    ...(inventory.context ? { context: inventory.context } : {}),
    generatedAt: new Date().toISOString(),
    summary: {
      containers: rows.length,
      workloads: workloads.size,
      repositories: repositories.size,
      statuses,
    },
    warnings: [...inventory.warnings, ...policyWarnings(prepared)],
    items: rows,
  }
}

function policyWarnings(prepared: Prepared[]): ReadWarning[] {
  const seen = new Map<string, ReadWarning>()
  for (const { usage, decision } of prepared) {
    if (!decision?.warning) continue
    const { kind, namespace, name } = usage.workload
    const message = `${namespace ? `${namespace}/` : ''}${kind}/${name}: ${decision.warning}`
    seen.set(message, { kind, ...(namespace ? { namespace } : {}), message })
  }
  return [...seen.values()]
}

/**
 * Returns a function that starts the tag-list lookups of the repositories of images as they become known
 * (while the rest of the inventory is still being read), through the same preparation as scanImages: an
 * image that does not parse, whose policy is invalid, or that its policy skips fetches nothing. scanImages
 * later awaits the same memoised lookups; failures are left for it to report.
 */
export function tagPrefetcher(
  options: Pick<ScanOptions, 'lookup' | 'resolvePolicy'>,
): (images: readonly ContainerImage[]) => void {
  const seen = new Set<string>()
  // Images already prefetched: most rows share them, and preparing a row (parse, policy) is not free.
  const done = new Set<string>()
  const { lookup } = options
  let queue: Promise<void> = Promise.resolve()
  return (images) => {
    const batch: RepositoryRef[] = []
    for (const usage of images) {
      if (done.has(usage.image)) continue
      const item = prepare(usage, options)
      if (!item.key || !item.ref) continue
      done.add(usage.image)
      const repo = { domain: item.ref.domain, path: item.ref.path }
      const key = `${repo.domain}/${repo.path}`
      if (seen.has(key)) continue
      seen.add(key)
      batch.push(repo)
    }
    if (batch.length === 0) return
    // In order, so one token request can cover a batch's repositories.
    queue = queue
      .then(() => lookup.options.client.expect(batch))
      .catch(() => undefined)
      .then(() => {
        for (const repo of batch) lookup.tags(repo).catch(() => undefined)
      })
  }
}

/** What prepare() has worked out, per resolver (so per scan): most rows share their image and policy. */
interface PrepareCache {
  refs: Map<string, ImageReference | string>
  decisions: Map<string, PolicyDecision | string>
  policies: Map<string, TagPolicy | string>
}
const prepareCaches = new WeakMap<PolicyResolver, PrepareCache>()

const ourAnnotations = new WeakMap<object, boolean>()

/** The annotations resolvePolicy reads for a container (src/scan/rules.ts), as part of a cache key. */
function policyAnnotations(usage: ContainerImage): string {
  const a = usage.annotations
  // Most workloads carry none of ours: found out once per annotations object (shared by its containers).
  let ours = ourAnnotations.get(a)
  if (ours === undefined) {
    ours = Object.keys(a).some((key) => key.startsWith('kubectl-images.io/'))
    ourAnnotations.set(a, ours)
  }
  if (!ours) return ''
  const keys = [
    `${ANNOTATION_SKIP}.${usage.container}`,
    `${ANNOTATION_POLICY}.${usage.container}`,
    ANNOTATION_SKIP,
    ANNOTATION_POLICY,
  ]
  return keys.map((k) => (a[k] === undefined ? '\u0001' : a[k])).join('\u0000')
}

function prepare(usage: ContainerImage, options: Pick<ScanOptions, 'resolvePolicy'>): Prepared {
  let cache = prepareCaches.get(options.resolvePolicy)
  if (!cache) {
    cache = { refs: new Map(), decisions: new Map(), policies: new Map() }
    prepareCaches.set(options.resolvePolicy, cache)
  }
  const image = usage.image.trim()
  let ref = cache.refs.get(image)
  if (ref === undefined) {
    try {
      ref = parseImageReference(image)
    } catch (error) {
      ref = (error as Error).message
    }
    cache.refs.set(image, ref)
  }
  if (typeof ref === 'string') return { usage, error: ref }

  const decisionKey = `${image}\u0000${usage.container}\u0000${policyAnnotations(usage)}`
  let decision = cache.decisions.get(decisionKey)
  if (decision === undefined) {
    try {
      decision = options.resolvePolicy(usage, {
        name: ref.name,
        familiarName: ref.familiarName,
        ...(ref.tag ? { tag: ref.tag } : {}),
        ...(ref.digest ? { digest: ref.digest } : {}),
      })
    } catch (error) {
      decision = (error as Error).message
    }
    cache.decisions.set(decisionKey, decision)
  }
  if (typeof decision === 'string') return { usage, ref, error: decision }
  if (decision.skip) return { usage, ref, decision }

  const currentTag = ref.tag ?? (ref.digest ? undefined : IMPLICIT_TAG)
  const policyKey = `${decision.expr}\u0000${currentTag ?? ''}`
  let policy = cache.policies.get(policyKey)
  if (policy === undefined) {
    try {
      policy = parsePolicy(decision.expr, currentTag ? { currentTag } : {})
    } catch (error) {
      policy = (error as Error).message
    }
    cache.policies.set(policyKey, policy)
  }
  if (typeof policy === 'string') return { usage, ref, decision, error: `${decision.source}: ${policy}` }
  const key = `${ref.name}\u0000${policy.expr}\u0000${decision.excludes.join('\u0000')}`
  return { usage, ref, decision, policy, key }
}

async function buildRow(
  item: Prepared,
  resolved: Map<string, Resolved>,
  pinChecks: Map<string, Promise<string | Error>>,
  options: ScanOptions,
): Promise<ScanRow> {
  const { usage, ref, decision, policy } = item
  const row: ScanRow = {
    namespace: usage.workload.namespace ?? options.defaultNamespace ?? 'default',
    kind: usage.workload.kind,
    name: usage.workload.name,
    container: usage.container,
    containerType: usage.containerKind,
    image: usage.image,
    runningDigests: usage.runningDigests,
    drift: usage.runningDigests.length > 1,
    pods: usage.pods,
    status: 'unknown',
  }
  if (ref) {
    row.repository = ref.name
    if (ref.tag) row.tag = ref.tag
    if (ref.digest) row.digest = ref.digest
  }
  if (decision) {
    row.policySource = decision.source
    if (decision.why) row.why = decision.why
  }
  if (policy) row.policy = policy.expr
  // Set in place (not spread into a copy): keys keep the order the JSON output shows.
  if (item.error) {
    row.error = item.error
    return row
  }
  if (decision?.skip) {
    row.status = 'skipped'
    return row
  }
  if (!ref || !policy || !item.key) return row

  const result = resolved.get(item.key)
  if (result?.latest) {
    row.latest = result.latest
    row.latestImage = `${ref.name}:${result.latest}`
  }
  if (ref.digest) {
    const pinned: PinnedDigest = { digest: ref.digest }
    if (ref.tag) {
      pinned.tag = ref.tag
      const now = await pinChecks.get(`${ref.name}:${ref.tag}`)
      if (typeof now === 'string') {
        pinned.tagDigest = now
        pinned.current = now === ref.digest
      } else if (now) {
        row.error = `cannot check the pinned tag: ${now.message}`
      }
    }
    if (!result?.latest) row.error ??= result?.error ?? 'not resolved'
    // What the registry could not say makes the row unknown (for --fail-on unknown); the pin is still shown.
    row.status = row.error ? 'unknown' : 'pinned-digest'
    row.pinned = pinned
    return row
  }
  if (!result?.latest) row.error = result?.error ?? 'not resolved'
  else row.status = classify(ref.tag ?? IMPLICIT_TAG, result.latest, policy)
  return row
}

function compareRows(a: ScanRow, b: ScanRow): number {
  return (
    cmp(a.repository ?? a.image, b.repository ?? b.image) ||
    cmp(a.namespace, b.namespace) ||
    cmp(a.kind, b.kind) ||
    cmp(a.name, b.name) ||
    cmp(a.containerType, b.containerType) ||
    cmp(a.container, b.container)
  )
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The rows that trip any of the given `--fail-on` levels. */
export function failingRows(report: ScanReport, levels: readonly string[]): ScanRow[] {
  const statuses = new Set(levels.flatMap((level) => FAIL_ON[level] ?? []))
  const stalePins = levels.includes('any')
  return report.items.filter(
    (row) => statuses.has(row.status) || (stalePins && row.pinned?.current === false),
  )
}
