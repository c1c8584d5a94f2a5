// Reads what runs in a cluster into an ImageInventory: the workload kinds and their pods, paged with
// limit/continue, kinds (and, after a cluster-scope 403, namespaces) read concurrently, pods folded into the
// workload that owns them with the digests they run. 403/404 on a list become warnings; anything else fails.
import type { ConfigurationOptions, KubeConfig } from '@kubernetes/client-node'
import { UserError } from '../util/errors.ts'
import { type ApiSession, ApiStatus, MalformedAnswer, openSession } from './api.ts'
import type { FieldPick } from './json-pick.ts'
import type { ContainerImage, ContainerKind, ImageInventory, ReadWarning, WorkloadRef } from './types.ts'
import {
  annotationsOf,
  apiGroup,
  compareContainerImages,
  containerImages,
  digestFromImageID,
  podSpecOf,
  runsSpecTag,
  workloadPick,
} from './workloads.ts'

export interface ReadClusterOptions {
  /** Namespace to read (default: the context's namespace, else `default`). Ignored with allNamespaces. */
  namespace?: string
  allNamespaces?: boolean
  /** Label selector, applied to the workloads and to their pods. */
  selector?: string
  /** Ask for gzipped pages (see SessionOptions). Default true. */
  compression?: boolean
  /** `limit` of every list request. Default 500 (kubectl's chunk size). */
  pageSize?: number
  /** Requests in flight. Default 8. */
  concurrency?: number
  signal?: AbortSignal
  /**
   * Called as each page arrives with the rows of the objects on it that have no owner (a Deployment, a
   * bare Pod...), before pods are folded in: those rows are final but for runningDigests and pods, so a
   * caller can start work on their images (the scan prefetches tag lists) while the rest is read.
   */
  onImages?: (images: ContainerImage[]) => void
}

interface ListQuery {
  namespace?: string
  labelSelector?: string
  limit?: number
  _continue?: string
}

interface KindInfo {
  kind: string
  apiVersion: string
  resource: string
  list(s: ApiSession, q: ListQuery, o: ConfigurationOptions): Promise<unknown>
  /** Gets one object by name: the controllers a label selector left out (see readCluster). */
  get?(s: ApiSession, namespace: string, name: string, o: ConfigurationOptions): Promise<unknown>
}

/**
 * The kinds read. The first request goes alone (see api.ts): Deployments, whose pages are small and name most
 * images, so the scan starts fetching tag lists while the rest (Pods above all) is read.
 */
export const CLUSTER_KINDS: readonly KindInfo[] = [
  {
    kind: 'Deployment',
    apiVersion: 'apps/v1',
    resource: 'deployments',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.apps.listNamespacedDeployment({ ...q, namespace }, o)
        : s.apps.listDeploymentForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.apps.readNamespacedDeployment({ name, namespace }, o),
  },
  {
    kind: 'Pod',
    apiVersion: 'v1',
    resource: 'pods',
    list: (s, { namespace, ...q }, o) =>
      namespace ? s.core.listNamespacedPod({ ...q, namespace }, o) : s.core.listPodForAllNamespaces(q, o),
  },
  {
    kind: 'ReplicaSet',
    apiVersion: 'apps/v1',
    resource: 'replicasets',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.apps.listNamespacedReplicaSet({ ...q, namespace }, o)
        : s.apps.listReplicaSetForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.apps.readNamespacedReplicaSet({ name, namespace }, o),
  },
  {
    kind: 'StatefulSet',
    apiVersion: 'apps/v1',
    resource: 'statefulsets',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.apps.listNamespacedStatefulSet({ ...q, namespace }, o)
        : s.apps.listStatefulSetForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.apps.readNamespacedStatefulSet({ name, namespace }, o),
  },
  {
    kind: 'DaemonSet',
    apiVersion: 'apps/v1',
    resource: 'daemonsets',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.apps.listNamespacedDaemonSet({ ...q, namespace }, o)
        : s.apps.listDaemonSetForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.apps.readNamespacedDaemonSet({ name, namespace }, o),
  },
  {
    kind: 'CronJob',
    apiVersion: 'batch/v1',
    resource: 'cronjobs',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.batch.listNamespacedCronJob({ ...q, namespace }, o)
        : s.batch.listCronJobForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.batch.readNamespacedCronJob({ name, namespace }, o),
  },
  {
    kind: 'Job',
    apiVersion: 'batch/v1',
    resource: 'jobs',
    list: (s, { namespace, ...q }, o) =>
      namespace ? s.batch.listNamespacedJob({ ...q, namespace }, o) : s.batch.listJobForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.batch.readNamespacedJob({ name, namespace }, o),
  },
  {
    kind: 'ReplicationController',
    apiVersion: 'v1',
    resource: 'replicationcontrollers',
    list: (s, { namespace, ...q }, o) =>
      namespace
        ? s.core.listNamespacedReplicationController({ ...q, namespace }, o)
        : s.core.listReplicationControllerForAllNamespaces(q, o),
    get: (s, namespace, name, o) => s.core.readNamespacedReplicationController({ name, namespace }, o),
  },
]

