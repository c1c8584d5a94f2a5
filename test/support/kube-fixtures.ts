// Builders for real-shaped Kubernetes objects (the JSON a v1.31 kube-apiserver returns, defaults included) to seed
// the test API server of ./kube-api.ts. Each builder returns the object with `kind`/`apiVersion`, a uid, a
// creationTimestamp (RFC 3339, whole seconds) and `generation` where the real server sets one; the server assigns
// `metadata.resourceVersion` when the object is added.
import { createHash, randomUUID } from 'node:crypto'

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  name: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string | null
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  [key: string]: unknown
}

/** Any Kubernetes object. `spec`/`status` are loosely typed: cast in tests that dig into them. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  // biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON
  spec?: any
  // biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON
  status?: any
  [key: string]: unknown
}

export interface ContainerOptions {
  image: string
  /** Default: the image's last path segment (without tag/digest). */
  name?: string
  /** Default like the API server: `Always` for `:latest` or no tag, else `IfNotPresent`. */
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never'
  /** Init containers only: `'Always'` makes a sidecar (native sidecar containers). */
  restartPolicy?: 'Always'
  /** Ephemeral containers only. */
  targetContainerName?: string
  // ---- pod status (pods only) ----
  /** `status.*ContainerStatuses[].imageID`. Default: `<normalized repo>@<digest>` (see fakeDigest); '' when waiting. */
  imageID?: string
  /** Default 'running' ('terminated' with exit 0 for init containers that are not sidecars). */
  state?: 'running' | 'waiting' | 'terminated'
  /** Reason for waiting/terminated states, e.g. 'ImagePullBackOff', 'ErrImagePull', 'Completed', 'Error'. */
  reason?: string
  restartCount?: number
  ready?: boolean
}

export type ContainerInput = string | ContainerOptions

export interface CommonOptions {
  labels?: Record<string, string>
  annotations?: Record<string, string>
  uid?: string
  /** Date or RFC 3339 string. Default: now (whole seconds). */
  creationTimestamp?: string | Date
  ownerReferences?: OwnerReference[]
  /** Sets ownerReferences to a controller reference to this object. */
  owner?: KubeObject
}

export interface PodTemplateOptions extends CommonOptions {
  /** Default: one `nginx:1.27.3` container. */
  containers?: ContainerInput[]
  initContainers?: ContainerInput[]
  imagePullSecrets?: string[]
  serviceAccountName?: string
  /** Labels of the pod template (default: the selector labels). */
  podLabels?: Record<string, string>
  podAnnotations?: Record<string, string>
  /** Pod `restartPolicy` (default: 'Always'; Jobs 'Never'; CronJobs 'OnFailure'). */
  restartPolicy?: 'Always' | 'OnFailure' | 'Never'
}

export interface WorkloadOptions extends PodTemplateOptions {
  /** Default 1. */
  replicas?: number
}

export interface PodOptions extends PodTemplateOptions {
  ephemeralContainers?: ContainerInput[]
  /** Default 'Running' (or 'Pending' when a container is waiting). */
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown'
  /** Default 'node-1'. */
  nodeName?: string
  podIP?: string
}

export interface CronJobOptions extends PodTemplateOptions {
  /** Default '*\/5 * * * *'. */
  schedule?: string
  timeZone?: string
  suspend?: boolean
}

export interface JobOptions extends PodTemplateOptions {
  /** Default true (status Complete, 1 succeeded). */
  complete?: boolean
}

const GENERATED_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

