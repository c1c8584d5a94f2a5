// Single-file oclif entry: the command map is pre-seeded so nothing is read from disk at run time
// (needed for the esbuild bundle and the single executables; see shared/reference/packaging.md).
import { dirname } from 'node:path'
import { flush, type Interfaces, Plugin, run } from '@oclif/core'
import pkg from '../package.json' with { type: 'json' }
import { COMMANDS } from './commands/index.ts'

export async function loadOptions(): Promise<Interfaces.Options> {
  const pjson = { name: pkg.name, version: pkg.version, oclif: pkg.oclif } as unknown as Interfaces.PJSON
  const root = dirname(process.execPath)
  const plugin = new Plugin({ ignoreManifest: true, isRoot: true, pjson, root })
  ;(plugin as unknown as { commandCache: unknown }).commandCache = COMMANDS
  await plugin.load()
  return { pjson, plugins: new Map([[pjson.name, plugin]]), root } as unknown as Interfaces.Options
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  // The reader of our output went away (`| head`): stop quietly, as kubectl does, rather than leave a
  // pending write behind or print an error about the pipe.
  // oclif's own listener rethrows every error but EPIPE (a stack trace): ours replaces it.
  process.stdout.removeAllListeners('error')
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    // Any other failure to write the output (a full disk, /dev/full): one line, and not a success.
    process.stderr.write(`error: cannot write the output: ${error.code ?? error.message}\n`)
    process.exit(1)
  })
  // `kubectl images help scan` as `scan --help` (no help plugin is loaded).
  const args = argv[0] === 'help' ? [...argv.slice(1), '--help'] : argv
  try {
    // The single executable runs on Bun, whose process.version is the Node version it emulates: oclif's
    // version line would name that Node. Ours names the runtime that runs.
    const bun = (process.versions as { bun?: string }).bun
    if (bun && args.length === 1 && args[0] === '--version') {
      process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} bun-v${bun}\n`)
      return
    }
    await run(args, await loadOptions())
    await flush()
  } catch (error) {
    // What the commands' own catch did not see (an unknown command or flag before any command ran): one
    // line too. oclif's exit (help, --version) is an error with exit code 0 and nothing to say.
    const e = error as Error & { oclif?: { exit?: number }; code?: string }
    const exit = e.oclif?.exit ?? 1
    if (e.code !== 'EEXIT' && exit !== 0) {
      const { errorLine } = await import('./cli/base.ts')
      process.stderr.write(`error: ${errorLine(e)}\n`)
    }
    process.exitCode = exit
  }
}
