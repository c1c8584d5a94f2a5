// Pull secrets as registry credentials (opt-in, `--use-pull-secrets`): the workloads' imagePullSecrets and
// their ServiceAccounts', matched to repositories as kubelet's keyring does. Shared by scan and pin.
import type { SecretReader } from '../cluster/source.ts'
import type { ContainerImage, ReadWarning } from '../cluster/types.ts'
import { parseImageReference } from '../reference/index.ts'
import type { RegistryClient } from './client.ts'

/**
 * Hands each repository the credentials kubelet would use for it: the first matching entry of the
 * workload's pull secrets (and its ServiceAccount's), matched like Kubernetes' keyring.
 */
export async function applyPullSecrets(
  images: ContainerImage[],
  client: RegistryClient,
  readSecrets: SecretReader,
): Promise<ReadWarning[]> {
  const { Keyring, parseKeyringConfig } = await import('./keyring.ts')
  const warnings: ReadWarning[] = []
  const keyrings = new Map<string, Promise<InstanceType<typeof Keyring> | undefined>>()
  const applied = new Set<string>()
  for (const usage of images) {
    const namespace = usage.workload.namespace ?? 'default'
    const account = usage.serviceAccountName ?? 'default'
    const key = `${namespace}\u0000${account}\u0000${usage.imagePullSecrets.join(',')}`
    let keyring = keyrings.get(key)
    if (!keyring) {
      keyring = readSecrets(namespace, usage.imagePullSecrets, account).then(({ configs, warnings: w }) => {
        warnings.push(...w)
        if (configs.length === 0) return undefined
        const ring = new Keyring()
        for (const config of configs) {
          try {
            ring.add(parseKeyringConfig(config, `a pull secret in namespace ${namespace}`))
          } catch (error) {
            warnings.push({ namespace, message: (error as Error).message })
          }
        }
        return ring
      })
      keyrings.set(key, keyring)
    }
    const ring = await keyring
    if (!ring) continue
    let ref: ReturnType<typeof parseImageReference>
    try {
      ref = parseImageReference(usage.image.trim())
    } catch {
      continue
    }
    // kubelet tries every match until a pull works; we use the most specific one.
    const match = ring.lookup(ref.name)[0]
    if (!match || applied.has(ref.name)) continue
    applied.add(ref.name)
    client.useCredentials(
      { domain: ref.domain, path: ref.path },
      { username: match.credentials.username, password: match.credentials.password },
      `pull secrets of ${namespace}/${usage.workload.kind}/${usage.workload.name} (${match.key})`,
    )
  }
  return warnings
}

export interface PullSecretsRequest {
  'use-pull-secrets'?: boolean
}

/** applyPullSecrets when the user asked for it and the images come from a cluster; else nothing. */
export async function applyPullSecretsIfAsked(
  request: PullSecretsRequest,
  images: ContainerImage[],
  client: RegistryClient,
  readSecrets: SecretReader | undefined,
): Promise<ReadWarning[]> {
  if (!request['use-pull-secrets'] || !readSecrets) return []
  return applyPullSecrets(images, client, readSecrets)
}