/** Kubernetes timestamps: RFC 3339 in UTC with whole seconds. */
export function timestamp(at: string | Date = new Date()): string {
  const d = typeof at === 'string' ? new Date(at) : at
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function sha256hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** A deterministic lowercase suffix in the alphabet the API server uses for generated names. */
function suffix(seed: string, length: number): string {
  const bytes = createHash('sha256').update(seed).digest()
  let out = ''
  for (let i = 0; i < length; i++) out += GENERATED_ALPHABET[(bytes[i] ?? 0) % GENERATED_ALPHABET.length]
  return out
}

/** The fake (deterministic) digest a pod status reports for an image reference without a digest. */
export function fakeDigest(image: string): string {
  const at = image.indexOf('@')
  if (at >= 0) return image.slice(at + 1)
  return `sha256:${sha256hex(`image:${image}`)}`
}

/** containerd-style normalisation: `nginx:1.25` -> `docker.io/library/nginx:1.25`; adds `:latest` when untagged. */
export function normalizeImage(image: string): { repository: string; reference: string } {
  let rest = image
  let digest = ''
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  let tag = ''
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  const slash = rest.indexOf('/')
  const first = slash >= 0 ? rest.slice(0, slash) : ''
  let repository: string
  if (slash < 0) repository = `docker.io/library/${rest}`
  else if (first.includes('.') || first.includes(':') || first === 'localhost') repository = rest
  else repository = `docker.io/${rest}`
  const reference = digest ? `${repository}@${digest}` : `${repository}:${tag || 'latest'}`
  return { repository, reference }
}

function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent'
  const colon = image.lastIndexOf(':')
  const tag = colon > image.lastIndexOf('/') ? image.slice(colon + 1) : ''
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent'
}

function containerName(image: string): string {
  const noDigest = image.split('@')[0] ?? image
  const lastSeg = noDigest.slice(noDigest.lastIndexOf('/') + 1)
  return (lastSeg.split(':')[0] ?? lastSeg).toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'app'
}

function toOptions(input: ContainerInput): ContainerOptions {
  return typeof input === 'string' ? { image: input } : input
}

type Kind = 'container' | 'init' | 'ephemeral'

function containerSpec(input: ContainerInput, kind: Kind, apiVolume?: string): Record<string, unknown> {
  const c = toOptions(input)
  const spec: Record<string, unknown> = {
    image: c.image,
    imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image),
    name: c.name ?? containerName(c.image),
    resources: {},
  }
  if (kind === 'init' && c.restartPolicy) spec.restartPolicy = c.restartPolicy
  if (kind === 'ephemeral' && c.targetContainerName) spec.targetContainerName = c.targetContainerName
  spec.terminationMessagePath = '/dev/termination-log'
  spec.terminationMessagePolicy = 'File'
  if (apiVolume && kind !== 'ephemeral') {
    spec.volumeMounts = [
      { mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: apiVolume, readOnly: true },
    ]
  }
  return spec
}

function uniqueNames(inputs: ContainerInput[]): ContainerOptions[] {
  const seen = new Map<string, number>()
  return inputs.map((input) => {
    const c = toOptions(input)
    if (c.name) return c
    const base = containerName(c.image)
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    return { ...c, name: n === 0 ? base : `${base}-${n + 1}` }
  })
}

function meta(ns: string | undefined, name: string, opts: CommonOptions, generation: boolean): ObjectMeta {
  const m: ObjectMeta = { name }
  if (opts.annotations && Object.keys(opts.annotations).length) m.annotations = { ...opts.annotations }
  m.creationTimestamp = timestamp(opts.creationTimestamp)
  if (generation) m.generation = 1
  if (opts.labels && Object.keys(opts.labels).length) m.labels = { ...opts.labels }
  if (ns !== undefined) m.namespace = ns
  const owners = opts.ownerReferences ?? (opts.owner ? [ownerReference(opts.owner)] : undefined)
  if (owners) m.ownerReferences = owners
  m.uid = opts.uid ?? randomUUID()
  return m
}

/** A controller owner reference to `owner`, as controllers write it. */
export function ownerReference(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    blockOwnerDeletion: true,
    controller: true,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid ?? '',
  }
}

