// `pin --check FILE`: does the cluster (or -f manifests) run what a fixed-images file says, and does the
// registry still serve it? Drift: the deployed image differs, the tag or digest is gone, the tag moved.
import type { RegistryFlagValues } from '../cli/registry-flags.ts'
import { runDeadline, setupRegistry } from '../cli/registry-flags.ts'
import { readInventory, type SourceRequest } from '../cluster/source.ts'
import type { ImageInventory, ReadWarning } from '../cluster/types.ts'
import { type ImageReference, parseImageReference } from '../reference/index.ts'
import type { RepositoryRef } from '../registry/client.ts'
import { RegistryError } from '../registry/errors.ts'
import type { PullSecretsRequest } from '../registry/pull-secrets.ts'
import { mapConcurrent } from '../util/limit.ts'
import type { DigestResolver } from './digests.ts'
import { type FixedImageRule, findFixedImage, readFixedImagesFile, ruleMatches } from './fixed-images.ts'
import { type PinRow, planRows } from './pin.ts'

export interface CheckRequest extends RegistryFlagValues, SourceRequest, PullSecretsRequest {
  check: string
  version: string
  apiVersion: string
  env?: NodeJS.ProcessEnv
}

export const DRIFT_PROBLEMS = ['deployed-differs', 'tag-not-found', 'digest-not-found', 'tag-moved'] as const
export type CheckProblemType = (typeof DRIFT_PROBLEMS)[number] | 'no-workload' | 'error'

export interface CheckProblem {
  type: CheckProblemType
  message: string
}

export interface CheckItem {
  /** `images[3]` */
  entry: string
  /** `pins.yaml:12 images[3]` */
  origin: string
  image?: string
  imageRegex?: string
  namespace?: string
  deployment?: string
  container?: string
  /** The entry's resultImage. */
  expected: string
  /** The container this entry decides; absent when it decides none. */
  workload?: { namespace?: string; kind: string; name: string; container: string }
  /** The image as written in the spec. */
  actual?: string
  runningDigests?: string[]
  problems: CheckProblem[]
}

export interface CheckReport {
  apiVersion: string
  kind: 'PinCheck'
  file: string
  source: ImageInventory['source']
  context?: string
  generatedAt: string
  summary: {
    entries: number
    /** Containers some entry decides. */
    containers: number
    /** Containers no entry covers. */
    uncovered: number
    drift: number
    noWorkload: number
    errors: number
  }
  warnings: ReadWarning[]
  items: CheckItem[]
}

/** Exit code for CI: 3 drift, else 1 when something could not be checked, else 0 (as scan --fail-on). */
export function checkExitCode(report: CheckReport): number {
  if (report.summary.drift > 0) return 3
  return report.summary.errors > 0 ? 1 : 0
}

export async function checkPins(request: CheckRequest): Promise<CheckReport> {
  const env = request.env ?? process.env
  const rules = await readFixedImagesFile(request.check)
  const deadline = runDeadline(request)
  const { inventory, readSecrets } = await readInventory(request, env, undefined, deadline)
  const rows = planRows(inventory, rules)
  const setup = await setupRegistry(request, request.version, deadline)
  try {
    const { applyPullSecretsIfAsked } = await import('../registry/pull-secrets.ts')
    inventory.warnings.push(
      ...(await applyPullSecretsIfAsked(request, inventory.images, setup.client, readSecrets)),
    )
    const { DigestResolver } = await import('./digests.ts')
    const resolver = new DigestResolver(setup.client, setup.signal)
    const repos = new Map<string, RepositoryRef>()
    for (const rule of rules) {
      const ref = parseImageReference(rule.resultImage)
      repos.set(ref.name, { domain: ref.domain, path: ref.path })
    }
    await setup.client.expect([...repos.values()]).catch(() => undefined)
    return await compare(rules, rows, resolver, inventory, request)
  } finally {
    await setup.client.close()
  }
}

