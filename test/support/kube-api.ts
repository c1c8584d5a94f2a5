// An HTTPS Kubernetes API server for tests (no kube-apiserver can be installed here). It serves real-shaped objects
// at the real paths, read-only: discovery (legacy and aggregated apidiscovery.k8s.io/v2), /version, lists and gets
// for the core/apps/batch resources an image scanner reads, label/field selectors, etcd-style paging (snapshot per
// resourceVersion, opaque continue tokens, 410 Expired after compact()), meta.k8s.io/v1 Tables for `kubectl get`,
// bearer-token and client-certificate authentication, and RBAC-like denials with the real Status bodies.
// Certificates are generated per start with openssl (CA + server cert with SAN IP:127.0.0.1/DNS:localhost, and a
// separate client CA). Its fidelity is checked by the real kubectl in test/cluster/kube-api-fidelity.test.ts.
import { X509Certificate } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { gzipSync } from 'node:zlib'
import { CertFactory, subjectPart } from './certs.ts'
import type { KubeObject } from './kube-fixtures.ts'

export type { KubeObject } from './kube-fixtures.ts'

import { closeServer, listen, makeTempDir } from './lifecycle.ts'

// ---------------------------------------------------------------------------------------------------------------
// Public types

export interface KubeUser {
  name: string
  groups?: string[]
}

/** A denial: matches a request when every given field matches. */
export interface ForbiddenRule {
  user?: string
  /** Matches when the user is in this group. */
  group?: string
  /** Plural resource, e.g. 'deployments', 'pods', 'secrets'. */
  resource?: string
  /** 'list', 'get', 'watch'... */
  verb?: string
  /**
   * Denies this namespace. Because a user denied in one namespace cannot hold a cluster-wide grant, a rule with
   * a namespace also denies cluster-scope (all-namespaces) requests for the same user/resource.
   */
  namespace?: string
  /** Only deny cluster-scope requests (e.g. `kubectl get pods -A`), leaving per-namespace requests allowed. */
  clusterScope?: boolean
}

/** What the authorizer sees (like Kubernetes' authorizer.Attributes). */
export interface RequestAttributes {
  user: string
  groups: string[]
  verb: string
  group: string
  resource: string
  subresource: string
  /** '' for cluster-scope requests. */
  namespace: string
  name: string
}

export interface KubeRequestRecord {
  method: string
  /** Path + query as received. */
  path: string
  pathname: string
  query: Record<string, string>
  /** Authenticated user, or null. */
  user: string | null
  auth: 'token' | 'cert' | 'none'
  status: number
  accept: string
  userAgent: string
  /** For resource requests: 'list' | 'get' | 'watch' | other; '' for discovery and the like. */
  verb: string
  resource: string
  namespace: string
  name: string
  /** True when the response was a meta.k8s.io Table. */
  table: boolean
  /** The request's Accept-Encoding ('' when none). */
  acceptEncoding: string
  /** 'gzip' when the body was sent compressed, else ''. */
  contentEncoding: string
  /** The Impersonate-* headers, when sent (`user` is then the impersonated user). */
  impersonation?: Impersonation
}

export interface Impersonation {
  user: string
  groups: string[]
  uid: string
  /** Impersonate-Extra-<key> values, by the key as sent (still escaped). */
  extra: Record<string, string[]>
}

/**
 * The Impersonate-* headers of a request, as the API server's impersonation filter reads them: values are the
 * UTF-8 bytes a Go client sends (Node hands header bytes over as latin1).
 */
function impersonationOf(req: IncomingMessage): Impersonation | undefined {
  const h = req.headersDistinct
  const text = (values: string[] | undefined) =>
    (values ?? []).map((v) => Buffer.from(v, 'latin1').toString('utf8'))
  const extra: Record<string, string[]> = {}
  for (const [name, values] of Object.entries(h))
    if (name.startsWith('impersonate-extra-')) extra[name.slice('impersonate-extra-'.length)] = text(values)
  const imp: Impersonation = {
    user: text(h['impersonate-user'])[0] ?? '',
    groups: text(h['impersonate-group']),
    uid: text(h['impersonate-uid'])[0] ?? '',
    extra,
  }
  const any = imp.user || imp.groups.length || imp.uid || Object.keys(extra).length
  return any ? imp : undefined
}

export interface KubeApiInterception {
  /** Wait this long before answering (or before proceeding when no status is given). */
  delayMs?: number
  /** Answer with this status instead of handling the request. */
  status?: number
  /** JSON body (objects are serialized) or raw text. Default for status >= 400: a Status object. */
  body?: unknown
  headers?: Record<string, string>
  /** Destroy the socket without answering. */
  destroy?: boolean
}

export type KubeApiInterceptor = (req: {
  method: string
  pathname: string
  query: Record<string, string>
  user: string | null
}) => KubeApiInterception | undefined | Promise<KubeApiInterception | undefined>

export interface StartKubeApiOptions {
  objects?: KubeObject[]
  /** Bearer token -> user name (or user with groups). Default `{ 'test-token': 'tester' }`. */
  tokens?: Record<string, string | KubeUser>
  /** Client certificates issued at start (CN = name, O = groups). Default `[{ name: 'cert-user' }]`. */
  certUsers?: Array<string | KubeUser>
  forbidden?: ForbiddenRule[]
  /** Extra authorizer: return false to deny (403). */
  authorize?: (attrs: RequestAttributes) => boolean
  /** Default 'v1.31.4'. */
  gitVersion?: string
  /** Serve apidiscovery.k8s.io/v2 aggregated discovery when asked (as a 1.31 server does). Default true. */
  aggregatedDiscovery?: boolean
  /** Certificate validity in days. Default 10. */
  certDays?: number
  intercept?: KubeApiInterceptor
  /**
   * Serve a repeated GET (same user, same URL, same Accept-Encoding) from the bytes of its first 200 answer,
   * gzipped or not. For benchmarks, whose objects never change: a real API server encodes and compresses on
   * the cluster's machines, while this one would take CPU from the client being measured on the same cores.
   */
  cacheResponses?: boolean
}

export interface KubeconfigOptions {
  /** How the kubeconfig user authenticates. Default 'token'. */
  user?: 'token' | 'cert'
  /** Bearer token (default: the first configured token). */
  token?: string
  /** Client-cert user name (default: the first cert user). Must have been issued (certUsers or issueClientCert). */
  certUser?: string
  namespace?: string
  /** Context name. Default 'kube-test'. */
  context?: string
  /** Server URL override (e.g. to point at a proxy). */
  server?: string
}

export interface ClientCert {
  certPem: string
  keyPem: string
}

