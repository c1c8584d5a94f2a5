import { Command, Flags } from '@oclif/core'
import { ExitCode } from '../util/errors.ts'

/**
 * Shared error handling: one line on stderr saying what failed, a non-zero exit code, and the
 * stack only with --debug. Commands set `process.exitCode` rather than exiting, so output flushes.
 */
export abstract class BaseCommand extends Command {
  static override baseFlags = {
    debug: Flags.boolean({
      description: 'Print stack traces and request details on errors.',
      helpGroup: 'GLOBAL',
    }),
  }

  protected debugEnabled(): boolean {
    return this.argv.includes('--debug')
  }

  protected override async catch(
    error: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<void> {
    // A write to a closed pipe (`| head`; Bun throws it from write): the reader has what it wanted.
    if ((error as { code?: unknown }).code === 'EPIPE') return
    const exit = error.exitCode ?? error.oclif?.exit ?? ExitCode.failure
    process.stderr.write(`error: ${errorLine(error)}\n`)
    if (this.debugEnabled() && error.stack) process.stderr.write(`${error.stack}\n`)
    else if (!isExpected(error)) process.stderr.write('(run again with --debug for details)\n')
    process.exitCode = exit
  }
}

/**
 * An error as one line. oclif's parse errors are several ("Parsing --concurrency", the reason on the next,
 * "See more help with --help"): the reason is kept, the help hint dropped.
 */
export function errorLine(error: Error): string {
  const lines = (error.message || String(error))
    .split('\n')
    .map((line) => line.trim())
    // oclif's hints about greedy multi-value flags no longer apply: each use of those takes one value.
    .filter((line) => line && !/^(See more help with --help|Note: |Alternatively, )/.test(line))
  const text = lines
    .join(': ')
    .replace(/^Error: /, '')
    .replace(/:\s*:/g, ':')
  // An unknown command (`kubectl images foo`, `scan extra`): say so in kubectl's words.
  const unknown = /^command (\S+) not found$/.exec(text)
  if (unknown) {
    const what = unknown[1]!.replaceAll(':', ' ')
    return `unknown ${what.startsWith('-') ? 'flag' : 'command'} "${what}"; run kubectl images --help`
  }
  return text
}

const EXPECTED = new Set([
  'UserError',
  'RegistryError',
  'PolicySyntaxError',
  'PolicyError',
  'InvalidReferenceError',
  'CLIError',
])

function isExpected(error: Error & { oclif?: unknown }): boolean {
  return EXPECTED.has(error.name) || error.oclif !== undefined
}

/** The longest delay a timer takes (2^31 - 1 ms, about 596 hours): a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A duration that bounds waiting: at least 1 ms (0 would fail everything) and at most what a timer takes. */
export function parseTimeout(text: string, flag: string): number {
  const ms = parseDuration(text, flag)
  if (ms < 1 || ms > MAX_TIMER_MS) throw new Error(`--${flag} must be between 1ms and 596h (got "${text}")`)
  return Math.round(ms)
}

/** Parses a duration like `30s`, `5m`, `1h30m` or `1500ms` into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/.test(text.trim())
  if (!match) throw new Error(`--${flag} takes a duration such as 30s, 5m or 1h (got "${text}")`)
  let total = 0
  for (const part of text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    const value = Number(part[1])
    total += value * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[part[2] as 'ms' | 's' | 'm' | 'h']
  }
  return total
}
