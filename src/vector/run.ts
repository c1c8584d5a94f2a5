// `kubectl images vector` from flags to report: read the vector and its overwrites, find the versions (flags or
// the cluster's /version), resolve every name, then the optional registry and cluster checks. No terminal here.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import type { RegistryFlagValues } from '../cli/registry-flags.ts'
import { kubeconfigFlags, type SourceRequest } from '../cluster/source.ts'
import { FAIL_ON } from '../scan/statuses.ts'
import { UserError } from '../util/errors.ts'
import type { ClusterCheck, DeployedRow, RegistryCheck } from './check.ts'
import { normalizeVersion, versionOf } from './find.ts'
import { type LoadedVector, loadVector, type OverwriteLayer } from './load.ts'
import { flattenVector, type ResolvedName, resolveVector, vectorNames } from './resolve.ts'
import type { CABundle, VectorWarning } from './types.ts'

/** `--fail-on` levels of `vector` (exit code 3). */
export const VECTOR_FAIL_ON = ['unresolved', 'patch', 'minor', 'major', 'any', 'unknown'] as const

export interface VectorRequest extends RegistryFlagValues, Omit<SourceRequest, 'filename'> {
  file: string
  'target-version'?: string
  'runtime-version'?: string
  arch?: string
  name?: string[]
  overwrite?: string[]
  component?: string
  'no-cluster'?: boolean
  'check-registry'?: boolean
  'check-cluster'?: boolean
  policy?: string
  'fail-on'?: string[]
  /** 0 disables the tag-list cache. */
  cacheTtlMs: number
  version: string
  apiVersion: string
  env?: NodeJS.ProcessEnv
}

/** One name of the vector with its resolution and the checks. */
export interface VectorItem extends ResolvedName {
  registry?: RegistryCheck
  cluster?: { matches: number; differs: number; unknown: number }
}

export interface VectorReport {
  apiVersion: string
  kind: 'VectorReport'
  file: string
  overwrites: OverwriteLayer[]
  /** The kube context, when a cluster was asked. */
  context?: string
  /** The cluster's /version gitVersion, when asked. */
  serverVersion?: string
  targetVersion?: string
  targetVersionFrom?: 'flag' | 'cluster'
  runtimeVersion?: string
  runtimeVersionFrom?: 'flag' | 'cluster'
  architecture: string
  /** What tag-less entries got as tag (`v` + this). */
  tagVersion?: string
  generatedAt: string
  summary: {
    entries: number
    names: number
    resolved: number
    unresolved: number
    untagged: number
    registry?: { exists: number; missing: number; unknown: number; outdated: number }
    cluster?: { containers: number; matches: number; differs: number; unknown: number; unmatched: number }
  }
  warnings: VectorWarning[]
  items: VectorItem[]
  /** --check-cluster: every deployed container whose repository the vector names. */
  deployed?: DeployedRow[]
}

export interface VectorOutcome {
  report: VectorReport
  /** The resolved, flattened vector (`-o vector`). */
  flat: Array<Record<string, unknown>>
  caBundle?: CABundle
}

function usage(message: string): UserError {
  return new UserError(message, { exitCode: 2 })
}

function checkVersionFlag(value: string | undefined, flag: string): void {
  if (value === undefined) return
  try {
    versionOf(value)
  } catch {
    throw usage(`invalid --${flag} "${value}": not a semantic version (e.g. 1.33.4 or v1.33)`)
  }
}

/** Everything the user typed is checked before a file, a cluster or a registry is read. */
function checkFlags(request: VectorRequest): void {
  checkVersionFlag(request['target-version'], 'target-version')
  checkVersionFlag(request['runtime-version'], 'runtime-version')
  if (request['no-cluster'] && request['check-cluster'])
    throw usage('--check-cluster reads the cluster; it cannot be combined with --no-cluster')
  // Gardener's architectures are Go GOARCH names (amd64, arm64, ...): an empty or odd one matches nothing.
  if (request.arch !== undefined && !/^[a-z0-9][a-z0-9_]*$/.test(request.arch))
    throw usage(`--arch takes an architecture such as amd64 or arm64 (got ${JSON.stringify(request.arch)})`)
  const registryLevels = (request['fail-on'] ?? []).filter((l) => l in FAIL_ON && l !== 'unknown')
  if (registryLevels.length > 0 && !request['check-registry'])
    throw usage(`--fail-on ${registryLevels.join(',')} compares tags in the registry: add --check-registry`)
  if (request.policy !== undefined && !request['check-registry'])
    throw usage('--policy decides which newer tags --check-registry reports: add --check-registry')
}