export interface KubeApi {
  /** `https://127.0.0.1:<port>` */
  url: string
  port: number
  /** PEM of the CA that signed the server certificate. */
  caPem: string
  /** PEM of the client CA (verifies client certificates). */
  clientCaPem: string
  /** Every request, in arrival order. */
  requests: KubeRequestRecord[]
  clearRequests(): void
  /** Replaceable at runtime. */
  intercept: KubeApiInterceptor | undefined
  forbidden: ForbiddenRule[]
  /** Whether /api and /apis answer aggregated discovery when asked (mutable; kubectl caches discovery). */
  aggregatedDiscovery: boolean
  /** Add or replace objects (by kind/namespace/name); bumps the resourceVersion. Returns the stored copies. */
  add(...objects: KubeObject[]): KubeObject[]
  /** Remove an object (pass it, or {kind, metadata: {namespace, name}}). Returns whether it existed. */
  remove(ref: { kind: string; metadata: { name: string; namespace?: string } }): boolean
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined
  /** Stored objects of a kind (sorted like the server lists them). */
  list(kind: string, namespace?: string): KubeObject[]
  /** Current resourceVersion (etcd revision). */
  resourceVersion(): number
  /** Forget list snapshots, like an etcd compaction: outstanding continue tokens now get 410 Expired. */
  compact(): void
  /** Issue (and remember) a client certificate for this user. */
  issueClientCert(name: string, groups?: string[]): Promise<ClientCert>
  clientCert(name: string): ClientCert | undefined
  /** A kubeconfig YAML; with an array, one context per entry and the first is current. */
  kubeconfig(opts?: KubeconfigOptions | KubeconfigOptions[]): string
  writeKubeconfig(path: string, opts?: KubeconfigOptions | KubeconfigOptions[]): Promise<void>
  stop(): Promise<void>
}

// ---------------------------------------------------------------------------------------------------------------
// Resources

interface Subresource {
  name: string
  kind: string
  verbs: string[]
  group?: string
  version?: string
}

interface Column {
  name: string
  type: string
  format?: string
  priority?: number
  description: string
}

interface ResourceInfo {
  group: string
  version: string
  resource: string
  kind: string
  singular: string
  namespaced: boolean
  verbs: string[]
  shortNames?: string[]
  categories?: string[]
  subresources: Subresource[]
  /** Field selector labels besides metadata.name/metadata.namespace. */
  fields: Record<string, (o: KubeObject) => string>
  columns: Column[]
  cells: (o: KubeObject) => unknown[]
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
const STATUS_VERBS = ['get', 'patch', 'update']

const NAME_COL: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
}
const AGE_COL: Column = {
  name: 'Age',
  type: 'string',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
}
const col = (name: string, type: string, description: string, priority = 0): Column =>
  priority ? { name, type, priority, description } : { name, type, description }
const WIDE_COLS = [
  col('Containers', 'string', 'Names of each container in the template.', 1),
  col('Images', 'string', 'Images referenced by each container in the template.', 1),
  col(
    'Selector',
    'string',
    'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.',
    1,
  ),
]

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 180) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365
    const y = Math.trunc(hours / 24 / 365)
    return dy === 0 ? `${y}y` : `${y}y${dy}d`
  }
  return `${Math.trunc(hours / 24 / 365)}y`
}

function age(ts: unknown): string {
  if (typeof ts !== 'string' || !ts) return '<unknown>'
  return humanDuration(Date.now() - Date.parse(ts))
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0
}

function formatSelector(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '<none>'
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: unknown[] }
  const parts = Object.entries(s.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
  for (const e of (s.matchExpressions ?? []) as Array<{ key: string; operator: string; values?: string[] }>) {
    const op = e.operator.toLowerCase()
    if (op === 'exists') parts.push(e.key)
    else if (op === 'doesnotexist') parts.push(`!${e.key}`)
    else parts.push(`${e.key} ${op} (${(e.values ?? []).join(',')})`)
  }
  return parts.length ? parts.join(',') : '<none>'
}

function formatLabels(labels: unknown): string {
  const entries = Object.entries((labels ?? {}) as Record<string, string>).sort(([a], [b]) =>
    a < b ? -1 : 1,
  )
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(',') : '<none>'
}

function templateCells(spec: {
  template?: { spec?: { containers?: Array<{ name: string; image: string }> } }
}) {
  const containers = spec.template?.spec?.containers ?? []
  return [containers.map((c) => c.name).join(','), containers.map((c) => c.image).join(',')]
}

interface ContainerStatusLike {
  name: string
  ready?: boolean
  restartCount?: number
  started?: boolean
  state?: {
    running?: unknown
    waiting?: { reason?: string }
    terminated?: { reason?: string; exitCode?: number; signal?: number }
  }
}

/** A condensed port of the pod printer (pkg/printers/internalversion printPod). */
function podCells(o: KubeObject): unknown[] {
  const spec = o.spec ?? {}
  const status = o.status ?? {}
  const sidecars = new Set<string>(
    ((spec.initContainers ?? []) as Array<{ name: string; restartPolicy?: string }>)
      .filter((c) => c.restartPolicy === 'Always')
      .map((c) => c.name),
  )
  let total = (spec.containers ?? []).length + sidecars.size
  let ready = 0
  let restarts = 0
  let reason: string = status.reason ?? status.phase ?? ''
  let initializing = false
  const inits = (status.initContainerStatuses ?? []) as ContainerStatusLike[]
  const nInit = (spec.initContainers ?? []).length
  for (const [i, c] of inits.entries()) {
    restarts += num(c.restartCount)
    if (sidecars.has(c.name) && c.started) {
      if (c.ready) ready++
      continue
    }
    const t = c.state?.terminated
    if (t && t.exitCode === 0) continue
    if (t) reason = t.reason ? `Init:${t.reason}` : `Init:ExitCode:${num(t.exitCode)}`
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing')
      reason = `Init:${c.state.waiting.reason}`
    else reason = `Init:${i}/${nInit}`
    initializing = true
    break
  }
  const initialized = ((status.conditions ?? []) as Array<{ type: string; status: string }>).some(
    (c) => c.type === 'Initialized' && c.status === 'True',
  )
  if (!initializing || initialized) {
    restarts = 0
    let hasRunning = false
    const statuses = [...((status.containerStatuses ?? []) as ContainerStatusLike[])].reverse()
    for (const c of statuses) {
      restarts += num(c.restartCount)
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason
      else if (c.state?.terminated) reason = `ExitCode:${num(c.state.terminated.exitCode)}`
      else if (c.ready && c.state?.running) {
        hasRunning = true
        ready++
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const podReady = ((status.conditions ?? []) as Array<{ type: string; status: string }>).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      )
      reason = podReady ? 'Running' : 'NotReady'
    }
  }
  if (o.metadata.deletionTimestamp) reason = 'Terminating'
  total = Math.max(total, 0)
  return [
    o.metadata.name,
    `${ready}/${total}`,
    reason,
    String(restarts),
    age(o.metadata.creationTimestamp),
    status.podIP || '<none>',
    spec.nodeName || '<none>',
    status.nominatedNodeName || '<none>',
    (spec.readinessGates ?? []).length ? `0/${spec.readinessGates.length}` : '<none>',
  ]
}

function jobStatus(o: KubeObject): string {
  const conds = (o.status?.conditions ?? []) as Array<{ type: string; status: string }>
  const has = (t: string) => conds.some((c) => c.type === t && c.status === 'True')
  if (has('Complete')) return 'Complete'
  if (has('Failed')) return 'Failed'
  if (has('FailureTarget')) return 'FailureTarget'
  if (has('Suspended')) return 'Suspended'
  if (o.metadata.deletionTimestamp) return 'Terminating'
  return 'Running'
}

