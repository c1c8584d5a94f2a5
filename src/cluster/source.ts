// Where images come from: a kube context or rendered manifests. One path for scan, pin and vector.
import { UserError } from '../util/errors.ts'
import type { LoadKubeConfigOptions } from './kubeconfig.ts'
import type { ContainerImage, ImageInventory, ReadWarning } from './types.ts'

/** The flags that choose and narrow the source (kubectl's names). */
export interface SourceRequest {
  kubeconfig?: string
  context?: string
  cluster?: string
  user?: string
  /** kubectl's --as, --as-group and --as-uid. */
  as?: string
  'as-group'?: string[]
  'as-uid'?: string
  namespace?: string
  'all-namespaces'?: boolean
  selector?: string
  'disable-compression'?: boolean
  filename?: string[]
  stdin?: NodeJS.ReadableStream
}

export type SecretReader = (
  namespace: string,
  names: string[],
  serviceAccountName?: string,
) => Promise<{ configs: unknown[]; warnings: ReadWarning[] }>

/** The kubeconfig flags (kubectl's --kubeconfig, --context, --cluster, --user, --as*) as loadKubeConfig takes them. */
export function kubeconfigFlags(request: SourceRequest): LoadKubeConfigOptions {
  return {
    kubeconfig: request.kubeconfig,
    context: request.context,
    cluster: request.cluster,
    user: request.user,
    impersonate: {
      ...(request.as ? { user: request.as } : {}),
      ...(request['as-group']?.length ? { groups: request['as-group'] } : {}),
      ...(request['as-uid'] ? { uid: request['as-uid'] } : {}),
    },
  }
}

/**
 * Reads the inventory, and (for a cluster) returns a reader for pull secrets. `onImages` sees rows early as
 * the cluster is read (see ReadClusterOptions); every row is in the inventory returned either way.
 */
export async function readInventory(
  request: SourceRequest,
  env: NodeJS.ProcessEnv,
  onImages?: (images: ContainerImage[]) => void,
  /** The run's deadline (--timeout): the cluster read stops with it too. */
  signal?: AbortSignal,
): Promise<{ inventory: ImageInventory; readSecrets?: SecretReader }> {
  if (request.filename?.length) {
    const { readManifests } = await import('./manifests.ts')
    const inventory = await readManifests(request.filename, {
      ...(request.stdin ? { stdin: request.stdin } : {}),
      ...(request.namespace ? { namespace: request.namespace } : {}),
    })
    return { inventory }
  }
  const [{ loadKubeConfig }, { readCluster, readPullSecretConfigs }] = await Promise.all([
    import('./kubeconfig.ts'),
    import('./read.ts'),
  ])
  const loaded = await loadKubeConfig({
    env,
    withoutCluster: 'use -f to scan manifests',
    ...kubeconfigFlags(request),
    disableCompression: Boolean(request['disable-compression']),
    ...(signal ? { signal } : {}),
  })
  const inventory = await readCluster(loaded.kc, {
    compression: loaded.compression,
    namespace: request.namespace ?? loaded.namespace,
    allNamespaces: Boolean(request['all-namespaces']),
    ...(request.selector ? { selector: request.selector } : {}),
    ...(onImages ? { onImages } : {}),
    ...(signal ? { signal } : {}),
  })
  inventory.context = loaded.context
  // Every list refused: an empty report would look like a clean cluster, so say what happened instead.
  if (inventory.images.length === 0 && !inventory.listed) {
    const where = request['all-namespaces']
      ? 'in any namespace'
      : `in namespace ${request.namespace ?? loaded.namespace}`
    throw new UserError(
      `could not read any workload ${where} with context ${loaded.context}: ${inventory.warnings[0]?.message}; check your RBAC permissions or pick a namespace with -n`,
    )
  }
  return {
    inventory,
    readSecrets: (namespace, names, serviceAccountName) =>
      readPullSecretConfigs(loaded.kc, namespace, names, serviceAccountName),
  }
}
