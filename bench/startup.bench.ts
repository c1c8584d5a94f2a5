// Start-up of the release executable versus kubectl itself: `kubectl-images --version` and `--help` from the
// linux-amd64 single executable (built here exactly as scripts/pkg builds it) against `kubectl version --client`,
// wall time (median, runs interleaved so machine noise hits every variant alike) and peak RSS (GNU time %M).
// Also the same bundle on plain Node 24, and the unbundled dev entry, for contrast. Prints Markdown.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { bundle } from '../scripts/bundle.ts'
import { isMain } from '../scripts/is-main.ts'
import { bunRuntime, COMPLETE_SH, compile, TARGETS } from '../scripts/pkg.ts'

const KUBECTL = existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : 'kubectl'
const GNU_TIME = '/usr/bin/time'
const RUNS = 20
const RSS_RUNS = 5
const WARMUP = 3

interface Variant {
  label: string
  argv: string[]
  /** Compared with the goal (<= 1.0x kubectl wall, <= 1.5x RSS). */
  goal?: boolean
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

// CPU time of waited-for children (user + system), from /proc/self/stat (Linux; clock ticks). Unlike wall time it
// barely grows when other work competes for the CPUs, so its ratio is the steadier one on a busy machine.
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100
function childCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK
  } catch {
    return undefined
  }
}

function spawnOk(argv: string[], env: NodeJS.ProcessEnv): void {
  const run = spawnSync(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] })
  if (run.status !== 0) throw new Error(`bench: ${argv.join(' ')} failed (${run.status}): ${run.stderr}`)
}

function peakRssKiB(argv: string[], env: NodeJS.ProcessEnv): number | undefined {
  if (!existsSync(GNU_TIME)) return undefined
  const samples: number[] = []
  for (let i = 0; i < RSS_RUNS; i++) {
    const run = spawnSync(GNU_TIME, ['-f', '%M', ...argv], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    const kib = Number(run.stderr.trim().split('\n').at(-1))
    if (run.status !== 0 || !Number.isFinite(kib)) throw new Error(`bench: ${argv.join(' ')}: ${run.stderr}`)
    samples.push(kib)
  }
  return median(samples)
}

export async function benchStartup(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-images-startup-bench-'))
  const load = loadavg()[0]!.toFixed(1)
  try {
    const target = TARGETS['linux-amd64']!
    const buildStart = performance.now()
    const { outfile, bytes } = await bundle({ outfile: join(dir, 'kubectl-images.mjs') })
    const bundleSeconds = (performance.now() - buildStart) / 1000
    const runtime = await bunRuntime(target)
    const compileStart = performance.now()
    const exe = join(dir, 'bin', 'kubectl-images')
    await compile(target, outfile, exe, runtime)
    const compileSeconds = (performance.now() - compileStart) / 1000
    await writeFile(join(dir, 'bin', 'kubectl_complete-images'), COMPLETE_SH, { mode: 0o755 })
    const env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, NO_COLOR: '1' }
    const node = process.execPath
    const devEntry = fileURLToPath(new URL('../bin/run.js', import.meta.url))

    const variants: Variant[] = [
      { label: '`kubectl version --client` (reference)', argv: [KUBECTL, 'version', '--client'] },
      { label: 'executable `kubectl-images --version`', argv: [exe, '--version'], goal: true },
      { label: 'executable `kubectl-images --help`', argv: [exe, '--help'], goal: true },
      {
        label: '`kubectl images --version` (kubectl finds and execs the plugin)',
        argv: [KUBECTL, 'images', '--version'],
      },
      { label: '`kubectl images --help` (through kubectl)', argv: [KUBECTL, 'images', '--help'] },
      { label: 'bundle on Node 24: `node kubectl-images.mjs --version`', argv: [node, outfile, '--version'] },
      { label: 'bundle on Node 24: `node kubectl-images.mjs --help`', argv: [node, outfile, '--help'] },
      {
        label: 'unbundled dev entry on Node 24: `bin/run.js --version`',
        argv: [node, devEntry, '--version'],
      },
    ]
    for (const v of variants) for (let i = 0; i < WARMUP; i++) spawnOk(v.argv, env)
    const wall = new Map<Variant, number[]>(variants.map((v) => [v, []]))
    const cpu = new Map<Variant, number>(variants.map((v) => [v, 0]))
    for (let i = 0; i < RUNS; i++) {
      for (const v of variants) {
        const cpuBefore = childCpuMs() ?? Number.NaN
        const start = performance.now()
        spawnOk(v.argv, env)
        wall.get(v)!.push(performance.now() - start)
        cpu.set(v, cpu.get(v)! + ((childCpuMs() ?? Number.NaN) - cpuBefore))
      }
    }
    const cpuMean = (v: Variant) => cpu.get(v)! / RUNS
    const rss = new Map(variants.map((v) => [v, peakRssKiB(v.argv, env)]))

    const ref = variants[0]!
    const refWall = median(wall.get(ref)!)
    const refRss = rss.get(ref)
    const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : (kib / 1024).toFixed(1))
    const rows = variants.map((v) => {
      const w = median(wall.get(v)!)
      const r = rss.get(v)
      const c = cpuMean(v)
      return `| ${v.label} | ${w.toFixed(1)} | ${(w / refWall).toFixed(2)} | ${c.toFixed(1)} | ${(c / cpuMean(ref)).toFixed(2)} | ${mib(r)} | ${
        r !== undefined && refRss ? (r / refRss).toFixed(2) : 'n/a'
      } |`
    })
    const goals = variants
      .filter((v) => v.goal)
      .map((v) => {
        const wallRatio = median(wall.get(v)!) / refWall
        const r = rss.get(v)
        const rssRatio = r !== undefined && refRss ? r / refRss : undefined
        const ok = wallRatio <= 1.0 && (rssRatio === undefined || rssRatio <= 1.5)
        const cpuRatio = cpuMean(v) / cpuMean(ref)
        return `- ${v.label}: wall ${wallRatio.toFixed(2)}x (goal <= 1.0x; CPU ${cpuRatio.toFixed(2)}x), RSS ${
          rssRatio === undefined ? 'n/a' : `${rssRatio.toFixed(2)}x`
        } (goal <= 1.5x): ${ok ? 'met' : 'NOT met'}`
      })
    const kubectlVersion = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).stdout.split(
      '\n',
    )[0]
    return [
      `### Start-up: the linux-amd64 executable vs kubectl (${RUNS} interleaved runs each; RSS median of ${RSS_RUNS})`,
      '',
      '| variant | wall ms (median) | ratio to kubectl | CPU ms (user+sys, mean) | CPU ratio | peak RSS MiB | RSS ratio |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      ...goals,
      '',
      `Executable: esbuild bundle ${(bytes / 1e6).toFixed(2)} MB (${bundleSeconds.toFixed(1)} s), \`bun build --compile --bytecode\` ` +
        `with ${target.bunPackage} (${compileSeconds.toFixed(1)} s). kubectl: ${kubectlVersion}. Through kubectl adds ` +
        "kubectl's own start-up and plugin lookup to ours; the goal compares the executable with kubectl. " +
        `Load average when the run started: ${load}; absolute times grow with it, so read the ratios.`,
      '',
    ].join('\n')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) process.stdout.write(await benchStartup())