const RESOURCES: ResourceInfo[] = [
  {
    group: '',
    version: 'v1',
    resource: 'namespaces',
    kind: 'Namespace',
    singular: 'namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
    subresources: [
      { name: 'finalize', kind: 'Namespace', verbs: ['update'] },
      { name: 'status', kind: 'Namespace', verbs: STATUS_VERBS },
    ],
    fields: { 'status.phase': (o) => o.status?.phase ?? '' },
    columns: [NAME_COL, col('Status', 'string', 'The status of the namespace'), AGE_COL],
    cells: (o) => [o.metadata.name, o.status?.phase ?? '', age(o.metadata.creationTimestamp)],
  },
  {
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    singular: 'pod',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'ephemeralcontainers', kind: 'Pod', verbs: STATUS_VERBS },
      { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'proxy', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
      { name: 'status', kind: 'Pod', verbs: STATUS_VERBS },
    ],
    fields: {
      'spec.nodeName': (o) => o.spec?.nodeName ?? '',
      'spec.restartPolicy': (o) => o.spec?.restartPolicy ?? '',
      'spec.schedulerName': (o) => o.spec?.schedulerName ?? '',
      'spec.serviceAccountName': (o) => o.spec?.serviceAccountName ?? '',
      'spec.hostNetwork': (o) => String(o.spec?.hostNetwork ?? false),
      'status.phase': (o) => o.status?.phase ?? '',
      'status.podIP': (o) => o.status?.podIP ?? '',
      'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
    },
    columns: [
      NAME_COL,
      col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'string', 'The aggregate status of the containers in this pod.'),
      col(
        'Restarts',
        'string',
        'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
      ),
      AGE_COL,
      col(
        'IP',
        'string',
        'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
        1,
      ),
      col('Node', 'string', 'NodeName is a request to schedule this pod onto a specific node.', 1),
      col(
        'Nominated Node',
        'string',
        'nominatedNodeName is set only when this pod preempts other pods on the node.',
        1,
      ),
      col(
        'Readiness Gates',
        'string',
        'If specified, all readiness gates will be evaluated for pod readiness.',
        1,
      ),
    ],
    cells: podCells,
  },
  {
    group: '',
    version: 'v1',
    resource: 'replicationcontrollers',
    kind: 'ReplicationController',
    singular: 'replicationcontroller',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['rc'],
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS },
      { name: 'status', kind: 'ReplicationController', verbs: STATUS_VERBS },
    ],
    fields: { 'status.replicas': (o) => String(num(o.status?.replicas)) },
    columns: [
      NAME_COL,
      col('Desired', 'integer', 'Number of desired pods.'),
      col('Current', 'integer', 'Number of actual pods.'),
      col('Ready', 'integer', 'Number of ready pods.'),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => [
      o.metadata.name,
      num(o.spec?.replicas),
      num(o.status?.replicas),
      num(o.status?.readyReplicas),
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec ?? {}),
      formatLabels(o.spec?.selector),
    ],
  },
  {
    group: '',
    version: 'v1',
    resource: 'secrets',
    kind: 'Secret',
    singular: 'secret',
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: [],
    fields: { type: (o) => String(o.type ?? '') },
    columns: [
      NAME_COL,
      col('Type', 'string', 'The type of the secret'),
      col('Data', 'string', 'The number of entries in the secret'),
      AGE_COL,
    ],
    cells: (o) => [
      o.metadata.name,
      o.type ?? '',
      Object.keys((o.data ?? {}) as object).length,
      age(o.metadata.creationTimestamp),
    ],
  },
  {
    group: '',
    version: 'v1',
    resource: 'serviceaccounts',
    kind: 'ServiceAccount',
    singular: 'serviceaccount',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['sa'],
    subresources: [
      {
        name: 'token',
        kind: 'TokenRequest',
        group: 'authentication.k8s.io',
        version: 'v1',
        verbs: ['create'],
      },
    ],
    fields: {},
    columns: [NAME_COL, col('Secrets', 'string', 'The number of secrets'), AGE_COL],
    cells: (o) => [
      o.metadata.name,
      ((o.secrets ?? []) as unknown[]).length,
      age(o.metadata.creationTimestamp),
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    kind: 'DaemonSet',
    singular: 'daemonset',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['ds'],
    categories: ['all'],
    subresources: [{ name: 'status', kind: 'DaemonSet', verbs: STATUS_VERBS }],
    fields: {},
    columns: [
      NAME_COL,
      col('Desired', 'integer', 'The total number of nodes that should be running the daemon pod.'),
      col('Current', 'integer', 'The number of nodes that are running at least 1 daemon pod.'),
      col(
        'Ready',
        'integer',
        'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
      ),
      col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
      col(
        'Available',
        'integer',
        'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.',
      ),
      col(
        'Node Selector',
        'string',
        'NodeSelector is a selector which must be true for the pod to fit on a node.',
      ),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => [
      o.metadata.name,
      num(o.status?.desiredNumberScheduled),
      num(o.status?.currentNumberScheduled),
      num(o.status?.numberReady),
      num(o.status?.updatedNumberScheduled),
      num(o.status?.numberAvailable),
      formatLabels(o.spec?.template?.spec?.nodeSelector),
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec ?? {}),
      formatSelector(o.spec?.selector),
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    kind: 'Deployment',
    singular: 'deployment',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS },
      { name: 'status', kind: 'Deployment', verbs: STATUS_VERBS },
    ],
    fields: {},
    columns: [
      NAME_COL,
      col('Ready', 'string', 'Number of the pod with ready state'),
      col(
        'Up-to-date',
        'integer',
        'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
      ),
      col(
        'Available',
        'integer',
        'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
      ),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => [
      o.metadata.name,
      `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas)}`,
      num(o.status?.updatedReplicas),
      num(o.status?.availableReplicas),
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec ?? {}),
      formatSelector(o.spec?.selector),
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    kind: 'ReplicaSet',
    singular: 'replicaset',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS },
      { name: 'status', kind: 'ReplicaSet', verbs: STATUS_VERBS },
    ],
    fields: { 'status.replicas': (o) => String(num(o.status?.replicas)) },
    columns: [
      NAME_COL,
      col('Desired', 'integer', 'Number of desired pods.'),
      col('Current', 'integer', 'Number of actual pods.'),
      col('Ready', 'integer', 'Number of ready pods.'),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => [
      o.metadata.name,
      num(o.spec?.replicas),
      num(o.status?.replicas),
      num(o.status?.readyReplicas),
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec ?? {}),
      formatSelector(o.spec?.selector),
    ],
  },
  {
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    kind: 'StatefulSet',
    singular: 'statefulset',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['sts'],
    categories: ['all'],
    subresources: [
      { name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS },
      { name: 'status', kind: 'StatefulSet', verbs: STATUS_VERBS },
    ],
    fields: {},
    columns: [
      NAME_COL,
      col('Ready', 'string', 'Number of the pod with ready state'),
      AGE_COL,
      ...WIDE_COLS.slice(0, 2),
    ],
    cells: (o) => [
      o.metadata.name,
      `${num(o.status?.readyReplicas)}/${num(o.spec?.replicas)}`,
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec ?? {}),
    ],
  },
  {
    group: 'batch',
    version: 'v1',
    resource: 'cronjobs',
    kind: 'CronJob',
    singular: 'cronjob',
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: ['cj'],
    categories: ['all'],
    subresources: [{ name: 'status', kind: 'CronJob', verbs: STATUS_VERBS }],
    fields: {},
    columns: [
      NAME_COL,
      col('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
      col(
        'Timezone',
        'string',
        'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.',
      ),
      col(
        'Suspend',
        'boolean',
        'This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.',
      ),
      col('Active', 'integer', 'A list of pointers to currently running jobs.'),
      col(
        'Last Schedule',
        'string',
        'Information when was the last time the job was successfully scheduled.',
      ),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => [
      o.metadata.name,
      o.spec?.schedule ?? '',
      o.spec?.timeZone ?? '<none>',
      Boolean(o.spec?.suspend),
      (o.status?.active ?? []).length,
      o.status?.lastScheduleTime ? age(o.status.lastScheduleTime) : '<none>',
      age(o.metadata.creationTimestamp),
      ...templateCells(o.spec?.jobTemplate?.spec ?? {}),
      formatSelector(o.spec?.jobTemplate?.spec?.selector),
    ],
  },
  {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    kind: 'Job',
    singular: 'job',
    namespaced: true,
    verbs: ALL_VERBS,
    categories: ['all'],
    subresources: [{ name: 'status', kind: 'Job', verbs: STATUS_VERBS }],
    fields: { 'status.successful': (o) => String(num(o.status?.succeeded)) },
    columns: [
      NAME_COL,
      col('Status', 'string', 'Status of the job.'),
      col(
        'Completions',
        'string',
        'The desired number of successfully finished pods the job should be run with.',
      ),
      col('Duration', 'string', 'Time required to complete the job.'),
      AGE_COL,
      ...WIDE_COLS,
    ],
    cells: (o) => {
      const start = o.status?.startTime ? Date.parse(o.status.startTime) : 0
      const end = o.status?.completionTime ? Date.parse(o.status.completionTime) : Date.now()
      return [
        o.metadata.name,
        jobStatus(o),
        o.spec?.completions !== undefined
          ? `${num(o.status?.succeeded)}/${o.spec.completions}`
          : `${num(o.status?.succeeded)}/1 of ${num(o.spec?.parallelism)}`,
        start ? humanDuration(end - start) : '',
        age(o.metadata.creationTimestamp),
        ...templateCells(o.spec ?? {}),
        formatSelector(o.spec?.selector),
      ]
    },
  },
]

const GROUPS = ['apps', 'batch']
const resourceKey = (group: string, resource: string) => `${group}/${resource}`
const BY_PATH = new Map(RESOURCES.map((r) => [resourceKey(r.group, r.resource), r]))
const BY_KIND = new Map(RESOURCES.map((r) => [r.kind.toLowerCase(), r]))

function infoForKind(kind: string): ResourceInfo {
  const info = BY_KIND.get(kind.toLowerCase()) ?? RESOURCES.find((r) => r.resource === kind.toLowerCase())
  if (!info) throw new Error(`kube-api: unsupported kind ${kind}`)
  return info
}

const gv = (r: { group: string; version: string }) => (r.group ? `${r.group}/${r.version}` : r.version)
const qualified = (r: ResourceInfo) => (r.group ? `${r.resource}.${r.group}` : r.resource)

function storageVersionHash(r: ResourceInfo): string {
  // Real hashes are base64 of 8 bytes of sha256("group/version/kind"); ours has the same shape.
  let h = 0n
  for (const ch of `${gv(r)}/${r.kind}`) h = (h * 131n + BigInt(ch.charCodeAt(0))) & 0xffffffffffffffffn
  return Buffer.from(h.toString(16).padStart(16, '0'), 'hex').toString('base64')
}

function legacyResourceList(group: string): Record<string, unknown> {
  const resources: unknown[] = []
  for (const r of RESOURCES.filter((x) => x.group === group)) {
    const main: Record<string, unknown> = {
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
    }
    if (r.shortNames) main.shortNames = r.shortNames
    if (r.categories) main.categories = r.categories
    main.storageVersionHash = storageVersionHash(r)
    resources.push(main)
    for (const s of r.subresources) {
      const sub: Record<string, unknown> = {
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
      }
      if (s.group) Object.assign(sub, { group: s.group, version: s.version })
      Object.assign(sub, { kind: s.kind, verbs: s.verbs })
      resources.push(sub)
    }
  }
  const body: Record<string, unknown> = { kind: 'APIResourceList' }
  if (group) body.apiVersion = 'v1'
  body.groupVersion = group ? `${group}/v1` : 'v1'
  body.resources = resources
  return body
}

function aggregatedDiscoveryBody(core: boolean, apiVersion: string): Record<string, unknown> {
  const groups = core ? [''] : GROUPS
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion,
    metadata: {},
    items: groups.map((group) => ({
      metadata: group ? { name: group, creationTimestamp: null } : { creationTimestamp: null },
      versions: [
        {
          version: 'v1',
          resources: RESOURCES.filter((r) => r.group === group).map((r) => {
            const out: Record<string, unknown> = {
              resource: r.resource,
              responseKind: { group, version: 'v1', kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: r.verbs,
            }
            if (r.shortNames) out.shortNames = r.shortNames
            if (r.categories) out.categories = r.categories
            if (r.subresources.length) {
              out.subresources = r.subresources.map((s) => ({
                subresource: s.name,
                responseKind: { group: s.group ?? group, version: s.version ?? 'v1', kind: s.kind },
                verbs: s.verbs,
              }))
            }
            return out
          }),
          freshness: 'Current',
        },
      ],
    })),
  }
}

function groupEntry(name: string) {
  const v = { groupVersion: `${name}/v1`, version: 'v1' }
  return { name, versions: [v], preferredVersion: v }
}

// ---------------------------------------------------------------------------------------------------------------
// Selectors

type Requirement = { key: string; op: string; values: string[] }

class BadRequest extends Error {}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/

function checkKey(key: string): void {
  const slash = key.indexOf('/')
  const name = slash >= 0 ? key.slice(slash + 1) : key
  const prefix = slash >= 0 ? key.slice(0, slash) : ''
  if (
    !LABEL_NAME.test(name) ||
    name.length > 63 ||
    (slash >= 0 && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix))
  ) {
    throw new BadRequest(
      `unable to parse requirement: <nil>: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    )
  }
}

function checkValue(v: string): void {
  if (v.length > 63 || !LABEL_VALUE.test(v)) {
    throw new BadRequest(
      `unable to parse requirement: values[0][]: Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    )
  }
}