function podTemplate(
  opts: PodTemplateOptions,
  labels: Record<string, string>,
  restartPolicy: string,
): Record<string, unknown> {
  const containers = uniqueNames(opts.containers ?? [{ image: 'nginx:1.27.3' }])
  const spec: Record<string, unknown> = {
    containers: containers.map((c) => containerSpec(c, 'container')),
    dnsPolicy: 'ClusterFirst',
  }
  if (opts.imagePullSecrets?.length) spec.imagePullSecrets = opts.imagePullSecrets.map((name) => ({ name }))
  if (opts.initContainers?.length) {
    spec.initContainers = uniqueNames(opts.initContainers).map((c) => containerSpec(c, 'init'))
  }
  spec.restartPolicy = opts.restartPolicy ?? restartPolicy
  spec.schedulerName = 'default-scheduler'
  spec.securityContext = {}
  if (opts.serviceAccountName) {
    spec.serviceAccount = opts.serviceAccountName
    spec.serviceAccountName = opts.serviceAccountName
  }
  spec.terminationGracePeriodSeconds = 30
  const metadata: Record<string, unknown> = {
    creationTimestamp: null,
    labels: { ...labels, ...opts.podLabels },
  }
  if (opts.podAnnotations) metadata.annotations = { ...opts.podAnnotations }
  return { metadata, spec }
}

function appLabels(name: string, opts: CommonOptions): Record<string, string> {
  return opts.labels ?? { app: name }
}

export function deployment(ns: string, name: string, opts: WorkloadOptions = {}): KubeObject {
  const labels = appLabels(name, opts)
  const replicas = opts.replicas ?? 1
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(
      ns,
      name,
      {
        ...opts,
        labels,
        annotations: { 'deployment.kubernetes.io/revision': '1', ...opts.annotations },
      },
      true,
    ),
    spec: {
      progressDeadlineSeconds: 600,
      replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { ...labels } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' },
      template: podTemplate(opts, labels, 'Always'),
    },
    status: workloadStatus(replicas, true),
  }
}

function workloadStatus(replicas: number, conditions: boolean): Record<string, unknown> {
  if (replicas === 0) return { observedGeneration: 1 }
  const status: Record<string, unknown> = { availableReplicas: replicas }
  if (conditions) {
    const now = timestamp()
    status.conditions = [
      {
        lastTransitionTime: now,
        lastUpdateTime: now,
        message: 'Deployment has minimum availability.',
        reason: 'MinimumReplicasAvailable',
        status: 'True',
        type: 'Available',
      },
    ]
  }
  Object.assign(status, {
    observedGeneration: 1,
    readyReplicas: replicas,
    replicas,
    updatedReplicas: replicas,
  })
  return status
}

export function statefulSet(ns: string, name: string, opts: WorkloadOptions = {}): KubeObject {
  const labels = appLabels(name, opts)
  const replicas = opts.replicas ?? 1
  const revision = `${name}-${suffix(`${ns}/${name}/rev`, 10)}`
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(ns, name, { ...opts, labels }, true),
    spec: {
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      podManagementPolicy: 'OrderedReady',
      replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { ...labels } },
      serviceName: name,
      template: podTemplate(opts, labels, 'Always'),
      updateStrategy: { rollingUpdate: { partition: 0 }, type: 'RollingUpdate' },
    },
    status: {
      availableReplicas: replicas,
      collisionCount: 0,
      currentReplicas: replicas,
      currentRevision: revision,
      observedGeneration: 1,
      readyReplicas: replicas,
      replicas,
      updateRevision: revision,
      updatedReplicas: replicas,
    },
  }
}

export function daemonSet(ns: string, name: string, opts: WorkloadOptions = {}): KubeObject {
  const labels = appLabels(name, opts)
  const n = opts.replicas ?? 1
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(
      ns,
      name,
      {
        ...opts,
        labels,
        annotations: { 'deprecated.daemonset.template.generation': '1', ...opts.annotations },
      },
      true,
    ),
    spec: {
      revisionHistoryLimit: 10,
      selector: { matchLabels: { ...labels } },
      template: podTemplate(opts, labels, 'Always'),
      updateStrategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }, type: 'RollingUpdate' },
    },
    status: {
      currentNumberScheduled: n,
      desiredNumberScheduled: n,
      numberAvailable: n,
      numberMisscheduled: 0,
      numberReady: n,
      observedGeneration: 1,
      updatedNumberScheduled: n,
    },
  }
}

