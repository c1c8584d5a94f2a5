// `kubectl images pin` core: from the inventory (cluster or manifests, the same source as scan) to kluctl
// fixed images, one per (workload, container). No terminal here: warnings and errors are returned.
//
//   result = fixed entry (files, then -F; last match wins)
//          > newest tag under the scan's policy (--latest, only images --include names)
//          > the image as deployed
//   then, in digest mode, repo:tag@digest (the pods' digest for deployed rows with --from-running).

import type { RegistryFlagValues } from '../cli/registry-flags.ts'
import { runDeadline, setupRegistry } from '../cli/registry-flags.ts'
import { readInventory, type SourceRequest } from '../cluster/source.ts'
import type { ContainerImage, ImageInventory, WorkloadRef } from '../cluster/types.ts'
import { type ImageReference, parseImageReference } from '../reference/index.ts'
import type { RepositoryRef } from '../registry/client.ts'
import { formatPlatform, type Platform, parsePlatform } from '../registry/platform.ts'
import type { PullSecretsRequest } from '../registry/pull-secrets.ts'
import { makePolicyResolver, type PolicyRequest } from '../scan/policy.ts'
import { ExitCode, UserError } from '../util/errors.ts'
import { mapConcurrent } from '../util/limit.ts'
import type { DigestResolver } from './digests.ts'
import {
  type FixedImage,
  type FixedImageRule,
  findFixedImage,
  type ImageUse,
  parseFixedImageArg,
  readFixedImagesFile,
  ruleMatches,
  type SimpleConflict,
  simplifyFixedImages,
  sortFixedImages,
} from './fixed-images.ts'

export interface PinRequest extends RegistryFlagValues, SourceRequest, PolicyRequest, PullSecretsRequest {
  latest?: boolean
  include?: string[]
  digest?: boolean
  'digest-only'?: boolean
  platform?: string
  'from-running'?: boolean
  simple?: boolean
  'fixed-images-file'?: string[]
  'fixed-image'?: string[]
  version: string
  env?: NodeJS.ProcessEnv
}

export type PinSource = 'deployed' | 'latest' | 'fixed'

/** One container of one workload and what it is pinned to. */
export interface PinRow {
  workload: WorkloadRef
  container: string
  /** kluctl's view of the container: the repository as written, namespace, `Kind/name`, container. */
  use: ImageUse
  /** The image as written in the spec. */
  deployed: string
  runningDigests: string[]
  source: PinSource
  /** The fixed entry that decided (source fixed). */
  fixed?: string
  result?: string
  error?: string
}

export interface PinOutcome {
  source: ImageInventory['source']
  context?: string
  rows: PinRow[]
  /** Sorted; one per image with --simple. */
  entries: FixedImage[]
  /** One line each, for stderr. */
  warnings: string[]
  /** One line each; when there are any, nothing should be written. */
  errors: string[]
}

/** The repository as written, without tag or digest: `localhost:5000/app:1@sha256:…` gives `localhost:5000/app`. */
export function repositoryAsWritten(image: string, ref: Pick<ImageReference, 'tag' | 'digest'>): string {
  let end = image.length
  if (ref.digest) end -= ref.digest.length + 1
  if (ref.tag) end -= ref.tag.length + 1
  return image.slice(0, end)
}

export function workloadName(row: { workload: WorkloadRef; container: string }): string {
  const { namespace, kind, name } = row.workload
  return `${namespace ? `${namespace}/` : ''}${kind}/${name} container ${row.container}`
}

/** The flags a user typed, checked before anything is read. */
export interface PinInputs {
  rules: FixedImageRule[]
  include: Array<(repository: { name: string; familiarName: string }) => boolean>
  platform?: Platform
}

const usage = (message: string): UserError => new UserError(message, { exitCode: ExitCode.usage })

