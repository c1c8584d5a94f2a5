// esbuild: the whole CLI (src/main.ts and every dependency but typescript) as one ESM file that reads nothing from
// disk at run time (oclif's command map is pre-seeded in src/main.ts). See shared/reference/packaging.md §1.
// Usage: node scripts/bundle.ts [--no-minify] [--outfile build/kubectl-images.mjs]
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Metafile } from 'esbuild'
import { isMain } from './is-main.ts'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const DEFAULT_BUNDLE = join(ROOT, 'build', 'kubectl-images.mjs')

// ESM output with CommonJS dependencies (@oclif/core, undici): esbuild's `require` shim needs a real require.
const BANNER =
  "import { createRequire as __kiCreateRequire } from 'node:module'\nconst require = __kiCreateRequire(import.meta.url)"

export interface BundleOptions {
  outfile?: string
  /** Default true (what ships). Unminified keeps esbuild's module paths in the output (tests read them). */
  minify?: boolean
  /** Also write `<outfile>.meta.json` (esbuild metafile). */
  metafile?: boolean
}

export interface BundleResult {
  outfile: string
  bytes: number
  metafile: Metafile
}

export async function bundle(options: BundleOptions = {}): Promise<BundleResult> {
  const outfile = resolve(options.outfile ?? DEFAULT_BUNDLE)
  await mkdir(dirname(outfile), { recursive: true })
  const result = await build({
    stdin: {
      contents:
        "import { main } from './src/main.ts'\nmain().catch((error) => {\n  console.error(error)\n  process.exitCode = 1\n})\n",
      resolveDir: ROOT,
      sourcefile: 'kubectl-images-entry.ts',
      loader: 'ts',
    },
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    outfile,
    // @oclif/core's read-tsconfig requires typescript when installed: a dev-only path that would add ~10 MB.
    external: ['typescript'],
    banner: { js: BANNER },
    // A shipped CLI runs as production whatever the user's shell says; `bun build --compile --bytecode` would
    // otherwise inline "development" (oclif then warns about unparsed commands and enables its dev paths).
    define: { 'process.env.NODE_ENV': '"production"' },
    minify: options.minify ?? true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  })
  if (options.metafile) await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile))
  const bytes = Object.values(result.metafile.outputs)[0]?.bytes ?? 0
  return { outfile, bytes, metafile: result.metafile }
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--outfile')
  const started = performance.now()
  const { outfile, bytes } = await bundle({
    minify: !args.includes('--no-minify'),
    metafile: args.includes('--metafile'),
    ...(at >= 0 && args[at + 1] ? { outfile: args[at + 1] } : {}),
  })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  process.stderr.write(`bundle: ${outfile} (${(bytes / 1e6).toFixed(2)} MB, ${seconds} s)\n`)
}