async function compare(
  rules: readonly FixedImageRule[],
  rows: readonly PinRow[],
  resolver: DigestResolver,
  inventory: ImageInventory,
  request: CheckRequest,
): Promise<CheckReport> {
  const decided = new Map<FixedImageRule, PinRow[]>()
  let uncovered = 0
  for (const row of rows) {
    if (row.error) continue
    const rule = findFixedImage(rules, row.use)
    if (!rule) {
      uncovered++
      continue
    }
    const list = decided.get(rule)
    if (list) list.push(row)
    else decided.set(rule, [row])
  }

  const groups: CheckItem[][] = []
  await mapConcurrent([...rules.entries()], 16, async ([index, rule]) => {
    const expected = parseImageReference(rule.resultImage)
    const repo = { domain: expected.domain, path: expected.path }
    const registry = await registryProblems(rule, expected, repo, resolver)
    const base: CheckItem = {
      entry: `images[${index}]`,
      origin: rule.origin,
      ...(rule.image !== undefined ? { image: rule.image } : {}),
      ...(rule.imageRegex !== undefined ? { imageRegex: rule.imageRegex } : {}),
      ...(rule.namespace !== undefined ? { namespace: rule.namespace } : {}),
      ...(rule.deployment !== undefined ? { deployment: rule.deployment } : {}),
      ...(rule.container !== undefined ? { container: rule.container } : {}),
      expected: rule.resultImage,
      problems: [],
    }
    const mine = decided.get(rule) ?? []
    if (mine.length === 0) {
      const shadowed = rows.some((row) => !row.error && ruleMatches(rule, row.use))
      const message = shadowed
        ? 'matches no workload: a later entry wins for every container it matches'
        : 'matches no workload'
      groups[index] = [{ ...base, problems: [{ type: 'no-workload', message }, ...registry.problems] }]
      return
    }
    const gone = registry.problems.some((p) => p.type === 'tag-not-found' || p.type === 'digest-not-found')
    const perRow: CheckItem[] = []
    for (const row of mine) {
      const item: CheckItem = {
        ...base,
        workload: {
          ...(row.workload.namespace !== undefined ? { namespace: row.workload.namespace } : {}),
          kind: row.workload.kind,
          name: row.workload.name,
          container: row.container,
        },
        actual: row.deployed,
        ...(row.runningDigests.length ? { runningDigests: row.runningDigests } : {}),
        problems: [
          ...(await deployedProblems(row, expected, registry.tagDigest, resolver, gone)),
          ...registry.problems,
        ],
      }
      perRow.push(item)
    }
    groups[index] = perRow
  })
  const flat = groups.flat()
  const count = (types: readonly string[]) =>
    flat.filter((item) => item.problems.some((p) => types.includes(p.type))).length
  return {
    apiVersion: request.apiVersion,
    kind: 'PinCheck',
    file: request.check,
    source: inventory.source,
    ...(inventory.context ? { context: inventory.context } : {}),
    generatedAt: new Date().toISOString(),
    summary: {
      entries: rules.length,
      containers: [...decided.values()].reduce((n, list) => n + list.length, 0),
      uncovered,
      drift: count(DRIFT_PROBLEMS),
      noWorkload: count(['no-workload']),
      errors: count(['error']),
    },
    warnings: [
      ...inventory.warnings,
      ...rows
        .filter((row) => row.error)
        .map((row) => ({ message: `${row.workload.kind}/${row.workload.name}: ${row.error}` })),
    ],
    items: flat,
  }
}

