// The scan from flags to report: inventory (cluster or manifests), pull secrets, policy rules,
// registry lookups, comparison. No terminal here: progress goes to a callback, the report is returned.

import type { RegistryFlagValues } from '../cli/registry-flags.ts'
import { setupRegistry } from '../cli/registry-flags.ts'
import { readInventory, type SourceRequest } from '../cluster/source.ts'
import type { ReadWarning } from '../cluster/types.ts'
import { cachedTagLookup } from '../latest/lookup.ts'
import type { PullSecretsRequest } from '../registry/pull-secrets.ts'
import type { PolicyRequest } from './policy.ts'
import { type ScanReport, scanImages, tagPrefetcher } from './scan.ts'

export interface ScanRequest extends RegistryFlagValues, SourceRequest, PolicyRequest, PullSecretsRequest {
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
    const { inventory, readSecrets } = await readInventory(request, env, prefetch, setup.signal)
    const warnings: ReadWarning[] = []
    if (usePullSecrets) {
      const { applyPullSecretsIfAsked } = await import('../registry/pull-secrets.ts')
      warnings.push(...(await applyPullSecretsIfAsked(request, inventory.images, setup.client, readSecrets)))
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
