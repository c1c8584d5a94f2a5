import { Flags } from '@oclif/core'
// Type-only imports: help and --version must not load undici (the client is imported in setupRegistry).
import type { RegistryAccess, RegistryClient } from '../registry/client.ts'
import type { TagExclusions } from '../registry/exclude.ts'
import { UserError } from '../util/errors.ts'
import { proxyFromEnv } from '../util/proxy.ts'
import { parseDuration, parseTimeout } from './base.ts'

/** Flags every command that talks to registries shares. */
export const registryFlags = {
  exclude: Flags.string({
    description:
      'Drop tags matching this regular expression (RE2 syntax, unanchored); adds to the default list.',
    multiple: true,
    multipleNonGreedy: true,
    helpGroup: 'REGISTRY',
  }),
  'no-default-excludes': Flags.boolean({
    description: 'Do not drop cosign signature, attestation and SBOM tags (sha256-*, *.sig, *.att, *.sbom).',
    helpGroup: 'REGISTRY',
  }),
  insecure: Flags.boolean({
    description: 'Talk plain HTTP to registries (per registry: KUBECTL_IMAGES_REGISTRY_<N>_INSECURE).',
    helpGroup: 'REGISTRY',
  }),
  'insecure-skip-tls-verify': Flags.boolean({
    description: 'Do not verify registry TLS certificates.',
    helpGroup: 'REGISTRY',
  }),
  'ca-file': Flags.string({ description: 'PEM file of CAs to trust for registries.', helpGroup: 'REGISTRY' }),
  'request-timeout': Flags.string({
    description: 'Time allowed for one registry request.',
    default: '30s',
    helpGroup: 'REGISTRY',
  }),
  timeout: Flags.string({
    description: 'Time allowed for the whole run.',
    default: '5m',
    helpGroup: 'REGISTRY',
  }),
  concurrency: Flags.integer({
    description: 'Requests in flight per registry host.',
    // Fewer left a local registry idle while the scan parsed cluster pages (16: 1.26-1.39x the floor, 64:
    // 1.10-1.28x; docs/benchmarks.md), and a distant one is latency-bound. After a 429 the host is paused.
    default: 64,
    min: 1,
    // More would not be used: a scan resolves at most 64 repositories at once.
    max: 64,
    helpGroup: 'REGISTRY',
  }),
  retries: Flags.integer({
    description: 'Retries for 408/429/5xx answers and broken connections.',
    default: 4,
    min: 0,
    max: 10,
    helpGroup: 'REGISTRY',
  }),
}

/** The tag-list disk cache (scan and vector). */
export const cacheFlags = {
  'cache-ttl': Flags.string({
    description: 'How long tag lists are cached on disk.',
    default: '15m',
    helpGroup: 'REGISTRY',
  }),
  'no-cache': Flags.boolean({
    description: 'Do not read or write the tag-list cache.',
    helpGroup: 'REGISTRY',
  }),
}

/** The cache TTL the flags ask for, in ms; 0 with --no-cache. Exit code 2 on a bad duration. */
export function cacheTtlMs(flags: { 'cache-ttl': string; 'no-cache'?: boolean }): number {
  if (flags['no-cache']) return 0
  try {
    return parseDuration(flags['cache-ttl'], 'cache-ttl')
  } catch (error) {
    throw new UserError((error as Error).message, { exitCode: 2 })
  }
}

export interface RegistryFlagValues {
  exclude?: string[]
  'no-default-excludes'?: boolean
  insecure?: boolean
  'insecure-skip-tls-verify'?: boolean
  'ca-file'?: string
  'request-timeout': string
  timeout: string
  concurrency: number
  retries: number
}

export interface RegistrySetup {
  client: RegistryClient
  exclusions: TagExclusions
  signal: AbortSignal
}

/** A duration flag in milliseconds; a bad value is a usage error (exit code 2). */
function durationFlag(value: string, name: string): number {
  try {
    return parseTimeout(value, name)
  } catch (error) {
    throw new UserError((error as Error).message, { exitCode: 2 })
  }
}

/** The run's deadline (--timeout), counted from now: for a command that reads the cluster before the registry. */
export function runDeadline(flags: Pick<RegistryFlagValues, 'timeout'>): AbortSignal {
  return AbortSignal.timeout(durationFlag(flags.timeout, 'timeout'))
}

/** Builds the registry client from flags, environment and docker config; `deadline` if the run has one already. */
export async function setupRegistry(
  flags: RegistryFlagValues,
  version: string,
  deadline?: AbortSignal,
): Promise<RegistrySetup> {
  const [{ RegistryClient }, { resolveRegistryAccess }, { TagExclusions }] = await Promise.all([
    import('../registry/client.ts'),
    import('../registry/credentials.ts'),
    import('../registry/exclude.ts'),
  ])
  let exclusions: TagExclusions
  try {
    exclusions = new TagExclusions(flags.exclude ?? [], { defaults: !flags['no-default-excludes'] })
  } catch (error) {
    throw new UserError(`invalid --exclude pattern: ${(error as Error).message}`, { exitCode: 2 })
  }
  const requestTimeoutMs = durationFlag(flags['request-timeout'], 'request-timeout')
  const signal = deadline ?? runDeadline(flags)
  const access = async (domain: string): Promise<RegistryAccess> => {
    let resolved: Awaited<ReturnType<typeof resolveRegistryAccess>>
    try {
      resolved = await resolveRegistryAccess(domain, { env: process.env })
    } catch (error) {
      throw new UserError((error as Error).message)
    }
    const caFile = resolved.caFile ?? flags['ca-file']
    return {
      ...(resolved.credentials ? { credentials: resolved.credentials } : {}),
      insecure: Boolean(flags.insecure) || resolved.insecure,
      skipTlsVerify: Boolean(flags['insecure-skip-tls-verify']) || resolved.skipTlsVerify,
      ...(caFile ? { caFile } : {}),
      source: resolved.source,
    }
  }
  const proxy = proxyFromEnv(process.env)
  const client: RegistryClient = new RegistryClient({
    access,
    http: {
      requestTimeoutMs,
      retries: flags.retries,
      concurrencyPerHost: flags.concurrency,
      userAgent: `kubectl-images/${version}`,
      ...(proxy ? { proxy } : {}),
    },
  })
  return { client, exclusions, signal }
}