/** A ReplicaSet; pass `owner: deployment(...)` for one owned by a Deployment (adds pod-template-hash). */
export function replicaSet(ns: string, name: string, opts: WorkloadOptions = {}): KubeObject {
  const hash = name.slice(name.lastIndexOf('-') + 1)
  const owned = opts.owner?.kind === 'Deployment'
  const labels = owned ? { ...appLabels(name, opts), 'pod-template-hash': hash } : appLabels(name, opts)
  const replicas = opts.replicas ?? 1
  const annotations = owned
    ? {
        'deployment.kubernetes.io/desired-replicas': String(replicas),
        'deployment.kubernetes.io/max-replicas': String(replicas + Math.ceil(replicas * 0.25)),
        'deployment.kubernetes.io/revision': '1',
        ...opts.annotations,
      }
    : opts.annotations
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta(ns, name, { ...opts, labels, annotations }, true),
    spec: {
      replicas,
      selector: { matchLabels: { ...labels } },
      template: podTemplate({ ...opts, podLabels: undefined }, { ...labels, ...opts.podLabels }, 'Always'),
    },
    status: {
      availableReplicas: replicas,
      fullyLabeledReplicas: replicas,
      observedGeneration: 1,
      readyReplicas: replicas,
      replicas,
    },
  }
}

export function job(ns: string, name: string, opts: JobOptions = {}): KubeObject {
  const uid = opts.uid ?? randomUUID()
  const batchLabels = {
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  }
  const created = timestamp(opts.creationTimestamp)
  const complete = opts.complete ?? true
  const status: Record<string, unknown> = complete
    ? {
        completionTime: created,
        conditions: [
          {
            lastProbeTime: created,
            lastTransitionTime: created,
            message: 'Reached expected number of succeeded pods',
            reason: 'CompletionsReached',
            status: 'True',
            type: 'SuccessCriteriaMet',
          },
          {
            lastProbeTime: created,
            lastTransitionTime: created,
            message: 'Reached expected number of succeeded pods',
            reason: 'CompletionsReached',
            status: 'True',
            type: 'Complete',
          },
        ],
        ready: 0,
        startTime: created,
        succeeded: 1,
        terminating: 0,
        uncountedTerminatedPods: {},
      }
    : { active: 1, ready: 1, startTime: created, terminating: 0, uncountedTerminatedPods: {} }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: meta(
      ns,
      name,
      { ...opts, uid, creationTimestamp: created, labels: { ...batchLabels, ...opts.labels } },
      true,
    ),
    spec: {
      backoffLimit: 6,
      completionMode: 'NonIndexed',
      completions: 1,
      manualSelector: false,
      parallelism: 1,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      suspend: false,
      template: podTemplate(opts, batchLabels, 'Never'),
    },
    status,
  }
}

export function cronJob(ns: string, name: string, opts: CronJobOptions = {}): KubeObject {
  const template = podTemplate(opts, {}, 'OnFailure') as { metadata: Record<string, unknown> }
  if (!opts.podLabels) delete template.metadata.labels
  const spec: Record<string, unknown> = {
    concurrencyPolicy: 'Allow',
    failedJobsHistoryLimit: 1,
    jobTemplate: { metadata: { creationTimestamp: null }, spec: { template } },
    schedule: opts.schedule ?? '*/5 * * * *',
    successfulJobsHistoryLimit: 3,
    suspend: opts.suspend ?? false,
  }
  if (opts.timeZone) spec.timeZone = opts.timeZone
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: meta(ns, name, opts, true),
    spec,
    status: {},
  }
}