export async function readPinInputs(request: PinRequest): Promise<PinInputs> {
  if (request.include?.length && !request.latest) throw usage('--include limits --latest; add --latest (-u)')
  if (!request.latest && (request.policy !== undefined || request['policy-for']?.length)) {
    throw usage('--policy and --policy-for choose the newest tag; add --latest (-u)')
  }
  if (request['from-running'] && request.filename?.length) {
    throw usage('--from-running reads the digests pods run; it cannot be combined with -f')
  }
  let platform: Platform | undefined
  if (request.platform !== undefined) {
    try {
      platform = parsePlatform(request.platform)
    } catch (error) {
      throw usage(`--platform: ${(error as Error).message}`)
    }
  }
  const { imageMatcher } = await import('../scan/rules.ts')
  const include = (request.include ?? []).map((pattern) => {
    try {
      return imageMatcher(pattern)
    } catch (error) {
      throw usage(`--include ${pattern}: ${(error as Error).message}`)
    }
  })
  // kluctl's order: file entries (files in order), then -F in command-line order; the last match wins.
  const rules: FixedImageRule[] = []
  for (const file of request['fixed-images-file'] ?? []) rules.push(...(await readFixedImagesFile(file)))
  for (const [i, arg] of (request['fixed-image'] ?? []).entries()) rules.push(parseFixedImageArg(arg, i + 1))
  return { rules, include, ...(platform ? { platform } : {}) }
}

/**
 * One row per container and init container (ephemeral containers are debugging sessions, never deployed
 * from a manifest), with the fixed entry that matches it.
 */
export function planRows(inventory: ImageInventory, rules: readonly FixedImageRule[]): PinRow[] {
  const rows: PinRow[] = []
  for (const item of inventory.images) {
    if (item.containerKind === 'ephemeral') continue
    const { workload } = item
    const row: PinRow = {
      workload,
      container: item.container,
      use: {
        image: item.image,
        namespace: workload.namespace ?? '',
        deployment: `${workload.kind}/${workload.name}`,
        container: item.container,
      },
      deployed: item.image,
      runningDigests: item.runningDigests,
      source: 'deployed',
      result: item.image,
    }
    try {
      const ref = parseImageReference(item.image)
      row.use.image = repositoryAsWritten(item.image, ref)
    } catch (error) {
      rows.push({ ...row, error: (error as Error).message })
      continue
    }
    const fixed = findFixedImage(rules, row.use)
    if (fixed) {
      row.source = 'fixed'
      row.fixed = fixed.origin
      row.result = fixed.resultImage
    }
    rows.push(row)
  }
  return rows
}

/** Fixed entries no container used, for a warning (kluctl would never apply them here either). */
export function unusedRules(rules: readonly FixedImageRule[], rows: readonly PinRow[]): string[] {
  const used = new Set(rows.map((row) => row.fixed).filter((origin) => origin !== undefined))
  const lines: string[] = []
  for (const rule of rules) {
    if (used.has(rule.origin)) continue
    const matches = rows.some((row) => !row.error && ruleMatches(rule, row.use))
    lines.push(
      matches
        ? `${rule.origin}: a later entry wins for every container it matches`
        : `${rule.origin}: matches no container${hint(rule, rows)}`,
    )
  }
  return lines
}

/** kluctl compares images as written: say so when the entry names the same repository spelled otherwise. */
function hint(rule: FixedImageRule, rows: readonly PinRow[]): string {
  if (rule.image === undefined) return ''
  let name: string
  try {
    name = parseImageReference(rule.image).name
  } catch {
    return ''
  }
  const spelled = new Set<string>()
  for (const row of rows) {
    if (row.error) continue
    try {
      if (parseImageReference(row.use.image).name === name) spelled.add(row.use.image)
    } catch {
      // unreachable: rows without error parsed
    }
  }
  spelled.delete(rule.image)
  return spelled.size
    ? ` (images are compared as written; the workloads write ${[...spelled].join(', ')})`
    : ''
}

/** Every option that asks for digests. */
function digestMode(request: PinRequest): boolean {
  return Boolean(
    request.digest || request['digest-only'] || request.platform !== undefined || request['from-running'],
  )
}

