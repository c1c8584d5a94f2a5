// The one data path from a pod spec to ContainerImage rows, shared by the API reader (read.ts) and rendered
// manifests (manifests.ts): which kinds are workloads, where their pod spec lives, and how rows sort.
import type { FieldPick } from './json-pick.ts'
import type { ContainerImage, ContainerKind, WorkloadRef } from './types.ts'

/** Kinds whose pod spec we read, with the API groups they are served in ('' = core). */
export const WORKLOAD_GROUPS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['apps', 'extensions'],
  StatefulSet: ['apps'],
  DaemonSet: ['apps', 'extensions'],
  ReplicaSet: ['apps', 'extensions'],
  CronJob: ['batch'],
  Job: ['batch'],
  ReplicationController: [''],
  Pod: [''],
}

/** `apps/v1` -> `apps`, `v1` -> ''. */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/')
  return slash < 0 ? '' : apiVersion.slice(0, slash)
}

/** Whether kind + apiVersion name one of the workloads above (a CRD reusing a kind name in its own group is not). */
export function isWorkload(kind: unknown, apiVersion: unknown): kind is string {
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') return false
  return WORKLOAD_GROUPS[kind]?.includes(apiGroup(apiVersion)) ?? false
}

function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined
}

/** The pod spec of a workload object (raw JSON or a client-node model; both use the JSON field names). */
export function podSpecOf(kind: string, obj: unknown): unknown {
  const spec = field(obj, 'spec')
  if (kind === 'Pod') return spec
  const template =
    kind === 'CronJob'
      ? field(field(field(spec, 'jobTemplate'), 'spec'), 'template')
      : field(spec, 'template')
  return field(template, 'spec')
}

const CONTAINER_PICK: FieldPick = { name: true, image: true }
/** The members of a pod spec that containerImages reads. */
const POD_SPEC_PICK: FieldPick = {
  containers: CONTAINER_PICK,
  initContainers: CONTAINER_PICK,
  ephemeralContainers: CONTAINER_PICK,
  imagePullSecrets: true,
  serviceAccountName: true,
  serviceAccount: true,
}

/** What podSpecOf, annotationsOf and containerImages read of an object of this kind (see json-pick.ts). */
export function workloadPick(kind: string): { metadata: FieldPick; spec: FieldPick } {
  const template = { spec: POD_SPEC_PICK }
  return {
    metadata: {
      name: true,
      namespace: true,
      uid: true,
      annotations: true,
      ownerReferences: { uid: true, controller: true, kind: true, name: true, apiVersion: true },
    },
    spec:
      kind === 'Pod'
        ? POD_SPEC_PICK
        : kind === 'CronJob'
          ? { jobTemplate: { spec: { template } } }
          : { template },
  }
}

/** metadata.annotations as strings (manifests may hold numbers or booleans there). */
export function annotationsOf(obj: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const a = field(field(obj, 'metadata'), 'annotations')
  if (a && typeof a === 'object') {
    for (const [k, v] of Object.entries(a)) if (v !== null && v !== undefined) out[k] = String(v)
  }
  return out
}

const CONTAINER_FIELDS: ReadonlyArray<[string, ContainerKind]> = [
  ['containers', 'container'],
  ['initContainers', 'init'],
  ['ephemeralContainers', 'ephemeral'],
]

/** One row per container with an image; runningDigests empty and pods 0 (the API reader fills them in). */
export function containerImages(
  workload: WorkloadRef,
  annotations: Record<string, string>,
  podSpec: unknown,
): ContainerImage[] {
  const pullSecrets: string[] = []
  const secrets = field(podSpec, 'imagePullSecrets')
  if (Array.isArray(secrets)) {
    for (const s of secrets) {
      const name = field(s, 'name')
      if (typeof name === 'string' && name && !pullSecrets.includes(name)) pullSecrets.push(name)
    }
  }
  // serviceAccount is the deprecated alias older manifests still use.
  const sa = field(podSpec, 'serviceAccountName') || field(podSpec, 'serviceAccount')
  const out: ContainerImage[] = []
  for (const [key, containerKind] of CONTAINER_FIELDS) {
    const list = field(podSpec, key)
    if (!Array.isArray(list)) continue
    for (const c of list) {
      const name = field(c, 'name')
      const image = field(c, 'image')
      // Templates with unrendered or missing images have nothing to compare.
      if (typeof image !== 'string' || !image.trim()) continue
      const row: ContainerImage = {
        workload,
        container: typeof name === 'string' ? name : '',
        containerKind,
        image: image.trim(),
        annotations,
        runningDigests: [],
        pods: 0,
        imagePullSecrets: pullSecrets,
      }
      if (typeof sa === 'string' && sa) row.serviceAccountName = sa
      out.push(row)
    }
  }
  return out
}

// Anchored digest grammar of distribution/reference (algorithm ':' hex of at least 32 digits).
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/

/**
 * The repo digest in a container status imageID: `docker.io/library/nginx@sha256:…` and
 * `docker-pullable://nginx@sha256:…` give `sha256:…`. A bare `sha256:…` (or `docker://sha256:…`) is the local
 * image config ID, not something a registry serves, so it gives undefined.
 */
export function digestFromImageID(imageID: unknown): string | undefined {
  if (typeof imageID !== 'string') return undefined
  const id = imageID.replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
  const at = id.lastIndexOf('@')
  if (at <= 0) return undefined
  const digest = id.slice(at + 1)
  return DIGEST.test(digest) ? digest : undefined
}

const KIND_ORDER: Record<ContainerKind, number> = { container: 0, init: 1, ephemeral: 2 }

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Namespace (unset = default, as the scan reports it), kind, name, container kind, container. */
export function compareContainerImages(a: ContainerImage, b: ContainerImage): number {
  return (
    cmp(a.workload.namespace ?? 'default', b.workload.namespace ?? 'default') ||
    cmp(a.workload.kind, b.workload.kind) ||
    cmp(a.workload.name, b.workload.name) ||
    KIND_ORDER[a.containerKind] - KIND_ORDER[b.containerKind] ||
    cmp(a.container, b.container)
  )
}

/** The tag (`latest` when it names neither tag nor digest) and digest of an image, read leniently. */
function tagAndDigest(image: string): [string, string] {
  const at = image.indexOf('@')
  const name = at < 0 ? image : image.slice(0, at)
  const digest = at < 0 ? '' : image.slice(at + 1)
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  return [colon > slash ? name.slice(colon + 1) : digest ? '' : 'latest', digest]
}

/**
 * Whether a pod's container runs the tag its workload's spec names: a pod of an older revision (a rollout in
 * progress) does not. The repository is not compared, so a webhook that rewrites the registry (a mirror) or
 * adds a digest keeps the pod's digests with its workload.
 */
export function runsSpecTag(specImage: string, podImage: string): boolean {
  const [specTag, specDigest] = tagAndDigest(specImage.trim())
  const [podTag, podDigest] = tagAndDigest(podImage.trim())
  return specTag === podTag && (!specDigest || !podDigest || specDigest === podDigest)
}