function splitTopLevel(s: string): string[] {
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out
}

/** Parses the label selector syntax of k8s.io/apimachinery/pkg/labels. */
export function parseLabelSelector(selector: string): Requirement[] {
  if (!selector.trim()) return []
  return splitTopLevel(selector).map((raw) => {
    const term = raw.trim()
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(term)
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => v.trim())
      checkKey(m[1] ?? '')
      for (const v of values) checkValue(v)
      return { key: m[1] ?? '', op: m[2] ?? '', values }
    }
    m = /^!\s*([^=!<>\s]+)$/.exec(term)
    if (m) {
      checkKey(m[1] ?? '')
      return { key: m[1] ?? '', op: '!', values: [] }
    }
    m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(term)
    if (m) {
      const op = m[2] === '==' ? '=' : (m[2] ?? '')
      checkKey(m[1] ?? '')
      if (op === '>' || op === '<') {
        if (!/^-?\d+$/.test(m[3] ?? ''))
          throw new BadRequest(
            `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`,
          )
      } else checkValue(m[3] ?? '')
      return { key: m[1] ?? '', op, values: [m[3] ?? ''] }
    }
    m = /^([^=!<>\s()]+)$/.exec(term)
    if (m) {
      checkKey(m[1] ?? '')
      return { key: m[1] ?? '', op: 'exists', values: [] }
    }
    throw new BadRequest(`unable to parse requirement: found '${term}', expected: identifier`)
  })
}