function containerStatus(
  c: ContainerOptions,
  kind: Kind,
  podKey: string,
  started: string,
): Record<string, unknown> {
  const name = c.name ?? containerName(c.image)
  const sidecar = kind === 'init' && c.restartPolicy === 'Always'
  const state = c.state ?? (kind === 'init' && !sidecar ? 'terminated' : 'running')
  const { repository, reference } = normalizeImage(c.image)
  const containerID = `containerd://${sha256hex(`${podKey}/${name}`)}`
  const imageID = c.imageID ?? (state === 'waiting' ? '' : `${repository}@${fakeDigest(c.image)}`)
  const st: Record<string, unknown> = {}
  if (state !== 'waiting') st.containerID = containerID
  st.image = state === 'waiting' ? c.image : reference
  st.imageID = imageID
  st.lastState = {}
  st.name = name
  st.ready = c.ready ?? (state === 'running' || (kind === 'init' && state === 'terminated'))
  st.restartCount = c.restartCount ?? 0
  if (kind !== 'ephemeral' || state === 'running') st.started = state === 'running'
  if (state === 'running') st.state = { running: { startedAt: started } }
  else if (state === 'waiting') {
    const reason = c.reason ?? 'ContainerCreating'
    const messages: Record<string, string> = {
      ImagePullBackOff: `Back-off pulling image "${c.image}"`,
      ErrImagePull: `failed to pull and unpack image "${reference}"`,
    }
    st.state = { waiting: messages[reason] ? { message: messages[reason], reason } : { reason } }
  } else {
    const reason = c.reason ?? 'Completed'
    st.state = {
      terminated: {
        containerID,
        exitCode: reason === 'Completed' ? 0 : 1,
        finishedAt: started,
        reason,
        startedAt: started,
      },
    }
  }
  if (kind === 'container' || sidecar) {
    st.volumeMounts = [
      {
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        name: `kube-api-access-${suffix(podKey, 5)}`,
        readOnly: true,
        recursiveReadOnly: 'Disabled',
      },
    ]
  }
  return st
}

export function pod(ns: string, name: string, opts: PodOptions = {}): KubeObject {
  const created = timestamp(opts.creationTimestamp)
  const podKey = `${ns}/${name}`
  const apiVolume = `kube-api-access-${suffix(podKey, 5)}`
  const containers = uniqueNames(opts.containers ?? [{ image: 'nginx:1.27.3' }])
  const inits = uniqueNames(opts.initContainers ?? [])
  const ephemerals = uniqueNames(opts.ephemeralContainers ?? [])
  const sa = opts.serviceAccountName ?? 'default'
  const nodeName = opts.nodeName ?? 'node-1'
  const waiting = [...containers, ...inits].some((c) => c.state === 'waiting')
  const phase = opts.phase ?? (waiting ? 'Pending' : 'Running')
  const podIP = opts.podIP ?? `10.244.0.${((createHash('sha256').update(podKey).digest()[0] ?? 0) % 250) + 2}`
  const spec: Record<string, unknown> = {
    containers: containers.map((c) => containerSpec(c, 'container', apiVolume)),
    dnsPolicy: 'ClusterFirst',
    enableServiceLinks: true,
  }
  if (ephemerals.length) spec.ephemeralContainers = ephemerals.map((c) => containerSpec(c, 'ephemeral'))
  if (opts.imagePullSecrets?.length) spec.imagePullSecrets = opts.imagePullSecrets.map((n) => ({ name: n }))
  if (inits.length) spec.initContainers = inits.map((c) => containerSpec(c, 'init', apiVolume))
  Object.assign(spec, {
    nodeName,
    preemptionPolicy: 'PreemptLowerPriority',
    priority: 0,
    restartPolicy: opts.restartPolicy ?? 'Always',
    schedulerName: 'default-scheduler',
    securityContext: {},
    serviceAccount: sa,
    serviceAccountName: sa,
    terminationGracePeriodSeconds: 30,
    tolerations: [
      {
        effect: 'NoExecute',
        key: 'node.kubernetes.io/not-ready',
        operator: 'Exists',
        tolerationSeconds: 300,
      },
      {
        effect: 'NoExecute',
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        tolerationSeconds: 300,
      },
    ],
    volumes: [
      {
        name: apiVolume,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } },
            {
              downwardAPI: {
                items: [
                  { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' },
                ],
              },
            },
          ],
        },
      },
    ],
  })
  const ready = phase === 'Running' && containers.every((c) => (c.state ?? 'running') === 'running')
  const cond = (type: string, value: boolean) => ({
    lastProbeTime: null,
    lastTransitionTime: created,
    status: value ? 'True' : 'False',
    type,
  })
  const status: Record<string, unknown> = {
    conditions: [
      cond('PodReadyToStartContainers', phase !== 'Pending' || !waiting),
      cond('Initialized', true),
      cond('Ready', ready),
      cond('ContainersReady', ready),
      cond('PodScheduled', true),
    ],
    containerStatuses: containers.map((c) => containerStatus(c, 'container', podKey, created)),
  }
  if (ephemerals.length) {
    status.ephemeralContainerStatuses = ephemerals.map((c) =>
      containerStatus(c, 'ephemeral', podKey, created),
    )
  }
  Object.assign(status, { hostIP: '172.18.0.2', hostIPs: [{ ip: '172.18.0.2' }] })
  if (inits.length)
    status.initContainerStatuses = inits.map((c) => containerStatus(c, 'init', podKey, created))
  Object.assign(status, {
    phase,
    podIP,
    podIPs: [{ ip: podIP }],
    qosClass: 'BestEffort',
    startTime: created,
  })
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta(ns, name, { ...opts, creationTimestamp: created }, false),
    spec,
    status,
  }
}