/** Writes the vector's caBundle beside the system roots, so registry checks trust a private PKI too. */
async function caFileFor(
  bundle: CABundle | undefined,
): Promise<{ path?: string; cleanup: () => Promise<void> }> {
  if (!bundle?.inline) return { cleanup: async () => {} }
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-images-ca-'))
  const path = join(dir, 'ca.pem')
  await writeFile(path, `${rootCertificates.join('\n')}\n${bundle.inline}\n`, { mode: 0o600 })
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export async function collectVector(request: VectorRequest): Promise<VectorOutcome> {
  const env = request.env ?? process.env
  checkFlags(request)
  if (request.policy !== undefined) {
    const { parsePolicy } = await import('../policy/index.ts')
    try {
      parsePolicy(request.policy)
    } catch (error) {
      throw usage((error as Error).message)
    }
  }

  const loaded: LoadedVector = await loadVector({
    file: request.file,
    ...(request.overwrite ? { overwrites: request.overwrite } : {}),
    ...(request.component !== undefined ? { component: request.component } : {}),
    env,
  })
  const known = new Set(vectorNames(loaded.vector))
  const unknown = (request.name ?? []).filter((n) => !known.has(n))
  if (unknown.length > 0) {
    throw usage(
      `no entry named ${unknown.map((n) => `"${n}"`).join(', ')} in ${loaded.file}${loaded.layers.length ? ' or its overwrites' : ''}`,
    )
  }

  const { runDeadline } = await import('../cli/registry-flags.ts')
  const deadline = runDeadline(request)

  // Versions: the flags, else the cluster's /version (unless --no-cluster).
  let targetVersion = request['target-version']
  let runtimeVersion = request['runtime-version']
  let tagVersion = targetVersion
  const report: Partial<VectorReport> = {}
  const needCluster =
    !request['no-cluster'] &&
    (targetVersion === undefined || runtimeVersion === undefined || Boolean(request['check-cluster']))
  if (needCluster) {
    const [{ loadKubeConfig }, { clusterVersion }] = await Promise.all([
      import('../cluster/kubeconfig.ts'),
      import('../cluster/read.ts'),
    ])
    const kube = await loadKubeConfig({
      env,
      withoutCluster: 'resolve without a cluster: --no-cluster --target-version VERSION',
      ...kubeconfigFlags(request),
      signal: deadline,
    })
    const gitVersion = await clusterVersion(kube.kc, deadline)
    try {
      versionOf(gitVersion)
    } catch {
      throw new UserError(
        `the cluster reports version "${gitVersion}", which is not a semantic version; pass --target-version and --runtime-version`,
      )
    }
    report.context = kube.context
    report.serverVersion = gitVersion
    if (targetVersion === undefined) {
      targetVersion = gitVersion
      // A tag is what a registry can hold: v1.30.2-eks-a1b2c3 and v1.29.3+k3s1 give v1.30.2 and v1.29.3.
      tagVersion = normalizeVersion(gitVersion)
      report.targetVersionFrom = 'cluster'
    }
    if (runtimeVersion === undefined) {
      runtimeVersion = gitVersion
      report.runtimeVersionFrom = 'cluster'
    }
  }
  if (request['target-version'] !== undefined) report.targetVersionFrom = 'flag'
  if (request['runtime-version'] !== undefined) report.runtimeVersionFrom = 'flag'
  const architecture = request.arch ?? 'amd64'

  const resolution = resolveVector(loaded.vector, {
    ...(request.name?.length ? { names: request.name } : {}),
    ...(targetVersion === undefined ? {} : { targetVersion }),
    ...(runtimeVersion === undefined ? {} : { runtimeVersion }),
    ...(tagVersion === undefined ? {} : { tagVersion }),
    architecture,
  })
  const items: VectorItem[] = resolution.items
  const warnings = [...loaded.warnings, ...resolution.warnings]
  const asked = new Set(items.map((i) => i.name))
  for (const [key, option] of [
    ['targetVersion', targetVersion],
    ['runtimeVersion', runtimeVersion],
  ] as const) {
    if (option !== undefined) continue
    const constrained = loaded.vector.filter((e) => asked.has(e.name) && e[key] !== undefined).length
    if (constrained > 0)
      warnings.push({
        message: `no ${key === 'targetVersion' ? 'target' : 'runtime'} version: the ${key} constraint${constrained === 1 ? ' of 1 entry is' : `s of ${constrained} entries are`} not checked, so each name takes its first entry (pass --${key === 'targetVersion' ? 'target' : 'runtime'}-version)`,
      })
  }

  let registrySummary: VectorReport['summary']['registry']
  if (request['check-registry']) {
    registrySummary = await runRegistryCheck(request, items, loaded.caBundle, env, warnings, deadline)
  }
  let clusterSummary: VectorReport['summary']['cluster']
  if (request['check-cluster']) {
    const [{ readInventory }, { checkCluster }] = await Promise.all([
      import('../cluster/source.ts'),
      import('./check.ts'),
    ])
    const { inventory } = await readInventory(request, env, undefined, deadline)
    for (const w of inventory.warnings) warnings.push({ message: w.message })
    const check: ClusterCheck = checkCluster(loaded.vector, items, inventory, request.namespace)
    for (const item of items) {
      const counts = check.perName.get(item.name)
      if (counts) item.cluster = counts
    }
    report.deployed = check.rows
    clusterSummary = {
      containers: check.containers,
      matches: check.rows.filter((r) => r.status === 'matches').length,
      differs: check.rows.filter((r) => r.status === 'differs').length,
      unknown: check.rows.filter((r) => r.status === 'unknown').length,
      unmatched: check.unmatched,
    }
  }

  const full: VectorReport = {
    apiVersion: request.apiVersion,
    kind: 'VectorReport',
    file: loaded.file,
    overwrites: loaded.layers,
    ...(report.context ? { context: report.context } : {}),
    ...(report.serverVersion ? { serverVersion: report.serverVersion } : {}),
    ...(targetVersion === undefined ? {} : { targetVersion, targetVersionFrom: report.targetVersionFrom! }),
    ...(runtimeVersion === undefined
      ? {}
      : { runtimeVersion, runtimeVersionFrom: report.runtimeVersionFrom! }),
    architecture,
    ...(tagVersion === undefined ? {} : { tagVersion }),
    generatedAt: new Date().toISOString(),
    summary: {
      entries: loaded.vector.length,
      names: known.size,
      resolved: items.filter((i) => i.image !== undefined && i.tagFrom !== 'untagged').length,
      unresolved: items.filter((i) => i.error !== undefined).length,
      untagged: items.filter((i) => i.tagFrom === 'untagged').length,
      ...(registrySummary ? { registry: registrySummary } : {}),
      ...(clusterSummary ? { cluster: clusterSummary } : {}),
    },
    warnings,
    items,
    ...(report.deployed ? { deployed: report.deployed } : {}),
  }
  return {
    report: full,
    flat: flattenVector(loaded.vector, resolution),
    ...(loaded.caBundle ? { caBundle: loaded.caBundle } : {}),
  }
}

async function runRegistryCheck(
  request: VectorRequest,
  items: VectorItem[],
  caBundle: CABundle | undefined,
  env: NodeJS.ProcessEnv,
  warnings: VectorWarning[],
  deadline: AbortSignal,
): Promise<NonNullable<VectorReport['summary']['registry']>> {
  const [{ setupRegistry }, { cachedTagLookup }, { checkRegistry }] = await Promise.all([
    import('../cli/registry-flags.ts'),
    import('../latest/lookup.ts'),
    import('./check.ts'),
  ])
  // The vector's caBundle (Gardener #15150) is trusted beside the system roots unless --ca-file is given.
  const ca = request['ca-file'] ? { cleanup: async () => {} } : await caFileFor(caBundle)
  try {
    const setup = await setupRegistry(
      { ...request, ...('path' in ca && ca.path ? { 'ca-file': ca.path } : {}) },
      request.version,
      deadline,
    )
    try {
      const { lookup, cacheWarning } = await cachedTagLookup(setup, request.cacheTtlMs, env)
      const checks = await checkRegistry(items, {
        lookup,
        ...(request.policy !== undefined ? { policy: request.policy } : {}),
      })
      for (const item of items) {
        const check = checks.get(item.name)
        if (check) item.registry = check
      }
      const warning = cacheWarning()
      if (warning) warnings.push({ message: warning })
    } finally {
      await setup.client.close()
    }
  } finally {
    await ca.cleanup()
  }
  const checked = items.flatMap((i) => (i.registry ? [i.registry] : []))
  return {
    exists: checked.filter((c) => c.status === 'exists').length,
    missing: checked.filter((c) => c.status === 'missing').length,
    unknown: checked.filter((c) => c.status === 'unknown').length,
    outdated: checked.filter((c) => c.distance && c.distance !== 'up-to-date' && c.distance !== 'newer')
      .length,
  }
}

/** Why the run should exit with code 3: failed checks, and whatever --fail-on asks for. */
export function vectorFailures(report: VectorReport, failOn: readonly string[]): string[] {
  const out: string[] = []
  const s = report.summary
  const n = (count: number, word: string, plural = `${word}s`) => `${count} ${count === 1 ? word : plural}`
  if (s.registry && s.registry.missing > 0)
    out.push(`${n(s.registry.missing, 'image')} missing from the registry (--check-registry)`)
  if (s.cluster && s.cluster.differs > 0)
    out.push(`${n(s.cluster.differs, 'deployed container')} differ from the vector (--check-cluster)`)
  if (failOn.includes('unresolved') && s.unresolved + s.untagged > 0)
    out.push(`${n(s.unresolved + s.untagged, 'name')} without a tagged image (--fail-on unresolved)`)
  const levels = failOn.filter((l) => l in FAIL_ON && l !== 'unknown')
  if (levels.length > 0) {
    const statuses = new Set(levels.flatMap((l) => FAIL_ON[l] ?? []))
    const behind = report.items.filter((i) => i.registry?.distance && statuses.has(i.registry.distance))
    if (behind.length > 0) out.push(`${n(behind.length, 'image')} behind (--fail-on ${levels.join(',')})`)
  }
  if (failOn.includes('unknown')) {
    const unknown =
      report.items.filter((i) => i.registry?.status === 'unknown').length + (s.cluster?.unknown ?? 0)
    if (unknown > 0) out.push(`${n(unknown, 'check')} could not be done (--fail-on unknown)`)
  }
  return out
}