/** Reads the source, applies fixed entries, --latest and digests, and returns the entries to write. */
export async function collectPins(request: PinRequest): Promise<PinOutcome> {
  const env = request.env ?? process.env
  const inputs = await readPinInputs(request)
  const policy = request.latest ? await makePolicyResolver(request, env) : undefined

  const deadline = runDeadline(request)
  const { inventory, readSecrets } = await readInventory(request, env, undefined, deadline)
  const warnings: string[] = inventory.warnings.map((warning) => warning.message)
  const rows = planRows(inventory, inputs.rules)
  warnings.push(...limitLines(unusedRules(inputs.rules, rows), 10))

  const moving = request.latest
    ? rows.filter(
        (row) =>
          !row.error &&
          row.source === 'deployed' &&
          (inputs.include.length === 0 || inputs.include.some((match) => match(nameOf(row.use.image)))),
      )
    : []
  if (moving.length > 0 || (digestMode(request) && rows.some((row) => !row.error))) {
    const setup = await setupRegistry(request, request.version, deadline)
    try {
      const { applyPullSecretsIfAsked } = await import('../registry/pull-secrets.ts')
      const secretWarnings = await applyPullSecretsIfAsked(
        request,
        inventory.images,
        setup.client,
        readSecrets,
      )
      warnings.push(...secretWarnings.map((warning) => warning.message))
      if (moving.length > 0 && policy) {
        warnings.push(...(await moveToLatest(moving, inventory, policy, setup)))
      }
      if (digestMode(request)) {
        const { DigestResolver } = await import('./digests.ts')
        const resolver = new DigestResolver(setup.client, setup.signal)
        const repos = new Map<string, RepositoryRef>()
        for (const row of rows) {
          const repo = row.result && !row.error ? repoOf(row.result) : undefined
          if (repo) repos.set(`${repo.domain}/${repo.path}`, repo)
        }
        await setup.client.expect([...repos.values()]).catch(() => undefined)
        warnings.push(...(await pinDigests(rows, resolver, request, inputs.platform)))
      }
    } finally {
      await setup.client.close()
    }
  }

  const errors = rows.filter((row) => row.error).map((row) => `${workloadName(row)}: ${row.error}`)
  let entries = entriesOf(rows, warnings)
  if (request.simple) {
    const simple = simplifyFixedImages(entries)
    entries = simple.entries
    warnings.push(...simple.conflicts.map(conflictWarning))
  }
  return {
    source: inventory.source,
    ...(inventory.context ? { context: inventory.context } : {}),
    rows,
    entries,
    warnings,
    errors,
  }
}

function nameOf(repository: string): { name: string; familiarName: string } {
  const ref = parseImageReference(repository)
  return { name: ref.name, familiarName: ref.familiarName }
}

function repoOf(image: string): RepositoryRef | undefined {
  try {
    const ref = parseImageReference(image)
    return { domain: ref.domain, path: ref.path }
  } catch {
    return undefined
  }
}

function limitLines(lines: string[], max: number): string[] {
  if (lines.length <= max) return lines
  return [
    ...lines.slice(0, max),
    `... and ${lines.length - max} more fixed entries that apply to no container`,
  ]
}

/**
 * Moves rows to the newest tag under the policy scan would use for them: the same resolution (flags,
 * annotations, config and built-in rules) and the same lookup, through the scan core itself. A skipped image
 * stays as deployed.
 */
async function moveToLatest(
  rows: PinRow[],
  inventory: ImageInventory,
  policy: Awaited<ReturnType<typeof makePolicyResolver>>,
  setup: Awaited<ReturnType<typeof setupRegistry>>,
): Promise<string[]> {
  const [{ scanImages }, { TagLookup }] = await Promise.all([
    import('../scan/scan.ts'),
    import('../latest/lookup.ts'),
  ])
  // Rows are one per (workload, container): scan's rows map back by the same names.
  const key = (namespace: string, kind: string, name: string, container: string) =>
    `${namespace}\u0000${kind}\u0000${name}\u0000${container}`
  const byKey = new Map<string, PinRow>()
  for (const row of rows) {
    byKey.set(key(row.use.namespace, row.workload.kind, row.workload.name, row.container), row)
  }
  const images: ContainerImage[] = inventory.images.filter(
    (usage) =>
      usage.containerKind !== 'ephemeral' &&
      byKey.has(
        key(usage.workload.namespace ?? '', usage.workload.kind, usage.workload.name, usage.container),
      ),
  )
  const lookup = new TagLookup({ client: setup.client, exclusions: setup.exclusions, signal: setup.signal })
  const report = await scanImages(
    { ...inventory, images, warnings: [] },
    { lookup, resolvePolicy: policy, apiVersion: 'internal', defaultNamespace: '' },
  )
  const skipped = new Set<string>()
  for (const item of report.items) {
    const row = byKey.get(key(item.namespace, item.kind, item.name, item.container))
    if (!row) continue
    if (item.status === 'skipped') {
      skipped.add(`${row.use.image} (${item.policySource})`)
    } else if (item.latest !== undefined) {
      row.source = 'latest'
      row.result = `${row.use.image}:${item.latest}`
    } else {
      row.error = `cannot find the newest tag: ${item.error ?? 'not resolved'}; pin it with -F or leave it out of --include`
    }
  }
  return [
    ...report.warnings.map((warning) => warning.message),
    ...[...skipped].map((what) => `${what} is skipped; it stays as deployed`),
  ]
}

