/**
 * An error the user can act on: one line saying what failed and what to do.
 * Commands print `message` (never a stack unless --debug) and exit with `exitCode`.
 */
export class UserError extends Error {
  readonly exitCode: number
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UserError'
    this.exitCode = options.exitCode ?? 1
  }
}

/** Exit codes shared by every command (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** at least one image, file or request failed */
  failure: 1,
  /** bad flags or arguments */
  usage: 2,
} as const

/** A URL as it may appear in a message: without a user or password in it (`https://admin:pw@host` -> `https://host`). */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1')
}
