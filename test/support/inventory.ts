// A container of an inventory, as readCluster or readManifests report it, for tests that start from one.
import type { ContainerImage } from '../../src/cluster/types.ts'

/** Deployment `name` in namespace `namespace` running `image` in its container `container`. */
export function containerImage(
  name: string,
  image: string,
  extra: Partial<ContainerImage> & { namespace?: string } = {},
): ContainerImage {
  const { namespace = 'shop', ...rest } = extra
  return {
    workload: { kind: 'Deployment', apiVersion: 'apps/v1', namespace, name },
    container: 'main',
    containerKind: 'container',
    image,
    annotations: {},
    runningDigests: [],
    pods: 1,
    imagePullSecrets: [],
    ...rest,
  }
}