/** What the registry says about the entry's result: the tag or digest is gone, or the tag moved. */
async function registryProblems(
  rule: FixedImageRule,
  expected: ImageReference,
  repo: RepositoryRef,
  resolver: DigestResolver,
): Promise<{ problems: CheckProblem[]; tagDigest?: string }> {
  const tag = expected.tag ?? (expected.digest ? undefined : 'latest')
  try {
    if (tag === undefined) {
      await resolver.digest(repo, expected.digest!)
      return { problems: [] }
    }
    const tagDigest = await resolver.digest(repo, tag)
    if (expected.digest && !(await resolver.related(repo, tagDigest, expected.digest))) {
      return {
        problems: [{ type: 'tag-moved', message: `tag ${tag} now points at ${tagDigest}` }],
        tagDigest,
      }
    }
    return { problems: [], tagDigest }
  } catch (error) {
    if (error instanceof RegistryError && error.kind === 'not-found') {
      return {
        problems: [
          tag === undefined
            ? { type: 'digest-not-found', message: `digest ${expected.digest} is gone from the registry` }
            : { type: 'tag-not-found', message: `tag ${tag} is gone from the registry` },
        ],
      }
    }
    return {
      problems: [{ type: 'error', message: `cannot check ${rule.resultImage}: ${(error as Error).message}` }],
    }
  }
}

/**
 * Whether the container runs the entry's result. Repositories compare normalised (`nginx` is
 * `docker.io/library/nginx`). A pinned digest compares with the spec's digest, else with every digest the
 * pods run, else (no pods) with the spec's tag; a platform manifest counts as its index. A tag-only result
 * compares with the spec's tag, or through the registry when the spec names only a digest.
 */
async function deployedProblems(
  row: PinRow,
  expected: ImageReference,
  expectedTagDigest: string | undefined,
  resolver: DigestResolver,
  resultGone: boolean,
): Promise<CheckProblem[]> {
  let actual: ImageReference
  try {
    actual = parseImageReference(row.deployed)
  } catch (error) {
    return [{ type: 'deployed-differs', message: `deployed image is invalid: ${(error as Error).message}` }]
  }
  if (actual.name !== expected.name) return [{ type: 'deployed-differs', message: 'deployed image differs' }]
  const repo = { domain: expected.domain, path: expected.path }
  const differs = (message: string): CheckProblem[] => [{ type: 'deployed-differs', message }]
  try {
    if (expected.digest) {
      const want = expected.digest
      if (actual.digest) {
        return (await resolver.related(repo, actual.digest, want)) ? [] : differs('deployed digest differs')
      }
      // The spec deploys another tag than the pin: drift, whatever older pods still run.
      if (expected.tag !== undefined && (actual.tag ?? 'latest') !== expected.tag)
        return differs('deployed tag differs')
      if (row.runningDigests.length > 0) {
        const off: string[] = []
        for (const running of row.runningDigests)
          if (!(await resolver.related(repo, running, want))) off.push(running)
        return off.length ? differs(`pods run ${off.join(', ')}`) : []
      }
      // No pods: the spec pulls what its tag points at. With the same tag as the pin, a moved tag is reported
      // beside this (tag-moved); without a tag in the pin, compare with what the spec's tag gives now.
      const tag = actual.tag ?? 'latest'
      if (expected.tag !== undefined) return expected.tag === tag ? [] : differs('deployed tag differs')
      const now = await resolver.digest(repo, tag)
      return (await resolver.related(repo, now, want)) ? [] : differs(`deployed tag ${tag} points at ${now}`)
    }
    const tag = expected.tag ?? 'latest'
    if (actual.tag !== undefined || !actual.digest) {
      return (actual.tag ?? 'latest') === tag ? [] : differs('deployed tag differs')
    }
    // The spec names only a digest: compare it with what the pinned tag points at.
    const now = expectedTagDigest ?? (await resolver.digest(repo, tag))
    return (await resolver.related(repo, now, actual.digest))
      ? []
      : differs(`tag ${tag} points at ${now}, not the deployed digest`)
  } catch (error) {
    if (error instanceof RegistryError && error.kind === 'not-found') {
      // The entry's own tag or digest being gone is reported once, beside this.
      return resultGone ? [] : differs(`cannot compare: ${error.message}`)
    }
    return [{ type: 'error', message: `cannot compare with ${row.deployed}: ${(error as Error).message}` }]
  }
}