function matchRequirements(reqs: Requirement[], labels: Record<string, string>): boolean {
  return reqs.every(({ key, op, values }) => {
    const has = Object.hasOwn(labels, key)
    const v = labels[key]
    switch (op) {
      case '=':
      case 'in':
        return has && values.includes(v ?? '')
      case '!=':
      case 'notin':
        return !has || !values.includes(v ?? '')
      case 'exists':
        return has
      case '!':
        return !has
      case '>':
        return has && /^-?\d+$/.test(v ?? '') && Number(v) > Number(values[0])
      case '<':
        return has && /^-?\d+$/.test(v ?? '') && Number(v) < Number(values[0])
      default:
        return false
    }
  })
}

function parseFieldSelector(selector: string, info: ResourceInfo): Array<(o: KubeObject) => boolean> {
  if (!selector.trim()) return []
  return selector.split(',').map((raw) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw)
    if (!m) throw new BadRequest(`invalid selector: '${selector}'; can't understand '${raw}'`)
    const field = m[1] ?? ''
    const value = m[3] ?? ''
    const get =
      field === 'metadata.name'
        ? (o: KubeObject) => o.metadata.name
        : field === 'metadata.namespace' && info.namespaced
          ? (o: KubeObject) => o.metadata.namespace ?? ''
          : info.fields[field]
    if (!get) throw new BadRequest(`field label not supported: ${field}`)
    return m[2] === '!=' ? (o) => get(o) !== value : (o) => get(o) === value
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Continue tokens (k8s.io/apiserver/pkg/storage.EncodeContinue/DecodeContinue)

function encodeContinue(start: string, rv: number): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url')
}

function decodeContinue(token: string): { start: string; rv: number } {
  let parsed: { v?: unknown; rv?: unknown; start?: unknown }
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('illegal base64 data')
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch (err) {
    throw new BadRequest(`invalid continue token: continue key is not valid: ${(err as Error).message}`)
  }
  if (parsed.v !== 'meta.k8s.io/v1') {
    throw new BadRequest(
      'invalid continue token: continue key is not valid: server does not recognize this encoded version',
    )
  }
  if (typeof parsed.rv !== 'number' || parsed.rv === 0 || parsed.rv < -1) {
    throw new BadRequest(
      'invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    )
  }
  if (typeof parsed.start !== 'string' || !parsed.start) {
    throw new BadRequest(
      'invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)',
    )
  }
  return { start: parsed.start, rv: parsed.rv }
}

const EXPIRED_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.'

// ---------------------------------------------------------------------------------------------------------------
// Certificates

// ---------------------------------------------------------------------------------------------------------------
// The server

interface Snapshot {
  items: Array<{ key: string; obj: KubeObject }>
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): EncodedBody {
  const encoded = encodeBody(res.req, JSON.stringify(body), contentType)
  sendBody(res, status, encoded)
  return encoded
}

// As kube-apiserver (responsewriters): a body over 128 KiB is gzipped at level 1 when the client accepts gzip.
const GZIP_THRESHOLD_BYTES = 128 * 1024

/** As its negotiateContentEncoding: a comma-separated token that is exactly `gzip`. */
function acceptsGzip(req: IncomingMessage | undefined): boolean {
  return (req?.headers['accept-encoding'] ?? '').split(',').some((token) => token.trim() === 'gzip')
}

/** A body as sent: its bytes, gzipped or not ('' encoding). */
interface EncodedBody {
  bytes: Buffer
  encoding: '' | 'gzip'
  contentType: string
}

function encodeBody(req: IncomingMessage | undefined, text: string, contentType: string): EncodedBody {
  const bytes = Buffer.from(text)
  return bytes.length > GZIP_THRESHOLD_BYTES && acceptsGzip(req)
    ? { bytes: gzipSync(bytes, { level: 1 }), encoding: 'gzip', contentType }
    : { bytes, encoding: '', contentType }
}

function sendBody(res: ServerResponse, status: number, body: EncodedBody): void {
  res.writeHead(status, {
    'Content-Type': body.contentType,
    'Content-Length': body.bytes.length,
    'Cache-Control': 'no-cache, private',
    'X-Kubernetes-Pf-Flowschema-Uid': '4b5c6d7e-0000-4000-8000-000000000001',
    'X-Kubernetes-Pf-Prioritylevel-Uid': '4b5c6d7e-0000-4000-8000-000000000002',
    ...(body.encoding ? { 'Content-Encoding': body.encoding, Vary: 'Accept-Encoding' } : {}),
  })
  res.end(body.bytes)
}

function statusBody(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata,
    status: 'Failure',
    message,
    reason,
  }
  if (details) body.details = details
  body.code = code
  return body
}

function notFoundBody(): Record<string, unknown> {
  return statusBody(404, 'NotFound', 'the server could not find the requested resource', {})
}

function userFromName(u: string | KubeUser): KubeUser {
  return typeof u === 'string' ? { name: u } : u
}

function withoutTypeMeta(o: KubeObject): Record<string, unknown> {
  const { kind: _k, apiVersion: _a, ...rest } = o
  return rest
}

function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

interface AcceptChoice {
  table?: string
  partial?: string
  aggregated?: string
  acceptable: boolean
}

function parseAccept(accept: string): AcceptChoice {
  const out: AcceptChoice = { acceptable: accept === '' }
  for (const part of accept.split(',')) {
    const [type = '', ...paramParts] = part.split(';').map((s) => s.trim())
    const params: Record<string, string> = {}
    for (const p of paramParts) {
      const eq = p.indexOf('=')
      if (eq > 0) params[p.slice(0, eq).trim()] = p.slice(eq + 1).trim()
    }
    const json = type === 'application/json' || type === '*/*' || type === 'application/*'
    if (!json) continue
    if (!params.as) {
      out.acceptable = true
      continue
    }
    if (
      params.as === 'Table' &&
      params.g === 'meta.k8s.io' &&
      (params.v === 'v1' || params.v === 'v1beta1')
    ) {
      out.table ??= params.v
    } else if (
      (params.as === 'PartialObjectMetadataList' || params.as === 'PartialObjectMetadata') &&
      params.g === 'meta.k8s.io' &&
      (params.v === 'v1' || params.v === 'v1beta1')
    ) {
      out.partial ??= params.v
    } else if (
      params.as === 'APIGroupDiscoveryList' &&
      params.g === 'apidiscovery.k8s.io' &&
      (params.v === 'v2' || params.v === 'v2beta1')
    ) {
      out.aggregated ??= params.v
    }
  }
  return out
}

