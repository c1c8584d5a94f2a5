// Pushes small, real images through the registry HTTP API (blob upload, manifests, indexes), in any auth mode.
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  inToto: 'application/vnd.in-toto+json',
} as const

/** The full manifest Accept list (registry.md §3.1). */
export const FULL_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ')

export interface PushTarget {
  /** Base URL, e.g. http://127.0.0.1:PORT (a TestRegistry, or a FaultProxy URL in front of one). */
  url: string
  /** Used for Basic auth and for token requests; omitted = anonymous. */
  credentials?: { username: string; password: string } | undefined
}

export interface PushImageOptions {
  /** e.g. ['linux/amd64', 'linux/arm64', 'linux/arm/v7']. Default ['linux/amd64'] (a plain manifest). */
  platforms?: string[]
  /** Default 'oci'. 'docker' = v2 schema2 manifests and a manifest list. */
  mediaType?: 'oci' | 'docker'
  /** Content seed: same seed = same digests. Default `${repo}:${tag}`. */
  seed?: string
  /** Image config `created`. Default 2024-01-01T00:00:00Z (deterministic digests). */
  created?: string | Date
  /** Image config labels. */
  labels?: Record<string, string>
  /** Push an index/list even for a single platform. */
  index?: boolean
  /** OCI only: add a BuildKit-style attestation manifest (platform unknown/unknown) per platform to the index. */
  attestations?: boolean
}

export interface ImageRef {
  /** Digest the tag points at: the index/list digest for multi-platform pushes. */
  digest: string
  mediaType: string
  size: number
  /** platform string ('linux/arm64') -> that platform's manifest digest. */
  platformDigests: Record<string, string>
  /** Attestation manifest digests (when `attestations`). */
  attestationDigests: string[]
}

export interface PushTagsOptions {
  mediaType?: 'oci' | 'docker'
  /** Default `${repo}`: every tag shares the config and layer blobs. */
  seed?: string
  created?: string | Date
  /** Concurrent manifest PUTs. Default 16. */
  concurrency?: number
  /** Give each tag its own manifest digest (adds an annotation naming the tag). Default true. */
  distinct?: boolean
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { architecture: string; os: string; variant?: string }
  annotations?: Record<string, string>
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

export function parsePlatform(p: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = p.split('/')
  if (!os || !architecture) throw new Error(`bad platform ${JSON.stringify(p)}; want os/arch[/variant]`)
  return variant ? { os, architecture, variant } : { os, architecture }
}

function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\S+)\s*(.*)$/.exec(header)
  const params: Record<string, string> = {}
  for (const p of (m?.[2] ?? '').matchAll(/([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[(p[1] ?? '').toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '')
  }
  return { scheme: (m?.[1] ?? '').toLowerCase(), params }
}

async function failure(what: string, res: Response): Promise<Error> {
  const text = await res.text().catch(() => '')
  return new Error(`${what}: HTTP ${res.status} ${text.slice(0, 500)}`)
}

interface Session {
  base: string
  repo: string
  knownBlobs: Set<string>
  request(
    method: string,
    url: string | URL,
    init?: { headers?: Record<string, string>; body?: Buffer },
  ): Promise<Response>
}

const sessions = new WeakMap<PushTarget, Map<string, Session>>()

/** One auth session per (target, repo): answers 401 challenges (Basic or Bearer) and caches the result. */
function session(target: PushTarget, repo: string): Session {
  let byRepo = sessions.get(target)
  if (!byRepo) {
    byRepo = new Map()
    sessions.set(target, byRepo)
  }
  const existing = byRepo.get(repo)
  if (existing) return existing
  const base = target.url.replace(/\/+$/, '')
  const creds = target.credentials
  const basic = creds
    ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
    : undefined
  let authorization: string | undefined
  let pendingAuth: Promise<string> | undefined

  const authenticate = (challengeHeader: string | null): Promise<string> => {
    pendingAuth ??= (async () => {
      const ch = parseChallenge(challengeHeader ?? '')
      if (ch.scheme === 'basic') {
        if (!basic) throw new Error(`${base} wants Basic auth and no credentials were given`)
        return basic
      }
      if (ch.scheme !== 'bearer' || !ch.params.realm) {
        throw new Error(`${base}: unsupported challenge ${JSON.stringify(challengeHeader)}`)
      }
      const realm = new URL(ch.params.realm)
      if (ch.params.service) realm.searchParams.set('service', ch.params.service)
      realm.searchParams.append('scope', `repository:${repo}:pull,push,delete`)
      if (creds) realm.searchParams.set('account', creds.username)
      const res = await fetch(realm, { headers: basic ? { authorization: basic } : {} })
      if (!res.ok) throw await failure(`token request to ${realm.origin}`, res)
      const body = (await res.json()) as { token?: string; access_token?: string }
      const token = body.access_token ?? body.token
      if (!token) throw new Error('token response without token')
      return `Bearer ${token}`
    })().finally(() => {
      pendingAuth = undefined
    })
    return pendingAuth
  }

  const s: Session = {
    base,
    repo,
    knownBlobs: new Set(),
    async request(method, url, init = {}) {
      for (let attempt = 0; ; attempt++) {
        const headers: Record<string, string> = { ...init.headers }
        if (authorization) headers.authorization = authorization
        const res = await fetch(url, { method, headers, body: init.body, redirect: 'manual' })
        if (res.status !== 401 || attempt >= 2) return res
        const challenge = res.headers.get('www-authenticate')
        await res.arrayBuffer()
        authorization = await authenticate(challenge)
      }
    },
  }
  byRepo.set(repo, s)
  return s
}

/** Monolithic upload: POST to open an upload, PUT the bytes with ?digest= (2.8 has no single-POST upload). */
async function putBlob(s: Session, data: Buffer): Promise<string> {
  const digest = sha256(data)
  if (s.knownBlobs.has(digest)) return digest
  const post = await s.request('POST', `${s.base}/v2/${s.repo}/blobs/uploads/`, {
    headers: { 'content-length': '0' },
  })
  if (post.status !== 202) throw await failure(`start upload to ${s.repo}`, post)
  await post.arrayBuffer()
  const location = post.headers.get('location')
  if (!location) throw new Error('upload start without Location')
  const url = new URL(location, `${s.base}/`)
  url.searchParams.set('digest', digest)
  const put = await s.request('PUT', url, {
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  })
  if (put.status !== 201) throw await failure(`upload ${digest} to ${s.repo}`, put)
  await put.arrayBuffer()
  s.knownBlobs.add(digest)
  return digest
}

async function putManifest(s: Session, ref: string, mediaType: string, body: Buffer): Promise<string> {
  const digest = sha256(body)
  const res = await s.request('PUT', `${s.base}/v2/${s.repo}/manifests/${ref}`, {
    headers: { 'content-type': mediaType },
    body,
  })
  if (res.status !== 201) throw await failure(`put manifest ${s.repo}:${ref}`, res)
  await res.arrayBuffer()
  const got = res.headers.get('docker-content-digest')
  if (got && got !== digest) throw new Error(`registry digest ${got} != computed ${digest}`)
  return digest
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v))
}

