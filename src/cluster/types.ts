/** Where an image is used: one container of one workload, as read from a cluster or manifests. */
export type ContainerKind = 'container' | 'init' | 'ephemeral'

export interface WorkloadRef {
  /** Deployment, StatefulSet, DaemonSet, CronJob, Job, ReplicaSet, ReplicationController, Pod, ... */
  kind: string
  apiVersion: string
  /** Undefined for manifests without a namespace (the scan reports them under the default namespace). */
  namespace?: string
  name: string
}

export interface ContainerImage {
  workload: WorkloadRef
  container: string
  containerKind: ContainerKind
  /** The image exactly as written in the pod template / pod spec. */
  image: string
  /** The workload's own metadata.annotations (policy annotations live here). */
  annotations: Record<string, string>
  /**
   * Digests (`sha256:<hex>`, without the repository) the workload's pods really run for this container,
   * from status imageID; sorted, de-duplicated.
   */
  runningDigests: string[]
  /** Pods of this workload that were seen (0 for manifests or when none run). */
  pods: number
  /** Names of the pod spec's imagePullSecrets (in the workload's namespace). */
  imagePullSecrets: string[]
  /** Undefined when the pod template names none, which Kubernetes treats as `default`. */
  serviceAccountName?: string
}

/** Something that could not be read, reported beside the results instead of failing the scan. */
export interface ReadWarning {
  /** A Kind name: Deployment, Namespace, Secret, ServiceAccount... */
  kind?: string
  namespace?: string
  message: string
}

export interface ImageInventory {
  source: 'cluster' | 'manifests'
  /** The kube context read from (cluster source). */
  context?: string
  /** Cluster source: whether any list request succeeded (else everything was refused). */
  listed?: boolean
  images: ContainerImage[]
  warnings: ReadWarning[]
}