/** One listed object, reduced to what the inventory needs as soon as its page arrives. */
interface Rec {
  ref: WorkloadRef
  uid: string
  ownerUid?: string
  /** The controller owner's kind, group and name (ownerUid's), to get it when it was not listed. */
  owner?: { kind: string; group: string; name: string }
  annotations: Record<string, string>
  rows: ContainerImage[]
  /** Pods: [container kind, container name, digest] from the container statuses. */
  digests?: Array<[ContainerKind, string, string]>
}

interface MetaLike {
  name?: string
  namespace?: string
  uid?: string
  ownerReferences?: Array<{
    uid?: string
    controller?: boolean
    kind?: string
    name?: string
    apiVersion?: string
  }>
}

const STATUS_FIELDS: ReadonlyArray<[string, ContainerKind]> = [
  ['containerStatuses', 'container'],
  ['initContainerStatuses', 'init'],
  ['ephemeralContainerStatuses', 'ephemeral'],
]

const STATUS_PICK: FieldPick = { name: true, imageID: true }

/** The members of a listed object that reduce() reads; the page's other bytes are skipped unparsed. */
function itemPick(kind: string): FieldPick {
  const pick: Record<string, FieldPick> = workloadPick(kind)
  if (kind === 'Pod') pick.status = Object.fromEntries(STATUS_FIELDS.map(([key]) => [key, STATUS_PICK]))
  return pick
}

function reduce(info: KindInfo, item: unknown): Rec {
  const meta = ((item as { metadata?: MetaLike }).metadata ?? {}) as MetaLike
  const ref: WorkloadRef = {
    kind: info.kind,
    apiVersion: info.apiVersion,
    namespace: meta.namespace,
    name: meta.name ?? '',
  }
  const annotations = annotationsOf(item)
  const rec: Rec = {
    ref,
    uid: meta.uid ?? '',
    annotations,
    rows: containerImages(ref, annotations, podSpecOf(info.kind, item)),
  }
  const owners = meta.ownerReferences ?? []
  const owner = owners.find((r) => r.controller) ?? owners[0]
  if (owner?.uid) {
    rec.ownerUid = owner.uid
    if (typeof owner.kind === 'string' && typeof owner.name === 'string')
      rec.owner = { kind: owner.kind, group: apiGroup(String(owner.apiVersion ?? '')), name: owner.name }
  }
  if (info.kind === 'Pod') {
    rec.digests = []
    const status = (item as { status?: Record<string, unknown> }).status ?? {}
    for (const [key, kind] of STATUS_FIELDS) {
      const list = status[key]
      if (!Array.isArray(list)) continue
      for (const st of list as Array<{ name?: unknown; imageID?: unknown }>) {
        const digest = digestFromImageID(st.imageID)
        if (digest && typeof st.name === 'string') rec.digests.push([kind, st.name, digest])
      }
    }
  }
  return rec
}

function where(namespace: string | undefined): string {
  return namespace ? `in namespace ${namespace}` : 'at the cluster scope'
}