export function namespace(name: string, opts: CommonOptions = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta(
      undefined,
      name,
      { ...opts, labels: { 'kubernetes.io/metadata.name': name, ...opts.labels } },
      false,
    ),
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }
}

export function serviceAccount(
  ns: string,
  name: string,
  opts: CommonOptions & { imagePullSecrets?: string[]; secrets?: string[] } = {},
): KubeObject {
  const obj: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(ns, name, opts, false) }
  if (opts.imagePullSecrets?.length) obj.imagePullSecrets = opts.imagePullSecrets.map((n) => ({ name: n }))
  if (opts.secrets?.length) obj.secrets = opts.secrets.map((n) => ({ name: n }))
  return obj
}

export type DockerAuth =
  | { username: string; password: string; email?: string }
  | { auth: string }
  | { identitytoken: string }
  | Record<string, string>

function dockerAuths(auths: Record<string, DockerAuth>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {}
  for (const [registry, a] of Object.entries(auths)) {
    const entry: Record<string, string> = { ...(a as Record<string, string>) }
    if (typeof entry.username === 'string' && typeof entry.password === 'string' && !entry.auth) {
      entry.auth = Buffer.from(`${entry.username}:${entry.password}`).toString('base64')
    }
    out[registry] = entry
  }
  return out
}

/** A `kubernetes.io/dockerconfigjson` Secret, as `kubectl create secret docker-registry` makes it. */
export function dockerConfigSecret(
  ns: string,
  name: string,
  auths: Record<string, DockerAuth>,
  opts: CommonOptions = {},
): KubeObject {
  const json = JSON.stringify({ auths: dockerAuths(auths) })
  return secret(ns, name, { '.dockerconfigjson': json }, 'kubernetes.io/dockerconfigjson', opts)
}

/** A legacy `kubernetes.io/dockercfg` Secret (`.dockercfg` holds the auths map itself, without `auths`). */
export function dockerCfgSecret(
  ns: string,
  name: string,
  auths: Record<string, DockerAuth>,
  opts: CommonOptions = {},
): KubeObject {
  return secret(
    ns,
    name,
    { '.dockercfg': JSON.stringify(dockerAuths(auths)) },
    'kubernetes.io/dockercfg',
    opts,
  )
}