interface Built {
  mediaType: string
  bytes: Buffer
  manifest: Record<string, unknown>
}

/** Upload one platform's config + layer and build (not push) its manifest. */
async function buildPlatformManifest(
  s: Session,
  kind: 'oci' | 'docker',
  seed: string,
  platform: { os: string; architecture: string; variant?: string },
  created: string,
  labels: Record<string, string> | undefined,
): Promise<Built> {
  const raw = Buffer.from(`kubectl-images test layer\nseed=${seed}\n`)
  const layer = kind === 'docker' ? gzipSync(raw) : raw
  const config = json({
    ...platform,
    created,
    config: labels ? { Labels: labels } : {},
    rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
    history: [{ created, created_by: `kubectl-images test ${seed}` }],
  })
  const [configDigest, layerDigest] = await Promise.all([putBlob(s, config), putBlob(s, layer)])
  const mediaType = kind === 'docker' ? MEDIA_TYPES.dockerManifest : MEDIA_TYPES.ociManifest
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: kind === 'docker' ? MEDIA_TYPES.dockerConfig : MEDIA_TYPES.ociConfig,
      digest: configDigest,
      size: config.length,
    },
    layers: [
      {
        mediaType: kind === 'docker' ? MEDIA_TYPES.dockerLayer : MEDIA_TYPES.ociLayer,
        digest: layerDigest,
        size: layer.length,
      },
    ],
  }
  return { mediaType, bytes: json(manifest), manifest }
}

async function pushAttestation(s: Session, seed: string, subject: string): Promise<Descriptor> {
  const statement = json({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://spdx.dev/Document',
    seed,
  })
  const config = json({
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: [sha256(statement)] },
  })
  const [configDigest, layerDigest] = await Promise.all([putBlob(s, config), putBlob(s, statement)])
  const bytes = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDigest, size: config.length },
    layers: [
      {
        mediaType: MEDIA_TYPES.inToto,
        digest: layerDigest,
        size: statement.length,
        annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' },
      },
    ],
  })
  const digest = await putManifest(s, sha256(bytes), MEDIA_TYPES.ociManifest, bytes)
  return {
    mediaType: MEDIA_TYPES.ociManifest,
    digest,
    size: bytes.length,
    platform: { architecture: 'unknown', os: 'unknown' },
    annotations: {
      'vnd.docker.reference.digest': subject,
      'vnd.docker.reference.type': 'attestation-manifest',
    },
  }
}

