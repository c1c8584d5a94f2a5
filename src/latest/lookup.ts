import type { TagPolicy } from '../policy/types.ts'
import type { RegistryClient, RepositoryRef } from '../registry/client.ts'
import type { TagExclusions } from '../registry/exclude.ts'

/** A place that remembers tag lists between runs (the disk cache). */
export interface TagStore {
  get(repo: RepositoryRef): Promise<string[] | undefined>
  set(repo: RepositoryRef, tags: string[]): Promise<void>
}

export interface TagLookupOptions {
  client: RegistryClient
  exclusions: TagExclusions
  store?: TagStore
  signal?: AbortSignal
}

export interface Ranked {
  /** Candidates newest first. */
  ranked: string[]
  /** Tags listed after exclusions. */
  tagCount: number
}

/**
 * The one path from a repository to its ranked tags, shared by `latest` and `scan`: tag list from the
 * store or the registry (once per repository and run), exclusions, then the policy.
 */
export class TagLookup {
  readonly options: TagLookupOptions
  /** Repositories whose tags came from the store rather than the registry. */
  cacheHits = 0
  private readonly lists = new Map<string, Promise<string[]>>()
  private readonly allowedLists = new Map<string, Promise<readonly string[]>>()

  constructor(options: TagLookupOptions) {
    this.options = options
  }

  tags(repo: RepositoryRef): Promise<string[]> {
    const key = `${repo.domain}/${repo.path}`
    let list = this.lists.get(key)
    if (!list) {
      list = this.fetch(repo)
      this.lists.set(key, list)
    }
    return list
  }

  async rank(repo: RepositoryRef, policy: TagPolicy, extra?: TagExclusions): Promise<Ranked> {
    const tags = await this.candidates(repo, extra)
    return { ranked: policy.rank(tags), tagCount: tags.length }
  }

  /** The newest tag under the policy (`rank(...).ranked[0]`), without ordering the rest where it can. */
  async latest(
    repo: RepositoryRef,
    policy: TagPolicy,
    extra?: TagExclusions,
  ): Promise<{ latest: string | undefined; tagCount: number }> {
    const tags = await this.candidates(repo, extra)
    return { latest: policy.best ? policy.best(tags) : policy.rank(tags)[0], tagCount: tags.length }
  }

  /** The tags a policy sees: the repository's after the exclusions, and after `extra` ones if any. */
  private async candidates(repo: RepositoryRef, extra?: TagExclusions): Promise<readonly string[]> {
    const tags = await this.allowed(repo)
    return extra ? extra.apply(tags) : tags
  }

  /**
   * The tags left after the exclusions, once per repository: a scan ranks one repository for each running
   * tag, and the same (frozen) list lets a policy keep what it parsed of it (see policy/auto.ts).
   */
  private allowed(repo: RepositoryRef): Promise<readonly string[]> {
    const key = `${repo.domain}/${repo.path}`
    let list = this.allowedLists.get(key)
    if (!list) {
      list = this.tags(repo).then((tags) => Object.freeze(this.options.exclusions.apply(tags)))
      this.allowedLists.set(key, list)
    }
    return list
  }

  private async fetch(repo: RepositoryRef): Promise<string[]> {
    const stored = await this.options.store?.get(repo)
    if (stored) {
      this.cacheHits++
      return stored
    }
    const tags = await this.options.client.listTags(repo, this.options.signal)
    await this.options.store?.set(repo, tags)
    return tags
  }
}

/**
 * A lookup over the registry client with the tag-list disk cache when `cacheTtlMs` > 0 (scan and vector).
 * `cacheWarning()` says, once the work is done, whether the cache could not be written.
 */
export async function cachedTagLookup(
  setup: Pick<TagLookupOptions, 'client' | 'exclusions' | 'signal'>,
  cacheTtlMs: number,
  env: NodeJS.ProcessEnv,
): Promise<{ lookup: TagLookup; cacheWarning: () => string | undefined }> {
  const { TagCache } = await import('../registry/cache.ts')
  const cache = new TagCache({ ttlMs: cacheTtlMs, env })
  const lookup = new TagLookup({
    client: setup.client,
    exclusions: setup.exclusions,
    ...(setup.signal ? { signal: setup.signal } : {}),
    ...(cacheTtlMs > 0 ? { store: cache } : {}),
  })
  return { lookup, cacheWarning: () => cache.warning }
}