/** A Secret; `data` values are given in clear text and stored base64-encoded like the API returns them. */
export function secret(
  ns: string,
  name: string,
  data: Record<string, string>,
  type = 'Opaque',
  opts: CommonOptions = {},
): KubeObject {
  const encoded: Record<string, string> = {}
  for (const [k, v] of Object.entries(data)) encoded[k] = Buffer.from(v).toString('base64')
  return { apiVersion: 'v1', data: encoded, kind: 'Secret', metadata: meta(ns, name, opts, false), type }
}

export function replicationController(ns: string, name: string, opts: WorkloadOptions = {}): KubeObject {
  const labels = appLabels(name, opts)
  const replicas = opts.replicas ?? 1
  return {
    apiVersion: 'v1',
    kind: 'ReplicationController',
    metadata: meta(ns, name, { ...opts, labels }, true),
    spec: { replicas, selector: { ...labels }, template: podTemplate(opts, labels, 'Always') },
    status: {
      availableReplicas: replicas,
      fullyLabeledReplicas: replicas,
      observedGeneration: 1,
      readyReplicas: replicas,
      replicas,
    },
  }
}

function templateInputs(workload: KubeObject): PodOptions {
  const template = (
    workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template
  ) as {
    metadata: { labels?: Record<string, string> }
    spec: {
      containers: Array<{ image: string; name: string; imagePullPolicy: ContainerOptions['imagePullPolicy'] }>
      initContainers?: Array<{ image: string; name: string; restartPolicy?: 'Always' }>
      imagePullSecrets?: Array<{ name: string }>
      serviceAccountName?: string
      restartPolicy: PodOptions['restartPolicy']
    }
  }
  const spec = template.spec
  return {
    containers: spec.containers.map((c) => ({
      image: c.image,
      name: c.name,
      imagePullPolicy: c.imagePullPolicy,
    })),
    initContainers: spec.initContainers?.map((c) => ({
      image: c.image,
      name: c.name,
      restartPolicy: c.restartPolicy,
    })),
    imagePullSecrets: spec.imagePullSecrets?.map((s) => s.name),
    serviceAccountName: spec.serviceAccountName,
    restartPolicy: spec.restartPolicy,
    labels: { ...template.metadata.labels },
  }
}

/**
 * The workload followed by what its controllers would create: Deployment -> ReplicaSet + pods, StatefulSet ->
 * `name-0..n`, DaemonSet/ReplicaSet/ReplicationController -> pods, CronJob -> Job + pod, Job -> pod. Pods copy the
 * template's containers (statuses running, or terminated for finished Job pods); `pods` overrides the pod count
 * (default: spec.replicas, DaemonSet: status.desiredNumberScheduled, Job: 1). `podOptions` is merged into every pod.
 */
