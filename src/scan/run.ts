// The scan from flags to report: inventory (cluster or manifests), pull secrets, policy rules,
// registry lookups, comparison. No terminal here: progress goes to a callback, the report is returned.

import type { RegistryFlagValues } from '../cli/registry-flags.ts'
import { setupRegistry } from '../cli/registry-flags.ts'
import { readInventory, type SecretReader, type SourceRequest } from '../cluster/source.ts'
import type { ContainerImage, ReadWarning } from '../cluster/types.ts'
import { cachedTagLookup } from '../latest/lookup.ts'
import { parseImageReference } from '../reference/index.ts'
import type { RegistryClient } from '../registry/client.ts'
import type { PolicyRequest } from './policy.ts'
import { type ScanReport, scanImages, tagPrefetcher } from './scan.ts'

export interface ScanRequest extends RegistryFlagValues, SourceRequest, PolicyRequest {
  'use-pull-secrets'?: boolean
  /** 0 disables the tag-list cache. */
  cacheTtlMs: number
  version: string
  apiVersion: string
  env?: NodeJS.ProcessEnv
  onProgress?: (done: number, total: number) => void
}

export interface ScanOutcome {
  report: ScanReport
  /** Tag lists served from the disk cache, and requests the registry client sent. */
  stats: { cacheHits: number; tagListRequests: number; requests: number }
}

export async function collectScan(request: ScanRequest): Promise<ScanOutcome> {
  const env = request.env ?? process.env
  const { makePolicyResolver } = await import('./policy.ts')
  // Everything the user typed is checked before anything is read.
  const resolvePolicy = await makePolicyResolver(request, env)

  const setup = await setupRegistry(request, request.version)
  try {
    const { lookup, cacheWarning } = await cachedTagLookup(setup, request.cacheTtlMs, env)
    // Tag lists are fetched as soon as a page of workloads names their repositories, overlapping the rest of
    // the cluster read (owned pods only add digests to those rows). Not with pull secrets: those
    // credentials must be in place before a repository is read, and are known only after the whole read.
    const usePullSecrets = Boolean(request['use-pull-secrets'])
    const prefetch = usePullSecrets ? undefined : tagPrefetcher({ lookup, resolvePolicy })
    const { inventory, readSecrets } = await readInventory(request, env, prefetch)
    const warnings: ReadWarning[] = []
    if (usePullSecrets && readSecrets) {
      warnings.push(...(await applyPullSecrets(inventory.images, setup.client, readSecrets)))
    }
    const report = await scanImages(
      { ...inventory, warnings: [...inventory.warnings, ...warnings] },
      {
        lookup,
        resolvePolicy,
        apiVersion: request.apiVersion,
        ...(request.namespace ? { defaultNamespace: request.namespace } : {}),
        ...(request.onProgress ? { onProgress: request.onProgress } : {}),
      },
    )
    const warning = cacheWarning()
    if (warning) report.warnings.push({ message: warning })
    return {
      report,
      stats: {
        cacheHits: lookup.cacheHits,
        tagListRequests: setup.client.stats.tagListRequests,
        requests: setup.client.stats.requests,
      },
    }
  } finally {
    await setup.client.close()
  }
}

/**
 * Hands each repository the credentials kubelet would use for it: the first matching entry of the
 * workload's pull secrets (and its ServiceAccount's), matched like Kubernetes' keyring.
 */
async function applyPullSecrets(
  images: ContainerImage[],
  client: RegistryClient,
  readSecrets: SecretReader,
): Promise<ReadWarning[]> {
  const { Keyring, parseKeyringConfig } = await import('../registry/keyring.ts')
  const warnings: ReadWarning[] = []
  const keyrings = new Map<string, Promise<InstanceType<typeof Keyring> | undefined>>()
  const applied = new Set<string>()
  for (const usage of images) {
    const namespace = usage.workload.namespace ?? 'default'
    const account = usage.serviceAccountName ?? 'default'
    const key = `${namespace}\u0000${account}\u0000${usage.imagePullSecrets.join(',')}`
    let keyring = keyrings.get(key)
    if (!keyring) {
      keyring = readSecrets(namespace, usage.imagePullSecrets, account).then(({ configs, warnings: w }) => {
        warnings.push(...w)
        if (configs.length === 0) return undefined
        const ring = new Keyring()
        for (const config of configs) {
          try {
            ring.add(parseKeyringConfig(config, `a pull secret in namespace ${namespace}`))
          } catch (error) {
            warnings.push({ namespace, message: (error as Error).message })
          }
        }
        return ring
      })
      keyrings.set(key, keyring)
    }
    const ring = await keyring
    if (!ring) continue
    let ref: ReturnType<typeof parseImageReference>
    try {
      ref = parseImageReference(usage.image.trim())
    } catch {
      continue
    }
    // kubelet tries every match until a pull works; we use the most specific one.
    const match = ring.lookup(ref.name)[0]
    if (!match || applied.has(ref.name)) continue
    applied.add(ref.name)
    await client.useCredentials(
      { domain: ref.domain, path: ref.path },
      { username: match.credentials.username, password: match.credentials.password },
      `pull secrets of ${namespace}/${usage.workload.kind}/${usage.workload.name} (${match.key})`,
    )
  }
  return warnings
}
