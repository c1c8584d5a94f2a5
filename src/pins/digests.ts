// Digests for pins, each asked of the registry once per run: what a tag points at (HEAD with the full Accept,
// so a multi-arch tag gives its index digest), one platform's manifest, and whether an index lists a digest.
import type { RegistryClient, RepositoryRef } from '../registry/client.ts'
import {
  type Platform,
  type PlatformManifest,
  parseIndex,
  resolvePlatformManifest,
} from '../registry/platform.ts'

export class DigestResolver {
  private readonly client: RegistryClient
  private readonly signal: AbortSignal | undefined
  private readonly digests = new Map<string, Promise<string>>()
  private readonly platforms = new Map<string, Promise<PlatformManifest>>()
  private readonly indexes = new Map<string, Promise<Set<string>>>()

  constructor(client: RegistryClient, signal?: AbortSignal) {
    this.client = client
    this.signal = signal
  }

  /** The digest a tag (or digest) points at now; a missing one rejects with RegistryError('not-found'). */
  digest(repo: RepositoryRef, reference: string): Promise<string> {
    return once(this.digests, key(repo, reference), () =>
      this.client.resolveDigest(repo, reference, this.signal).then((d) => d.digest),
    )
  }

  /** The platform's manifest under a tag or digest (see resolvePlatformManifest). */
  platform(repo: RepositoryRef, reference: string, want: Platform): Promise<PlatformManifest> {
    const id = `${key(repo, reference)}\u0000${want.os}/${want.architecture}/${want.variant}`
    return once(this.platforms, id, () =>
      resolvePlatformManifest(this.client, repo, reference, want, this.signal),
    )
  }

  /**
   * Whether one of two digests is an index listing the other (a platform pin against the index digest pods
   * report). Errors count as no: the caller reports the digests as different.
   */
  async related(repo: RepositoryRef, a: string, b: string): Promise<boolean> {
    if (a === b) return true
    const [inA, inB] = await Promise.all([this.listed(repo, a), this.listed(repo, b)])
    return inA.has(b) || inB.has(a)
  }

  private listed(repo: RepositoryRef, digest: string): Promise<Set<string>> {
    return once(this.indexes, key(repo, digest), async () => {
      try {
        const manifest = await this.client.getManifest(repo, digest, this.signal)
        return new Set((parseIndex(manifest.body, manifest.mediaType) ?? []).map((entry) => entry.digest))
      } catch {
        return new Set<string>()
      }
    })
  }
}

function key(repo: RepositoryRef, reference: string): string {
  return `${repo.domain}/${repo.path}${reference.includes(':') ? '@' : ':'}${reference}`
}

function once<T>(cache: Map<string, Promise<T>>, id: string, make: () => Promise<T>): Promise<T> {
  let pending = cache.get(id)
  if (!pending) {
    pending = make()
    cache.set(id, pending)
  }
  return pending
}