function warningFor(
  info: { kind: string; resource: string; apiVersion: string },
  namespace: string | undefined,
  err: ApiStatus,
): ReadWarning {
  const w: ReadWarning = { kind: info.kind, message: '' }
  if (namespace) w.namespace = namespace
  w.message =
    err.code === 403
      ? `cannot list ${info.resource} ${where(namespace)}: forbidden`
      : `cannot list ${info.resource} ${where(namespace)}: the server does not serve ${info.apiVersion} ${info.resource} (404)`
  return w
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** The row of a container (kind and name) in a list of a workload's rows. */
function rowOf(
  rows: readonly ContainerImage[],
  kind: ContainerKind,
  name: string,
): ContainerImage | undefined {
  for (const row of rows) if (row.containerKind === kind && row.container === name) return row
  return undefined
}

/**
 * Reads Deployments, StatefulSets, DaemonSets, CronJobs, Jobs, ReplicaSets, ReplicationControllers and Pods
 * (one namespace, or all with `allNamespaces`) and reports each workload's containers once. A Pod, a Job or a
 * ReplicaSet whose controller was listed is folded into it (Pod -> ReplicaSet -> Deployment, Pod -> Job ->
 * CronJob, ...); the digests its pods run (status imageIDs) are attached to the top workload's containers by
 * name. Objects whose controller was not listed (unowned, owned by a custom resource, or the owner's list was
 * forbidden or filtered out by the selector) are reported as themselves.
 */
export async function readCluster(kc: KubeConfig, opts: ReadClusterOptions = {}): Promise<ImageInventory> {
  const s = await openSession(kc, {
    concurrency: opts.concurrency,
    signal: opts.signal,
    compression: opts.compression,
  })
  try {
    const namespace = opts.namespace || kc.getContextObject(kc.getCurrentContext())?.namespace || 'default'
    const pageSize = opts.pageSize ?? 500
    const recs: Rec[] = []
    const warnings: ReadWarning[] = []

    async function listScope(info: KindInfo, ns: string | undefined): Promise<Rec[]> {
      let out: Rec[] = []
      let cont: string | undefined
      let limit: number | undefined = pageSize > 0 ? pageSize : undefined
      let restarted = false
      const what = `list ${info.resource} ${where(ns)}`
      const pick = itemPick(info.kind)
      for (;;) {
        let page: { metadata?: { continue?: unknown } }
        let pageRecs: Rec[]
        try {
          const q: ListQuery = {
            namespace: ns,
            labelSelector: opts.selector || undefined,
            limit,
            _continue: cont,
          }
          // Each item read from the page's bytes with only the fields reduce() uses, then reduced to a small
          // record: neither the page nor its objects outlive this call.
          const recs: Rec[] = []
          page = await s.list(
            what,
            (o) => info.list(s, q, o),
            pick,
            (item) => {
              if (item === null || typeof item !== 'object' || Array.isArray(item))
                throw new MalformedAnswer('one of its items is not an object')
              recs.push(reduce(info, item))
            },
          )
          pageRecs = recs
        } catch (err) {
          // An expired continue token (410): list again in one piece, as client-go's pager does.
          if (err instanceof ApiStatus && err.code === 410 && cont && !restarted) {
            restarted = true
            out = []
            cont = undefined
            limit = undefined
            continue
          }
          throw err
        }
        for (const r of pageRecs) out.push(r)
        if (opts.onImages) {
          const rows = pageRecs.filter((r) => !r.ownerUid).flatMap((r) => r.rows)
          if (rows.length) opts.onImages(rows)
        }
        const next = page.metadata?.continue
        cont = typeof next === 'string' && next ? next : undefined
        if (!cont) return out
      }
    }

    function tolerate(info: KindInfo, ns: string | undefined, err: unknown): void {
      if (err instanceof ApiStatus && (err.code === 403 || err.code === 404))
        warnings.push(warningFor(info, ns, err))
      else if (err instanceof ApiStatus && err.code === 400 && opts.selector) {
        // The server parses the selector: a 400 is the user's -l, a usage error.
        throw new UserError(`invalid label selector "${opts.selector}": ${err.statusMessage}`, {
          exitCode: 2,
        })
      } else throw s.fatal(err, `list ${info.resource} ${where(ns)}`)
    }

    async function listNamespaces(): Promise<string[] | undefined> {
      const names: string[] = []
      let cont: string | undefined
      try {
        do {
          const page = await s.call('list namespaces', (o) =>
            s.core.listNamespace({ limit: pageSize > 0 ? pageSize : undefined, _continue: cont }, o),
          )
          for (const n of page.items) if (n.metadata?.name) names.push(n.metadata.name)
          cont = page.metadata?._continue || undefined
        } while (cont)
      } catch (err) {
        if (err instanceof ApiStatus && err.code === 403) {
          warnings.push({ kind: 'Namespace', message: 'cannot list namespaces: forbidden' })
          return undefined
        }
        throw s.fatal(err, 'list namespaces')
      }
      return names.sort(cmp)
    }

    async function readNamespace(info: KindInfo, ns: string): Promise<void> {
      try {
        for (const r of await listScope(info, ns)) recs.push(r)
        listed = true
      } catch (err) {
        tolerate(info, ns, err)
      }
    }

    // Whether any list succeeded: refused everywhere is an error, an empty namespace is not.
    let listed = false
    let namespaces: Promise<string[] | undefined> | undefined
    await Promise.all(
      CLUSTER_KINDS.map(async (info) => {
        if (!opts.allNamespaces) return readNamespace(info, namespace)
        try {
          for (const r of await listScope(info, undefined)) recs.push(r)
          listed = true
          return
        } catch (err) {
          if (!(err instanceof ApiStatus && err.code === 403)) return tolerate(info, undefined, err)
        }
        // Forbidden cluster-wide: read the namespaces one by one, so the ones the user may read are scanned.
        namespaces ??= listNamespaces()
        const list = await namespaces
        if (!list) {
          warnings.push({
            kind: info.kind,
            message: `cannot list ${info.resource} at the cluster scope: forbidden`,
          })
          return
        }
        await Promise.all(list.map((ns) => readNamespace(info, ns)))
      }),
    )
    // A selector can leave out a controller whose own labels differ from its pods' (a Deployment Helm labels
    // otherwise): get those by name, level by level, so the pods fold into the workload and old ReplicaSets
    // do not show up as workloads of their own.
    if (opts.selector) await getUnlistedOwners(s, recs)
    return {
      source: 'cluster',
      context: s.context,
      listed,
      images: assemble(recs),
      warnings: warnings.sort(
        (a, b) =>
          cmp(a.namespace ?? '', b.namespace ?? '') ||
          cmp(a.kind ?? '', b.kind ?? '') ||
          cmp(a.message, b.message),
      ),
    }
  } finally {
    await s.close()
  }
}

/** Gets the controllers (of the kinds read) that own listed objects but were not listed; 403 and 404 leave them out. */
async function getUnlistedOwners(s: ApiSession, recs: Rec[]): Promise<void> {
  const uids = new Set(recs.map((r) => r.uid))
  const tried = new Set<string>()
  // Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob: two levels up, one more for safety.
  for (let level = 0; level < 3; level++) {
    const wanted: Array<{ info: KindInfo; namespace: string; name: string }> = []
    for (const r of recs) {
      const owner = r.owner
      const namespace = r.ref.namespace
      if (!owner || !r.ownerUid || uids.has(r.ownerUid) || !namespace) continue
      const info = CLUSTER_KINDS.find((k) => k.kind === owner.kind && apiGroup(k.apiVersion) === owner.group)
      const key = `${owner.kind}/${namespace}/${owner.name}`
      if (!info?.get || tried.has(key)) continue
      tried.add(key)
      wanted.push({ info, namespace, name: owner.name })
    }
    if (wanted.length === 0) return
    const got = await Promise.all(
      wanted.map(async ({ info, namespace, name }) => {
        const what = `get ${info.resource} ${namespace}/${name}`
        try {
          return reduce(info, await s.call(what, (o) => info.get!(s, namespace, name, o)))
        } catch (err) {
          if (err instanceof ApiStatus && (err.code === 403 || err.code === 404)) return undefined
          throw s.fatal(err, what)
        }
      }),
    )
    for (const rec of got) {
      if (!rec || uids.has(rec.uid)) continue
      uids.add(rec.uid)
      recs.push(rec)
    }
  }
}

/** Folds owned objects into their top listed controller and pods' digests into its containers. */
function assemble(recs: Rec[]): ContainerImage[] {
  const byUid = new Map<string, Rec>()
  for (const r of recs) if (r.uid) byUid.set(r.uid, r)
  const topOf = (r: Rec): Rec => {
    let cur = r
    // Bounded: ownerReferences cannot form cycles in a real cluster, but a fake one could.
    for (let i = 0; i < 8; i++) {
      const owner = cur.ownerUid ? byUid.get(cur.ownerUid) : undefined
      if (!owner || owner === cur) break
      cur = owner
    }
    return cur
  }
  // Small arrays rather than a Map and Sets per workload: this runs at the read's peak of memory, and a
  // workload has a handful of containers and usually one digest each.
  interface Entry {
    top: Rec
    rows: ContainerImage[]
    /** Per container that pods report (kind and name at the same index), the digests they run. */
    digestKinds: ContainerKind[]
    digestNames: string[]
    digests: string[][]
    pods: number
  }
  const digestsOf = (entry: Entry, kind: ContainerKind, name: string): string[] | undefined => {
    for (let i = 0; i < entry.digestNames.length; i++)
      if (entry.digestKinds[i] === kind && entry.digestNames[i] === name) return entry.digests[i]
    return undefined
  }
  const entries = new Map<Rec, Entry>()
  for (const r of recs) {
    if (topOf(r) !== r) continue
    const rows: ContainerImage[] = []
    for (const row of r.rows) if (!rowOf(rows, row.containerKind, row.container)) rows.push(row)
    entries.set(r, { top: r, rows, digestKinds: [], digestNames: [], digests: [], pods: 0 })
  }
  const pods = recs
    .filter((r) => r.digests)
    .sort((a, b) => cmp(a.ref.namespace ?? '', b.ref.namespace ?? '') || cmp(a.ref.name, b.ref.name))
  for (const pod of pods) {
    const entry = entries.get(topOf(pod))
    if (!entry) continue
    entry.pods++
    for (const [kind, name, digest] of pod.digests ?? []) {
      // A pod of an older revision runs another tag: its digest is not what the spec's tag gives.
      if (entry.top !== pod) {
        const specRow = rowOf(entry.rows, kind, name)
        const podRow = rowOf(pod.rows, kind, name)
        if (specRow && podRow && !runsSpecTag(specRow.image, podRow.image)) continue
      }
      let list = digestsOf(entry, kind, name)
      if (!list) {
        list = []
        entry.digestKinds.push(kind)
        entry.digestNames.push(name)
        entry.digests.push(list)
      }
      if (!list.includes(digest)) list.push(digest)
    }
    if (entry.top === pod) continue
    // Ephemeral containers (kubectl debug) exist only on pods: they run, so they count for the workload.
    for (const row of pod.rows) {
      if (row.containerKind !== 'ephemeral' || rowOf(entry.rows, row.containerKind, row.container)) continue
      entry.rows.push({ ...row, workload: entry.top.ref, annotations: entry.top.annotations })
    }
  }
  const images: ContainerImage[] = []
  for (const entry of entries.values()) {
    for (const row of entry.rows) {
      row.runningDigests = digestsOf(entry, row.containerKind, row.container)?.sort(cmp) ?? []
      row.pods = entry.pods
      images.push(row)
    }
  }
  return images.sort(compareContainerImages)
}

function secretWarning(namespace: string, message: string, kind = 'Secret'): ReadWarning {
  return { kind, namespace, message }
}

/**
 * The docker config JSON of each readable pull secret: the `secretNames` given, then the ServiceAccount's
 * `imagePullSecrets` (`serviceAccountName` undefined means `default`, as the ServiceAccount admission assumes;
 * '' skips it). `kubernetes.io/dockerconfigjson` gives its `.dockerconfigjson` object; a legacy
 * `kubernetes.io/dockercfg` is returned wrapped as `{auths: <.dockercfg>}` so every config has one shape.
 * Secrets that cannot be read are warnings; no warning ever holds a secret value.
 */
export async function readPullSecretConfigs(
  kc: KubeConfig,
  namespace: string,
  secretNames: string[],
  serviceAccountName?: string,
): Promise<{ configs: unknown[]; warnings: ReadWarning[] }> {
  const s = await openSession(kc)
  const warnings: ReadWarning[] = []
  try {
    const names = [...new Set(secretNames.filter(Boolean))]
    const sa = serviceAccountName ?? 'default'
    // The ServiceAccount admission gives a pod its ServiceAccount's pull secrets only when it names none.
    if (sa && names.length === 0) {
      const what = `get serviceaccount ${namespace}/${sa}`
      try {
        const obj = await s.call(what, (o) => s.core.readNamespacedServiceAccount({ name: sa, namespace }, o))
        for (const ref of obj.imagePullSecrets ?? [])
          if (ref.name && !names.includes(ref.name)) names.push(ref.name)
      } catch (err) {
        if (!(err instanceof ApiStatus && (err.code === 403 || err.code === 404))) throw s.fatal(err, what)
        warnings.push(
          secretWarning(
            namespace,
            err.code === 403
              ? `cannot get serviceaccount ${namespace}/${sa}: forbidden`
              : `serviceaccount ${namespace}/${sa} not found`,
            'ServiceAccount',
          ),
        )
      }
    }
    const results = await Promise.all(
      names.map(async (name): Promise<{ config?: unknown; warning?: ReadWarning }> => {
        const what = `get secret ${namespace}/${name}`
        let secret: { type?: string; data?: Record<string, string> }
        try {
          secret = await s.call(what, (o) => s.core.readNamespacedSecret({ name, namespace }, o))
        } catch (err) {
          if (!(err instanceof ApiStatus && (err.code === 403 || err.code === 404))) throw s.fatal(err, what)
          return {
            warning: secretWarning(
              namespace,
              err.code === 403
                ? `cannot get secret ${namespace}/${name}: forbidden`
                : `secret ${namespace}/${name} not found`,
            ),
          }
        }
        const key =
          secret.type === 'kubernetes.io/dockerconfigjson'
            ? '.dockerconfigjson'
            : secret.type === 'kubernetes.io/dockercfg'
              ? '.dockercfg'
              : undefined
        if (!key) {
          return {
            warning: secretWarning(
              namespace,
              `secret ${namespace}/${name} is not a registry secret (type ${secret.type ?? 'unset'})`,
            ),
          }
        }
        const data = secret.data?.[key]
        if (!data) {
          return { warning: secretWarning(namespace, `secret ${namespace}/${name} has no ${key}`) }
        }
        let parsed: unknown
        try {
          parsed = JSON.parse(Buffer.from(data, 'base64').toString('utf8'))
        } catch {
          // Never the parser's message: it quotes the text, which holds credentials.
          parsed = undefined
        }
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          return {
            warning: secretWarning(namespace, `secret ${namespace}/${name}: ${key} is not a JSON object`),
          }
        }
        return { config: key === '.dockercfg' ? { auths: parsed } : parsed }
      }),
    )
    // In the order the secrets were named, whatever order the answers came in.
    const configs: unknown[] = []
    for (const r of results) {
      if (r.warning) warnings.push(r.warning)
      else configs.push(r.config)
    }
    return { configs, warnings }
  } finally {
    await s.close()
  }
}

/** The API server's version (GET /version gitVersion), e.g. `v1.31.4`. */
export async function clusterVersion(kc: KubeConfig, signal?: AbortSignal): Promise<string> {
  const s = await openSession(kc, signal ? { signal } : {})
  try {
    const info = await s.call('read the server version', (o) => s.version.getCode(o))
    return info.gitVersion
  } catch (err) {
    throw s.fatal(err, 'read the server version')
  } finally {
    await s.close()
  }
}
