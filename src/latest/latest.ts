import { parsePolicy } from '../policy/index.ts'
import type { TagPolicy } from '../policy/types.ts'
import { parseImageReference } from '../reference/index.ts'
import type { RepositoryRef } from '../registry/client.ts'
import { mapConcurrent } from '../util/limit.ts'
import { TagLookup, type TagLookupOptions } from './lookup.ts'

/** What the caller wants resolved: an image as written, optionally with its own policy. */
export interface LatestRequest {
  image: string
  /** Policy expression; `auto` (the default) keeps the shape of the image's tag. */
  policy?: string
}

export interface LatestResult {
  /** The image as given. */
  image: string
  /** Canonical repository, e.g. `docker.io/library/nginx`. */
  repository?: string
  /** The tag in the given image, whose shape `auto` keeps. */
  currentTag?: string
  /** Canonical policy expression that decided. */
  policy?: string
  /** Newest tag under the policy. */
  latest?: string
  /** The repository as given, with the newest tag: what kluctl's get_image returns. */
  latestImage?: string
  /** Digest the newest tag points at (with --digest). */
  digest?: string
  /** Every matching tag, newest first (with --all). */
  tags?: string[]
  /** Tags the registry listed, after exclusions. */
  tagCount?: number
  error?: string
}

export interface LatestOptions extends TagLookupOptions {
  all?: boolean
  digest?: boolean
  /** Images resolved at once (requests per host are limited separately by the client). */
  concurrency?: number
}

/** The repository as the user wrote it, without tag or digest (so output keeps their spelling). */
function repositoryAsGiven(image: string, tag?: string, digest?: string): string {
  let out = image
  if (digest) out = out.slice(0, out.length - digest.length - 1)
  if (tag) out = out.slice(0, out.length - tag.length - 1)
  return out
}

/**
 * Resolves the newest tag of each image under its policy. A failure of one image (bad reference,
 * policy, registry error, no matching tag) is reported in its result; the others go on.
 */
export async function resolveLatest(
  requests: readonly LatestRequest[],
  options: LatestOptions,
): Promise<LatestResult[]> {
  const parsed = requests.map((request) => {
    try {
      const ref = parseImageReference(request.image.trim())
      return { request, ref }
    } catch (error) {
      return { request, error: (error as Error).message }
    }
  })
  const lookup = new TagLookup(options)
  const repos: RepositoryRef[] = []
  for (const item of parsed) if (item.ref) repos.push({ domain: item.ref.domain, path: item.ref.path })
  await options.client.expect(repos).catch(() => undefined)

  return mapConcurrent(parsed, options.concurrency ?? 32, async (item): Promise<LatestResult> => {
    const { request, ref } = item
    if (!ref) return { image: request.image, error: item.error }
    const result: LatestResult = { image: request.image, repository: ref.name }
    if (ref.tag) result.currentTag = ref.tag
    let policy: TagPolicy
    try {
      policy = parsePolicy(request.policy ?? 'auto', ref.tag ? { currentTag: ref.tag } : {})
      result.policy = policy.expr
    } catch (error) {
      return { ...result, error: (error as Error).message }
    }
    try {
      const repo = { domain: ref.domain, path: ref.path }
      const { ranked, tagCount } = await lookup.rank(repo, policy)
      result.tagCount = tagCount
      const latest = ranked[0]
      if (latest === undefined) return { ...result, error: noMatch(ref.name, policy.expr, tagCount) }
      result.latest = latest
      result.latestImage = `${repositoryAsGiven(request.image.trim(), ref.tag, ref.digest)}:${latest}`
      if (options.all) result.tags = ranked
      if (options.digest)
        result.digest = (await options.client.resolveDigest(repo, latest, options.signal)).digest
      return result
    } catch (error) {
      return { ...result, error: (error as Error).message }
    }
  })
}

/** The message for a repository none of whose tags the policy accepts. */
export function noMatch(repository: string, policy: string, tagCount: number): string {
  return `no tag of ${repository} matches policy ${policy} (${tagCount} tag${tagCount === 1 ? '' : 's'} listed)`
}