/**
 * Push `repo:tag`. One platform (default) gives a plain manifest; several give an OCI index (or Docker manifest list)
 * whose per-platform manifests are pushed by digest first. Returns the digest the tag resolves to with a full Accept.
 */
export async function pushImage(
  target: PushTarget,
  repo: string,
  tag: string,
  opts: PushImageOptions = {},
): Promise<ImageRef> {
  const kind = opts.mediaType ?? 'oci'
  const platforms = opts.platforms ?? ['linux/amd64']
  if (platforms.length === 0) throw new Error('platforms must not be empty')
  if (opts.attestations && kind !== 'oci') throw new Error('attestations need mediaType oci')
  const seed = opts.seed ?? `${repo}:${tag}`
  const created = opts.created === undefined ? '2024-01-01T00:00:00Z' : new Date(opts.created).toISOString()
  const s = session(target, repo)
  const wantIndex = platforms.length > 1 || opts.index === true || opts.attestations === true

  const built = await Promise.all(
    platforms.map((p) =>
      buildPlatformManifest(s, kind, `${seed}/${p}`, parsePlatform(p), created, opts.labels),
    ),
  )
  if (!wantIndex) {
    const only = built[0]!
    const digest = await putManifest(s, tag, only.mediaType, only.bytes)
    const platform = platforms[0]!
    return {
      digest,
      mediaType: only.mediaType,
      size: only.bytes.length,
      platformDigests: { [platform]: digest },
      attestationDigests: [],
    }
  }
  const platformDigests: Record<string, string> = {}
  const entries: Descriptor[] = []
  const attestations: Descriptor[] = []
  await Promise.all(
    built.map(async (b, i) => {
      const digest = await putManifest(s, sha256(b.bytes), b.mediaType, b.bytes)
      const p = platforms[i]!
      platformDigests[p] = digest
      entries[i] = { mediaType: b.mediaType, digest, size: b.bytes.length, platform: parsePlatform(p) }
      if (opts.attestations) attestations[i] = await pushAttestation(s, `${seed}/${p}`, digest)
    }),
  )
  const indexType = kind === 'docker' ? MEDIA_TYPES.dockerList : MEDIA_TYPES.ociIndex
  const index = json({ schemaVersion: 2, mediaType: indexType, manifests: [...entries, ...attestations] })
  const digest = await putManifest(s, tag, indexType, index)
  return {
    digest,
    mediaType: indexType,
    size: index.length,
    platformDigests,
    attestationDigests: attestations.map((a) => a.digest),
  }
}

/** Many tags fast: the blobs are uploaded once, then one manifest PUT per tag, `concurrency` at a time. */
export async function pushTags(
  target: PushTarget,
  repo: string,
  tags: readonly string[],
  opts: PushTagsOptions = {},
): Promise<Record<string, string>> {
  const kind = opts.mediaType ?? 'oci'
  const created = opts.created === undefined ? '2024-01-01T00:00:00Z' : new Date(opts.created).toISOString()
  const s = session(target, repo)
  const base = await buildPlatformManifest(
    s,
    kind,
    opts.seed ?? repo,
    { os: 'linux', architecture: 'amd64' },
    created,
    undefined,
  )
  const distinct = opts.distinct ?? true
  const out: Record<string, string> = {}
  let next = 0
  const worker = async () => {
    while (next < tags.length) {
      const tag = tags[next++]!
      const bytes = distinct
        ? json({ ...base.manifest, annotations: { 'io.kubectl-images.test.tag': tag } })
        : base.bytes
      out[tag] = await putManifest(s, tag, base.mediaType, bytes)
    }
  }
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 16, tags.length)) }, worker),
  )
  return out
}

/** DELETE a manifest by digest (the registry runs with delete enabled; 2.8 cannot delete by tag). */
export async function deleteManifest(target: PushTarget, repo: string, digest: string): Promise<void> {
  const s = session(target, repo)
  const res = await s.request('DELETE', `${s.base}/v2/${repo}/manifests/${digest}`)
  if (res.status !== 202) throw await failure(`delete ${repo}@${digest}`, res)
  await res.arrayBuffer()
}