/**
 * Digest mode: `repo:tag@digest` (or `repo@digest`) for every row. The digest is the one the result names,
 * else (--from-running, deployed rows) the one the pods run, else what the tag points at in the registry;
 * with --platform, that platform's manifest. Each tag and digest is asked once.
 */
async function pinDigests(
  rows: PinRow[],
  resolver: DigestResolver,
  request: PinRequest,
  platform: Platform | undefined,
): Promise<string[]> {
  const warnings: string[] = []
  const single = new Set<string>()
  let fellBack = 0
  await mapConcurrent(
    rows.filter((row) => !row.error && row.result),
    16,
    async (row) => {
      let ref: ImageReference
      try {
        ref = parseImageReference(row.result!)
      } catch (error) {
        row.error = `resultImage ${row.result}: ${(error as Error).message}`
        return
      }
      const repoText = repositoryAsWritten(row.result!, ref)
      const repo = { domain: ref.domain, path: ref.path }
      // What was written, or the tag a pull would use.
      const tag = ref.tag ?? (ref.digest ? undefined : 'latest')
      let digest = ref.digest
      if (!digest && request['from-running'] && row.source === 'deployed') {
        if (row.runningDigests.length > 1) {
          row.error = `pods run ${row.runningDigests.length} digests (${row.runningDigests.join(', ')}); pin one with -F ${row.use.image}:${row.use.namespace}:${row.use.deployment}:${row.use.container}=${repoText}@<digest>`
          return
        }
        digest = row.runningDigests[0]
        if (!digest) fellBack++
      }
      try {
        if (platform) {
          const picked = await resolver.platform(repo, digest ?? tag!, platform)
          if (!picked.fromIndex) single.add(`${repoText}${digest ? `@${digest}` : `:${tag}`}`)
          digest = picked.digest
        } else if (!digest) {
          digest = await resolver.digest(repo, tag!)
        }
      } catch (error) {
        row.error = (error as Error).message
        return
      }
      row.result = request['digest-only'] || !tag ? `${repoText}@${digest}` : `${repoText}:${tag}@${digest}`
    },
  )
  if (platform && single.size > 0) {
    const list = [...single].sort()
    const against = formatPlatform(platform)
    warnings.push(
      list.length === 1
        ? `${list[0]} is a single manifest, not an index: pinned as it is, without checking its platform against ${against}`
        : `${list.length} images are single manifests, not indexes: pinned as they are, without checking their platform against ${against}: ${list.join(', ')}`,
    )
  }
  if (fellBack > 0) {
    warnings.push(
      `${fellBack} container${fellBack === 1 ? ' has' : 's have'} no running pod reporting a digest; pinned to what the tag points at in the registry`,
    )
  }
  return warnings
}

/** The entries to write: one per row, identical ones once; two results for one key keep the first and warn. */
function entriesOf(rows: readonly PinRow[], warnings: string[]): FixedImage[] {
  const byKey = new Map<string, FixedImage>()
  for (const row of rows) {
    if (row.error || row.result === undefined) continue
    const entry: FixedImage = { image: row.use.image, resultImage: row.result }
    if (row.workload.namespace !== undefined) entry.namespace = row.workload.namespace
    entry.deployment = row.use.deployment
    entry.container = row.use.container
    const id = `${entry.image}\u0000${entry.namespace ?? ''}\u0000${entry.deployment}\u0000${entry.container}`
    const seen = byKey.get(id)
    if (!seen) byKey.set(id, entry)
    else if (seen.resultImage !== entry.resultImage) {
      warnings.push(
        `${workloadName(row)} is read twice with different images (${seen.resultImage}, ${entry.resultImage}); keeping ${seen.resultImage}`,
      )
    }
  }
  return sortFixedImages([...byKey.values()])
}

function conflictWarning(conflict: SimpleConflict): string {
  const list = conflict.results
    .map((r) => `${r.resultImage} (${r.count} container${r.count === 1 ? '' : 's'})`)
    .join(', ')
  return `--simple: ${conflict.image} is pinned to several images: ${list}; wrote ${conflict.chosen}, which kluctl will use everywhere; drop --simple to pin each workload`
}