export function withPods(
  workload: KubeObject,
  opts: { pods?: number; podOptions?: PodOptions } = {},
): KubeObject[] {
  const ns = workload.metadata.namespace ?? 'default'
  const name = workload.metadata.name
  const created = workload.metadata.creationTimestamp ?? undefined
  const out: KubeObject[] = [workload]
  const makePods = (
    owner: KubeObject,
    names: string[],
    extraLabels: (n: string) => Record<string, string>,
  ) => {
    const base = templateInputs(owner)
    for (const podName of names) {
      const podOpts: PodOptions = {
        ...base,
        labels: { ...base.labels, ...extraLabels(podName) },
        owner,
        creationTimestamp: created,
        ...opts.podOptions,
      }
      if (owner.kind === 'Job' && owner.status?.succeeded) {
        podOpts.phase = 'Succeeded'
        podOpts.containers = (podOpts.containers ?? []).map((c) => ({
          ...toOptions(c),
          state: 'terminated',
          ready: false,
        }))
      }
      out.push(pod(ns, podName, podOpts))
    }
  }
  const random = (i: number, prefix: string) => `${prefix}-${suffix(`${ns}/${prefix}/${i}`, 5)}`
  const count = (fallback: number) => opts.pods ?? fallback
  switch (workload.kind) {
    case 'Deployment': {
      const hash = suffix(`${ns}/${name}/${JSON.stringify(workload.spec.template)}`, 10)
      const base = templateInputs(workload)
      const rs = replicaSet(ns, `${name}-${hash}`, {
        ...base,
        labels: { ...workload.spec.selector.matchLabels },
        podLabels: base.labels,
        replicas: workload.spec.replicas,
        owner: workload,
        creationTimestamp: created,
      })
      out.push(rs)
      const n = count(workload.spec.replicas ?? 1)
      makePods(
        rs,
        Array.from({ length: n }, (_, i) => random(i, rs.metadata.name)),
        () => ({ 'pod-template-hash': hash }),
      )
      break
    }
    case 'StatefulSet': {
      const n = count(workload.spec.replicas ?? 1)
      makePods(
        workload,
        Array.from({ length: n }, (_, i) => `${name}-${i}`),
        (p) => ({
          'apps.kubernetes.io/pod-index': p.slice(p.lastIndexOf('-') + 1),
          'controller-revision-hash': workload.status.currentRevision,
          'statefulset.kubernetes.io/pod-name': p,
        }),
      )
      break
    }
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'ReplicationController': {
      const fallback =
        workload.kind === 'DaemonSet'
          ? (workload.status.desiredNumberScheduled ?? 1)
          : (workload.spec.replicas ?? 1)
      const n = count(fallback)
      makePods(
        workload,
        Array.from({ length: n }, (_, i) => random(i, name)),
        (): Record<string, string> =>
          workload.kind === 'DaemonSet' ? { 'pod-template-generation': '1' } : {},
      )
      break
    }
    case 'Job': {
      makePods(
        workload,
        Array.from({ length: count(1) }, (_, i) => random(i, name)),
        () => ({}),
      )
      break
    }
    case 'CronJob': {
      const base = templateInputs(workload)
      const jobName = `${name}-${Math.floor(Date.parse(created ?? timestamp()) / 60_000)}`
      const j = job(ns, jobName, { ...base, labels: undefined, owner: workload, creationTimestamp: created })
      out.push(j)
      makePods(
        j,
        Array.from({ length: count(1) }, (_, i) => random(i, jobName)),
        () => ({}),
      )
      break
    }
    default:
      throw new Error(`withPods: unsupported kind ${workload.kind}`)
  }
  return out
}

const SYSTEM_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system']

/**
 * A cluster's objects: `objects` plus a Namespace for every namespace they use (and the system namespaces
 * default, kube-node-lease, kube-public, kube-system unless `systemNamespaces: false`) and the `default`
 * ServiceAccount of each namespace (unless `defaultServiceAccounts: false`). Objects given explicitly win.
 */
export function cluster(
  objects: KubeObject[],
  opts: { systemNamespaces?: boolean; defaultServiceAccounts?: boolean } = {},
): KubeObject[] {
  const namespaces = new Set<string>(opts.systemNamespaces === false ? [] : SYSTEM_NAMESPACES)
  for (const o of objects) {
    if (o.metadata.namespace) namespaces.add(o.metadata.namespace)
    if (o.kind === 'Namespace') namespaces.add(o.metadata.name)
  }
  const has = (kind: string, ns: string | undefined, name: string) =>
    objects.some((o) => o.kind === kind && o.metadata.namespace === ns && o.metadata.name === name)
  const out: KubeObject[] = []
  for (const ns of [...namespaces].sort()) {
    if (!has('Namespace', undefined, ns)) out.push(namespace(ns))
  }
  if (opts.defaultServiceAccounts !== false) {
    for (const ns of [...namespaces].sort()) {
      if (!has('ServiceAccount', ns, 'default')) out.push(serviceAccount(ns, 'default'))
    }
  }
  return [...out, ...objects]
}