export async function startKubeApi(opts: StartKubeApiOptions = {}): Promise<KubeApi> {
  const gitVersion = opts.gitVersion ?? 'v1.31.4'
  const tokens = new Map<string, KubeUser>(
    Object.entries(opts.tokens ?? { 'test-token': 'tester' }).map(([t, u]) => [t, userFromName(u)]),
  )

  // Store: resourceKey -> objectKey -> object (objects are never mutated after insertion).
  const store = new Map<string, Map<string, KubeObject>>()
  for (const r of RESOURCES) store.set(resourceKey(r.group, r.resource), new Map())
  let rv = 1000
  // `${resourceKey}@${rv}` -> the sorted contents at that revision (made when a list is paged).
  const snapshots = new Map<string, Snapshot>()
  const responses = new Map<string, EncodedBody>()

  function add(...objects: KubeObject[]): KubeObject[] {
    return objects.map((o) => {
      const info = infoForKind(o.kind)
      if (gv(info) !== o.apiVersion) throw new Error(`kube-api: ${o.kind} must have apiVersion ${gv(info)}`)
      if (info.namespaced !== Boolean(o.metadata.namespace)) {
        throw new Error(
          `kube-api: ${o.kind} ${o.metadata.name}: namespace ${info.namespaced ? 'required' : 'not allowed'}`,
        )
      }
      rv++
      const copy = structuredClone(o)
      copy.metadata.resourceVersion = String(rv)
      store.get(resourceKey(info.group, info.resource))?.set(objectKey(copy), copy)
      return structuredClone(copy)
    })
  }

  function remove(ref: { kind: string; metadata: { name: string; namespace?: string } }): boolean {
    const info = infoForKind(ref.kind)
    const key = ref.metadata.namespace ? `${ref.metadata.namespace}/${ref.metadata.name}` : ref.metadata.name
    const existed = store.get(resourceKey(info.group, info.resource))?.delete(key) ?? false
    if (existed) rv++
    return existed
  }

  function sorted(info: ResourceInfo): Array<{ key: string; obj: KubeObject }> {
    const m = store.get(resourceKey(info.group, info.resource)) ?? new Map<string, KubeObject>()
    return [...m.entries()].map(([key, obj]) => ({ key, obj })).sort((a, b) => byteCompare(a.key, b.key))
  }

  add(...(opts.objects ?? []))

  const tmp = await makeTempDir('kube-api')
  let server: Server | undefined
  try {
    const certs = await CertFactory.create(tmp.path, opts.certDays ?? 10)
    const [ca, clientCa] = await Promise.all([
      certs.issue('/CN=kube-test-ca', 'ca_ext'),
      certs.issue('/CN=kube-test-client-ca', 'ca_ext'),
    ])
    const serverCert = await certs.issue('/CN=kube-apiserver', 'server_ext', ca)
    const clientCerts = new Map<string, ClientCert>()
    const issueClientCert = async (name: string, groups: string[] = []): Promise<ClientCert> => {
      const subject = `${groups.map((g) => `/O=${subjectPart(g)}`).join('')}/CN=${subjectPart(name)}`
      const c = await certs.issue(subject, 'client_ext', clientCa)
      const out = { certPem: c.certPem, keyPem: c.keyPem }
      clientCerts.set(name, out)
      return out
    }
    const certUsers = (opts.certUsers ?? ['cert-user']).map(userFromName)
    await Promise.all(certUsers.map((u) => issueClientCert(u.name, u.groups)))

    const requests: KubeRequestRecord[] = []
    const api: KubeApi = {
      url: '',
      port: 0,
      caPem: ca.certPem,
      clientCaPem: clientCa.certPem,
      requests,
      clearRequests: () => {
        requests.length = 0
      },
      intercept: opts.intercept,
      forbidden: [...(opts.forbidden ?? [])],
      aggregatedDiscovery: opts.aggregatedDiscovery ?? true,
      add,
      remove,
      get(kind, namespace, name) {
        const info = infoForKind(kind)
        const o = store
          .get(resourceKey(info.group, info.resource))
          ?.get(namespace ? `${namespace}/${name}` : name)
        return o ? structuredClone(o) : undefined
      },
      list(kind, namespace) {
        return sorted(infoForKind(kind))
          .filter((e) => namespace === undefined || e.obj.metadata.namespace === namespace)
          .map((e) => structuredClone(e.obj))
      },
      resourceVersion: () => rv,
      compact() {
        snapshots.clear()
        rv++
      },
      issueClientCert: (name, groups) => {
        if (!server) return Promise.reject(new Error('kube-api: stopped'))
        return issueClientCert(name, groups)
      },
      clientCert: (name) => clientCerts.get(name),
      kubeconfig: (o) => kubeconfigText(o),
      async writeKubeconfig(path, o) {
        await writeFile(path, kubeconfigText(o), { mode: 0o600 })
      },
      async stop() {
        if (server) await closeServer(server)
        server = undefined
        await tmp.remove()
      },
    }

    function kubeconfigText(input: KubeconfigOptions | KubeconfigOptions[] = {}): string {
      const list = Array.isArray(input) ? input : [input]
      if (!list.length) throw new Error('kube-api: kubeconfig needs at least one context')
      const caData = Buffer.from(ca.certPem).toString('base64')
      const contexts: string[] = []
      const users: string[] = []
      for (const [i, o] of list.entries()) {
        const ctx = o.context ?? (i === 0 ? 'kube-test' : `kube-test-${i}`)
        let userName: string
        let userBody: string
        if ((o.user ?? 'token') === 'token') {
          const token = o.token ?? [...tokens.keys()][0]
          if (!token) throw new Error('kube-api: no token configured')
          userName = `${ctx}-token-user`
          userBody = `    token: ${JSON.stringify(token)}`
        } else {
          const name = o.certUser ?? certUsers[0]?.name
          const cert = name ? clientCerts.get(name) : undefined
          if (!name || !cert) {
            throw new Error(
              `kube-api: no client certificate for ${name}; list it in certUsers or await issueClientCert()`,
            )
          }
          userName = `${ctx}-cert-user`
          userBody = [
            `    client-certificate-data: ${Buffer.from(cert.certPem).toString('base64')}`,
            `    client-key-data: ${Buffer.from(cert.keyPem).toString('base64')}`,
          ].join('\n')
        }
        contexts.push(
          [
            '- context:',
            `    cluster: ${JSON.stringify(`${ctx}-cluster`)}`,
            o.namespace ? `    namespace: ${JSON.stringify(o.namespace)}` : '',
            `    user: ${JSON.stringify(userName)}`,
            `  name: ${JSON.stringify(ctx)}`,
          ]
            .filter(Boolean)
            .join('\n'),
        )
        users.push(`- name: ${JSON.stringify(userName)}\n  user:\n${userBody}`)
      }
      const clusters = list.map((o, i) => {
        const ctx = o.context ?? (i === 0 ? 'kube-test' : `kube-test-${i}`)
        return [
          '- cluster:',
          `    certificate-authority-data: ${caData}`,
          `    server: ${JSON.stringify(o.server ?? api.url)}`,
          `  name: ${JSON.stringify(`${ctx}-cluster`)}`,
        ].join('\n')
      })
      const current = list[0]?.context ?? 'kube-test'
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        ...clusters,
        'contexts:',
        ...contexts,
        `current-context: ${JSON.stringify(current)}`,
        'preferences: {}',
        'users:',
        ...users,
        '',
      ].join('\n')
    }

    function authenticate(req: IncomingMessage): {
      user: KubeUser | null
      auth: 'token' | 'cert' | 'none'
      bad: boolean
    } {
      const socket = req.socket as TLSSocket
      const peer = socket.getPeerCertificate?.()
      if (peer && Object.keys(peer).length > 0) {
        if (!socket.authorized) return { user: null, auth: 'cert', bad: true }
        const subject = peer.subject as unknown as Record<string, string | string[] | undefined>
        const cn = subject.CN
        const o = subject.O
        const name = Array.isArray(cn) ? cn[0] : cn
        if (name) {
          const groups = o === undefined ? [] : Array.isArray(o) ? o : [o]
          return { user: { name, groups }, auth: 'cert', bad: false }
        }
      }
      const header = req.headers.authorization
      if (header) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
        const u = m ? tokens.get(m[1] ?? '') : undefined
        return u ? { user: u, auth: 'token', bad: false } : { user: null, auth: 'token', bad: true }
      }
      return { user: null, auth: 'none', bad: false }
    }

    function forbiddenFor(a: RequestAttributes): boolean {
      if (opts.authorize && !opts.authorize(a)) return true
      return api.forbidden.some(
        (r) =>
          (r.user === undefined || r.user === a.user) &&
          (r.group === undefined || a.groups.includes(r.group)) &&
          (r.resource === undefined || r.resource === a.resource) &&
          (r.verb === undefined || r.verb === a.verb) &&
          (r.clusterScope
            ? a.namespace === ''
            : r.namespace === undefined || r.namespace === a.namespace || a.namespace === ''),
      )
    }

    async function handle(req: IncomingMessage, res: ServerResponse, rec: KubeRequestRecord): Promise<void> {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1')
      const q = rec.query
      let auth = authenticate(req)
      rec.user = auth.user?.name ?? null
      rec.auth = auth.auth
      // Impersonation (every authenticated user may impersonate anyone here; a real server asks RBAC): the
      // request is then authorized as the impersonated user, with its groups and system:authenticated.
      const impersonation = impersonationOf(req)
      if (impersonation) {
        rec.impersonation = impersonation
        if (auth.user && !auth.bad && impersonation.user) {
          auth = {
            ...auth,
            user: { name: impersonation.user, groups: [...impersonation.groups, 'system:authenticated'] },
          }
          rec.user = impersonation.user
        }
      }
      // The bytes as sent, compressed or not: both are the server's work, not the measured client's.
      const cacheKey =
        opts.cacheResponses && rec.method === 'GET'
          ? `${rec.user}\u0000${acceptsGzip(req)}\u0000${req.url}`
          : undefined
      const cached = cacheKey === undefined ? undefined : responses.get(cacheKey)
      if (cached) {
        rec.status = 200
        rec.contentEncoding = cached.encoding
        sendBody(res, 200, cached)
        return
      }
      const send = (status: number, body: unknown, contentType = 'application/json') => {
        rec.status = status
        const encoded = sendJson(res, status, body, contentType)
        rec.contentEncoding = encoded.encoding
        if (cacheKey !== undefined && status === 200) responses.set(cacheKey, encoded)
      }

      if (api.intercept) {
        const i = await api.intercept({
          method: rec.method,
          pathname: url.pathname,
          query: q,
          user: rec.user,
        })
        if (i?.delayMs) await new Promise((r) => setTimeout(r, i.delayMs))
        if (i?.destroy) {
          rec.status = 0
          req.socket.destroy()
          return
        }
        if (i?.status !== undefined) {
          rec.status = i.status
          const body =
            i.body === undefined && i.status >= 400
              ? statusBody(i.status, 'InternalError', `injected failure (${i.status})`)
              : i.body
          const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body)
          res.writeHead(i.status, {
            'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
            ...i.headers,
          })
          res.end(text)
          return
        }
      }

      const path = url.pathname.replace(/\/+$/, '') || '/'
      const publicPaths = ['/version', '/healthz', '/livez', '/readyz']
      if (auth.bad || (!auth.user && !publicPaths.includes(path))) {
        send(401, statusBody(401, 'Unauthorized', 'Unauthorized'))
        return
      }
      if (impersonation && !impersonation.user) {
        const why = 'requested groups, uid or extra without impersonating a user'
        send(500, statusBody(500, 'InternalError', `Internal error occurred: ${why}`))
        return
      }
      if (publicPaths.includes(path) && path !== '/version') {
        rec.status = 200
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' })
        res.end('ok')
        return
      }
      if (path === '/version') {
        const m = /^v(\d+)\.(\d+)/.exec(gitVersion)
        send(200, {
          major: m?.[1] ?? '1',
          minor: m?.[2] ?? '31',
          gitVersion,
          gitCommit: '5f4b7b5b6f1d2b0e8a8e7e4c5d3b2a1f0e9d8c7b',
          gitTreeState: 'clean',
          buildDate: '2024-12-10T11:37:04Z',
          goVersion: 'go1.22.9',
          compiler: 'gc',
          platform: 'linux/amd64',
        })
        return
      }
      if (req.method !== 'GET') {
        send(
          405,
          statusBody(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
            {},
          ),
        )
        return
      }
      const accept = parseAccept(req.headers.accept ?? '')
      const groupsUser = auth.user as KubeUser
      if (path === '/api' || path === '/apis') {
        const core = path === '/api'
        if (api.aggregatedDiscovery && accept.aggregated) {
          const v = accept.aggregated
          send(
            200,
            aggregatedDiscoveryBody(core, `apidiscovery.k8s.io/${v}`),
            `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`,
          )
        } else if (core) {
          send(200, {
            kind: 'APIVersions',
            versions: ['v1'],
            serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '172.18.0.2:6443' }],
          })
        } else {
          send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.map(groupEntry) })
        }
        return
      }
      if (path === '/api/v1') {
        send(200, legacyResourceList(''))
        return
      }
      const groupMatch = /^\/apis\/([^/]+)(?:\/(v1))?$/.exec(path)
      if (groupMatch && GROUPS.includes(groupMatch[1] ?? '')) {
        if (groupMatch[2]) send(200, legacyResourceList(groupMatch[1] ?? ''))
        else send(200, { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(groupMatch[1] ?? '') })
        return
      }

      // Resource paths.
      let group: string
      let rest: string[]
      const segs = path.split('/').filter(Boolean).map(decodeURIComponent)
      if (segs[0] === 'api' && segs[1] === 'v1') {
        group = ''
        rest = segs.slice(2)
      } else if (segs[0] === 'apis' && GROUPS.includes(segs[1] ?? '') && segs[2] === 'v1') {
        group = segs[1] ?? ''
        rest = segs.slice(3)
      } else {
        send(404, notFoundBody())
        return
      }
      let namespace = ''
      if (rest[0] === 'namespaces' && rest.length >= 3) {
        namespace = rest[1] ?? ''
        rest = rest.slice(2)
      }
      const [resource = '', name = '', subresource = '', ...extra] = rest
      const info = BY_PATH.get(resourceKey(group, resource))
      if (!info || extra.length || (namespace && !info.namespaced)) {
        send(404, notFoundBody())
        return
      }
      if (subresource && !info.subresources.some((s) => s.name === subresource)) {
        send(404, notFoundBody())
        return
      }
      const watch = q.watch === 'true' || q.watch === '1'
      const verb = name ? 'get' : watch ? 'watch' : 'list'
      rec.verb = verb
      rec.resource = info.resource
      rec.namespace = namespace
      rec.name = name
      const authzNamespace = info.resource === 'namespaces' && name ? name : namespace
      const attrs: RequestAttributes = {
        user: groupsUser.name,
        groups: [...(groupsUser.groups ?? []), 'system:authenticated'],
        verb,
        group,
        resource: info.resource,
        subresource,
        namespace: authzNamespace,
        name,
      }
      if (forbiddenFor(attrs)) {
        const res2 = subresource ? `${info.resource}/${subresource}` : info.resource
        const where = authzNamespace ? `in the namespace "${authzNamespace}"` : 'at the cluster scope'
        const subject = name ? `${qualified(info)} "${name}"` : qualified(info)
        const details: Record<string, unknown> = {}
        if (name) details.name = name
        if (group) details.group = group
        details.kind = info.resource
        send(
          403,
          statusBody(
            403,
            'Forbidden',
            `${subject} is forbidden: User "${groupsUser.name}" cannot ${verb} resource "${res2}" in API group "${group}" ${where}`,
            details,
          ),
        )
        return
      }
      if (!accept.acceptable && !accept.table && !accept.partial) {
        send(
          406,
          statusBody(
            406,
            'NotAcceptable',
            'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf',
          ),
        )
        return
      }
      if (watch) {
        send(405, statusBody(405, 'MethodNotAllowed', 'watch is not supported by this test API server', {}))
        return
      }

      const tableOf = (objs: KubeObject[], listMeta: Record<string, unknown>, v: string) => {
        rec.table = true
        const include = q.includeObject ?? 'Metadata'
        return {
          kind: 'Table',
          apiVersion: `meta.k8s.io/${v}`,
          metadata: listMeta,
          columnDefinitions: info.columns.map((c) => ({
            name: c.name,
            type: c.type,
            format: c.format ?? '',
            description: c.description,
            priority: c.priority ?? 0,
          })),
          rows: objs.map((o) => {
            const row: Record<string, unknown> = { cells: info.cells(o) }
            if (include === 'Object') row.object = o
            else if (include !== 'None') {
              row.object = {
                kind: 'PartialObjectMetadata',
                apiVersion: `meta.k8s.io/${v}`,
                metadata: o.metadata,
              }
            }
            return row
          }),
        }
      }
      const tableType = (v: string) => `application/json;as=Table;v=${v};g=meta.k8s.io`

      if (name) {
        const key = info.namespaced ? `${namespace}/${name}` : name
        const obj = store.get(resourceKey(group, info.resource))?.get(key)
        if (!obj) {
          const details: Record<string, unknown> = { name }
          if (group) details.group = group
          details.kind = info.resource
          send(404, statusBody(404, 'NotFound', `${qualified(info)} "${name}" not found`, details))
          return
        }
        if (accept.table) {
          send(
            200,
            tableOf([obj], { resourceVersion: obj.metadata.resourceVersion }, accept.table),
            tableType(accept.table),
          )
        } else if (accept.partial) {
          send(
            200,
            {
              kind: 'PartialObjectMetadata',
              apiVersion: `meta.k8s.io/${accept.partial}`,
              metadata: obj.metadata,
            },
            `application/json;as=PartialObjectMetadata;v=${accept.partial};g=meta.k8s.io`,
          )
        } else send(200, obj)
        return
      }

      // List.
      const labelReqs = parseLabelSelector(q.labelSelector ?? '')
      const fieldPreds = parseFieldSelector(q.fieldSelector ?? '', info)
      const filtered = labelReqs.length > 0 || fieldPreds.length > 0
      const matches = (o: KubeObject) =>
        matchRequirements(labelReqs, o.metadata.labels ?? {}) && fieldPreds.every((p) => p(o))
      let limit = q.limit && /^\d+$/.test(q.limit) ? Number(q.limit) : 0
      const token = q.continue ?? ''
      if (token && q.resourceVersion) {
        throw new BadRequest('specifying resource version is not allowed when using continue')
      }
      // As in v1.31: a list with resourceVersion=0 is served from the watch cache, which ignores limit.
      if (q.resourceVersion === '0' && !token) limit = 0
      const prefix = namespace ? `${namespace}/` : ''
      const snapshotKey = (at: number) => `${resourceKey(group, info.resource)}@${at}`
      let listRv = rv
      let items: Array<{ key: string; obj: KubeObject }> | undefined
      let start = ''
      if (token) {
        const decoded = decodeContinue(token)
        start = prefix + decoded.start
        // rv -1 (from a 410 response) continues at the latest revision, like the real server.
        if (decoded.rv !== -1) {
          items = snapshots.get(snapshotKey(decoded.rv))?.items
          if (!items) {
            send(
              410,
              statusBody(410, 'Expired', EXPIRED_CONTINUE, undefined, {
                continue: encodeContinue(decoded.start, -1),
              }),
            )
            return
          }
          listRv = decoded.rv
        }
      }
      const fresh = items === undefined
      items ??= sorted(info)
      const scoped = items.filter(
        (e) => e.key.startsWith(prefix) && (!start || byteCompare(e.key, start) >= 0),
      )
      const page: Array<{ key: string; obj: KubeObject }> = []
      let lastIndex = -1
      for (const [i, e] of scoped.entries()) {
        if (limit > 0 && page.length >= limit) break
        lastIndex = i
        if (matches(e.obj)) page.push(e)
      }
      const listMeta: Record<string, unknown> = { resourceVersion: String(listRv) }
      const more = limit > 0 && page.length >= limit && lastIndex < scoped.length - 1
      if (more) {
        // Later pages read this revision's contents (etcd serves continuations from the first page's revision).
        if (fresh) snapshots.set(snapshotKey(listRv), { items })
        const lastKey = scoped[lastIndex]?.key ?? ''
        listMeta.continue = encodeContinue(`${lastKey.slice(prefix.length)}\u0000`, listRv)
        if (!filtered) listMeta.remainingItemCount = scoped.length - 1 - lastIndex
      }
      const objs = page.map((e) => e.obj)
      if (accept.table) {
        send(200, tableOf(objs, listMeta, accept.table), tableType(accept.table))
      } else if (accept.partial) {
        const v = accept.partial
        send(
          200,
          {
            kind: 'PartialObjectMetadataList',
            apiVersion: `meta.k8s.io/${v}`,
            metadata: listMeta,
            items: objs.map((o) => ({
              kind: 'PartialObjectMetadata',
              apiVersion: `meta.k8s.io/${v}`,
              metadata: o.metadata,
            })),
          },
          `application/json;as=PartialObjectMetadataList;v=${v};g=meta.k8s.io`,
        )
      } else {
        send(200, {
          kind: `${info.kind}List`,
          apiVersion: gv(info),
          metadata: listMeta,
          items: objs.map(withoutTypeMeta),
        })
      }
    }

    server = createServer(
      {
        key: serverCert.keyPem,
        cert: serverCert.certPem,
        ca: clientCa.certPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const url = new URL(req.url ?? '/', 'https://127.0.0.1')
        const rec: KubeRequestRecord = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          pathname: url.pathname,
          query: Object.fromEntries(url.searchParams),
          user: null,
          auth: 'none',
          status: 0,
          accept: req.headers.accept ?? '',
          userAgent: req.headers['user-agent'] ?? '',
          verb: '',
          resource: '',
          namespace: '',
          name: '',
          table: false,
          acceptEncoding: req.headers['accept-encoding'] ?? '',
          contentEncoding: '',
        }
        requests.push(rec)
        handle(req, res, rec).catch((err: unknown) => {
          if (res.headersSent) {
            res.destroy()
            return
          }
          const bad = err instanceof BadRequest
          rec.status = bad ? 400 : 500
          sendJson(
            res,
            rec.status,
            statusBody(rec.status, bad ? 'BadRequest' : 'InternalError', bad ? err.message : String(err)),
          )
        })
      },
    )
    server.keepAliveTimeout = 5_000
    const port = await listen(server, '127.0.0.1')
    api.port = port
    api.url = `https://127.0.0.1:${port}`
    // Sanity: the server certificate must carry the SANs clients verify.
    const san = new X509Certificate(serverCert.certPem).subjectAltName ?? ''
    if (!san.includes('IP Address:127.0.0.1')) throw new Error(`kube-api: bad server certificate SAN: ${san}`)
    return api
  } catch (err) {
    if (server) await closeServer(server)
    await tmp.remove()
    throw err
  }
}
