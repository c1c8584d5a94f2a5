/** Why a registry operation failed, in a form a report can show per image. */
export type RegistryErrorKind =
  | 'not-found'
  | 'unauthorized'
  | 'denied'
  | 'rate-limited'
  | 'unavailable'
  | 'timeout'
  | 'network'
  | 'protocol'
  | 'tls'
  | 'config'

/** One-line, credential-free error from talking to a registry. */
export class RegistryError extends Error {
  readonly kind: RegistryErrorKind
  readonly status?: number
  constructor(kind: RegistryErrorKind, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RegistryError'
    this.kind = kind
    if (options.status !== undefined) this.status = options.status
  }
}

/** Reads the first `errors[].code` / `message` of an OCI error body, if it is one. */
export function registryErrorDetail(body: Buffer | string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as unknown
    const first = (parsed as { errors?: unknown[] })?.errors?.[0] as
      | { code?: unknown; message?: unknown }
      | undefined
    if (!first || typeof first !== 'object') return {}
    return {
      ...(typeof first.code === 'string' ? { code: first.code } : {}),
      ...(typeof first.message === 'string' ? { message: first.message.slice(0, 200) } : {}),
    }
  } catch {
    return {}
  }
}
