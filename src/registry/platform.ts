// Platforms in OCI image indexes and Docker manifest lists: parsing `os/arch[/variant]`, normalising like
// containerd/platforms, and picking one manifest (shared/reference/registry.md §3.2).
import type { RegistryClient, RepositoryRef } from './client.ts'
import { RegistryError } from './errors.ts'

export interface Platform {
  os: string
  architecture: string
  /** '' when there is none (after normalisation `arm64/v8` and `amd64/v1` have none). */
  variant: string
}

export const INDEX_MEDIA_TYPES: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]

/** One entry of an index: a manifest (or a nested index) and the platform it is for. */
export interface IndexEntry {
  digest: string
  mediaType: string
  /** Normalised; undefined when the entry names none. */
  platform?: Platform
  /** BuildKit attestations and other non-image entries (`unknown/unknown`): never picked. */
  attestation: boolean
}

/** containerd's normalizeArch: `x86_64` is `amd64`, `aarch64` is `arm64` (no variant for v8), `armhf` is `arm/v7`. */
export function normalizePlatform(platform: {
  os?: string
  architecture?: string
  variant?: string
}): Platform {
  let os = (platform.os ?? '').toLowerCase()
  let arch = (platform.architecture ?? '').toLowerCase()
  let variant = (platform.variant ?? '').toLowerCase()
  if (os === 'macos') os = 'darwin'
  switch (arch) {
    case 'i386':
      arch = '386'
      variant = ''
      break
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64'
      if (variant === 'v1') variant = ''
      break
    case 'aarch64':
    case 'arm64':
      arch = 'arm64'
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = ''
      else if (/^[0-9]/.test(variant)) variant = `v${variant}`
      break
    case 'armhf':
      arch = 'arm'
      variant = 'v7'
      break
    case 'armel':
      arch = 'arm'
      variant = 'v6'
      break
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7'
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`
      break
  }
  return { os, architecture: arch, variant }
}

export function formatPlatform(platform: Platform): string {
  return `${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`
}

/** Parses `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`, `linux/aarch64`) and normalises it. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => !/^[A-Za-z0-9_.-]+$/.test(part))) {
    throw new Error(`invalid platform ${JSON.stringify(text)}: expected os/arch[/variant], e.g. linux/arm64`)
  }
  const [os, architecture, variant] = parts as [string, string, string?]
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) })
}

export function samePlatform(a: Platform, b: Platform): boolean {
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant
}

/**
 * The entries of an index or manifest list; undefined when the document is a single manifest. Entries
 * without a digest are dropped; unknown media types are kept (the caller only picks what it can use).
 */
export function parseIndex(body: Buffer | string, mediaType: string): IndexEntry[] | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'))
  } catch {
    throw new RegistryError('protocol', 'the registry sent a manifest that is not JSON')
  }
  if (typeof doc !== 'object' || doc === null) return undefined
  const record = doc as { mediaType?: unknown; manifests?: unknown }
  const type = typeof record.mediaType === 'string' ? record.mediaType : mediaType
  // An OCI index may omit mediaType; the `manifests` array is what makes it one.
  if (!INDEX_MEDIA_TYPES.includes(type) && !Array.isArray(record.manifests)) return undefined
  if (!Array.isArray(record.manifests)) return []
  const entries: IndexEntry[] = []
  for (const raw of record.manifests as unknown[]) {
    if (typeof raw !== 'object' || raw === null) continue
    const item = raw as {
      digest?: unknown
      mediaType?: unknown
      platform?: { os?: unknown; architecture?: unknown; variant?: unknown }
      annotations?: Record<string, unknown>
    }
    if (typeof item.digest !== 'string') continue
    const p = item.platform
    const platform =
      p && typeof p === 'object'
        ? normalizePlatform({
            ...(typeof p.os === 'string' ? { os: p.os } : {}),
            ...(typeof p.architecture === 'string' ? { architecture: p.architecture } : {}),
            ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
          })
        : undefined
    const attestation =
      item.annotations?.['vnd.docker.reference.type'] !== undefined ||
      (platform?.os === 'unknown' && platform.architecture === 'unknown')
    entries.push({
      digest: item.digest,
      mediaType: typeof item.mediaType === 'string' ? item.mediaType : '',
      ...(platform ? { platform } : {}),
      attestation,
    })
  }
  return entries
}

/** The first image entry for the platform (the image spec: "the first matching entry SHOULD be used"). */
export function selectPlatform(entries: readonly IndexEntry[], want: Platform): IndexEntry | undefined {
  return entries.find((entry) => !entry.attestation && entry.platform && samePlatform(entry.platform, want))
}

/** The platforms an index offers, for error messages (attestations left out). */
export function availablePlatforms(entries: readonly IndexEntry[]): string[] {
  const seen = new Set<string>()
  for (const entry of entries)
    if (!entry.attestation && entry.platform) seen.add(formatPlatform(entry.platform))
  return [...seen]
}

export interface PlatformManifest {
  /** The platform manifest's digest; the reference's own digest when it is a single manifest. */
  digest: string
  /** False when the reference was a single manifest, whose platform is not checked. */
  fromIndex: boolean
}

const MAX_NESTING = 4

/**
 * The digest of one platform's manifest under a tag or digest: the index is fetched (verified bytes) and the
 * first entry for the platform wins; a nested index is searched where it stands (its own platform, if it
 * names one, must match). A single manifest is returned as it is. Throws RegistryError('not-found') naming
 * the platforms on offer when none matches.
 */
export async function resolvePlatformManifest(
  client: RegistryClient,
  repo: RepositoryRef,
  reference: string,
  want: Platform,
  signal?: AbortSignal,
): Promise<PlatformManifest> {
  const offered = new Set<string>()
  const search = async (entries: IndexEntry[], depth: number): Promise<string | undefined> => {
    for (const entry of entries) {
      if (entry.attestation) continue
      if (INDEX_MEDIA_TYPES.includes(entry.mediaType)) {
        if (entry.platform && !samePlatform(entry.platform, want)) continue
        if (depth >= MAX_NESTING) {
          throw new RegistryError(
            'protocol',
            `${repo.domain}/${repo.path}: indexes nested more than ${MAX_NESTING} deep`,
          )
        }
        const nested = await client.getManifest(repo, entry.digest, signal)
        const found = await search(parseIndex(nested.body, nested.mediaType) ?? [], depth + 1)
        if (found) return found
        continue
      }
      if (!entry.platform) continue
      offered.add(formatPlatform(entry.platform))
      if (samePlatform(entry.platform, want)) return entry.digest
    }
    return undefined
  }
  const top = await client.getManifest(repo, reference, signal)
  const entries = parseIndex(top.body, top.mediaType)
  if (entries === undefined) return { digest: top.digest, fromIndex: false }
  const found = await search(entries, 0)
  if (found) return { digest: found, fromIndex: true }
  const separator = reference.includes(':') ? '@' : ':'
  throw new RegistryError(
    'not-found',
    `${repo.domain}/${repo.path}${separator}${reference} has no ${formatPlatform(want)} manifest (it offers ${offered.size ? [...offered].join(', ') : 'no platform'})`,
  )
}
