// `kubectl images scan -A` over 2,000 workloads referencing 300 repositories x 200 tags on the local registry,
// versus the floor (the same 300 tags/list GETs fired concurrently by a minimal undici script) and a sequential
// `skopeo list-tags` loop; plus the tag-list requests of a second run inside the cache TTL, counted by a recording
// proxy. Prints a Markdown table; ratios, not absolute times.
//
// The test Kubernetes API server runs in a worker thread, so its JSON serialization does not share the event loop
// with the in-process scan. Set SCAN_BENCH_CPU_PROF=DIR to also write CPU profiles of one in-process scan and one
// CLI run (`--cpu-prof`) there, with a self-time summary on stderr.
import { execFile, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { Parser } from '@oclif/core'
import { Agent, request } from 'undici'
import { isMain } from '../scripts/is-main.ts'
import { setupRegistry } from '../src/cli/registry-flags.ts'
import { loadKubeConfig } from '../src/cluster/kubeconfig.ts'
import { readCluster } from '../src/cluster/read.ts'
import Scan from '../src/commands/scan.ts'
import { TagLookup } from '../src/latest/lookup.ts'
import { API_VERSION } from '../src/render/output.ts'
import { collectScan, type ScanOutcome, type ScanRequest } from '../src/scan/run.ts'
import { runCli } from '../test/support/cli.ts'
import {
  type ContainerOptions,
  cluster,
  cronJob,
  daemonSet,
  deployment,
  type KubeObject,
  statefulSet,
  withPods,
} from '../test/support/kube-fixtures.ts'
import { makeTempDir } from '../test/support/lifecycle.ts'
import { startFaultProxy } from '../test/support/proxy.ts'
import { startRegistry, type TestRegistry } from '../test/support/registry.ts'

// SCAN_BENCH_QUICK=1: a small version to try the bench itself (not for docs/benchmarks.md).
const QUICK = process.env.SCAN_BENCH_QUICK === '1'
const WORKLOADS = QUICK ? 200 : 2000
const NAMESPACES = 20
const REPOS = QUICK ? 30 : 300
const TAGS_PER_REPO = QUICK ? 40 : 200
/** Pods (via withPods) for every workload: one pod each, plus the ReplicaSets and Jobs their controllers make. */
const PODS_EVERY = 1
// The floor (300 connections opened at once) swings by a quarter between runs on these machines: many runs.
const IN_PROCESS_RUNS = QUICK ? 2 : 15
/** Runs of the CLI, the executable and start-up. */
const RUNS = QUICK ? 2 : 9
const SKOPEO_RUNS = QUICK ? 1 : 3
/** Runs of the floor and of the scan each right after a CLI process (the arrangement the bench once had). */
const AFTER_CLI_RUNS = QUICK ? 1 : 5
const FLOOR_GOAL = 1.3
const SKOPEO_GOAL = 10
/** What users run (`scripts/pkg linux-amd64`); measured when it has been built. */
const EXECUTABLE = fileURLToPath(new URL('../dist/bin/linux-amd64/kubectl-images', import.meta.url))

export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
).version

/** CPU time of the calling thread. */
function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage()
  return (user + system) / 1000
}

/** CPU time of this process, all threads (main, the API server's worker, GC helpers, libuv's pool). */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** CPU time of another process, all its threads, from /proc (Linux; NaN elsewhere). */
export function pidCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    let ns = 0
    for (const task of readdirSync(`/proc/${pid}/task`))
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    return ns / 1e6
  } catch {
    return Number.NaN
  }
}

/**
 * Waits until a process has used under 1 ms of CPU in 50 ms (at most 3 s), so a timed run does not pay for
 * work the previous run left behind in it (a garbage collection, closing connections).
 */
export async function settled(pid: number | undefined): Promise<void> {
  const deadline = performance.now() + 3000
  let last = pidCpuMs(pid)
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const now = pidCpuMs(pid)
    if (!(now - last >= 1)) return
    last = now
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

export function repoName(i: number): string {
  return `bench/svc-${String(i).padStart(3, '0')}`
}

/** `1.0.0` ... `1.(n/20-1).19`: twenty patches per minor, newest last. */
export function benchTags(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `1.${Math.floor(i / 20)}.${i % 20}`)
}

/** Pushes every repository with the same tags (one shared manifest per repository), 4 repositories at a time. */
export async function seedRegistry(registry: TestRegistry, repos: string[], tags: string[]): Promise<number> {
  const start = performance.now()
  let next = 0
  const worker = async () => {
    while (next < repos.length) {
      const repo = repos[next++]!
      await registry.pushTags(repo, tags, { distinct: false, concurrency: 8 })
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return performance.now() - start
}

/**
 * A real registry holding `repoCount` repositories of `tagCount` bench tags each, on filesystem storage in a
 * temporary root as the tests run it. Not in-memory storage: its 60,000 tags live on the registry's Go heap
 * (~200 MB), and collecting that heap was ~85% of the registry's CPU per tag list, landing in whichever timed
 * run crossed the heap goal (gctrace showed ~300 ms of GC CPU per 300 tag lists, ±30% between runs).
 */
export async function startSeededRegistry(
  repoCount: number,
  tagCount: number,
): Promise<{ registry: TestRegistry; repos: string[]; tags: string[]; seedMs: number }> {
  const registry = await startRegistry({ auth: 'none', storage: 'filesystem' })
  const repos = Array.from({ length: repoCount }, (_, i) => repoName(i))
  const tags = benchTags(tagCount)
  const seedMs = await seedRegistry(registry, repos, tags).catch(async (error: unknown) => {
    await registry.stop()
    throw error
  })
  process.stderr.write(`seeded ${repoCount} x ${tagCount} tags in ${(seedMs / 1000).toFixed(1)} s\n`)
  return { registry, repos, tags, seedMs }
}

/** CPU milliseconds per party during one timed run. */
interface CpuSplit {
  registry: number
  api: number
  main: number
  helpers: number
}

export interface ClusterSpec {
  workloads: number
  namespaces: number
  /** Registry host the images name (the registry, or a proxy in front of it). */
  host: string
  repos: number
  tags: string[]
  /** withPods for every n-th workload (1: all, 0: none). */
  podsEvery: number
}

/** The containers of workload i: every workload one, every fourth a sidecar, every tenth an init container. */
export function workloadContainers(
  spec: ClusterSpec,
  i: number,
): { containers: ContainerOptions[]; initContainers: ContainerOptions[] } {
  const image = (r: number, t: number) =>
    `${spec.host}/${repoName(r % spec.repos)}:${spec.tags[t % spec.tags.length]}`
  const containers: ContainerOptions[] = [{ name: 'app', image: image(i, i * 37) }]
  if (i % 4 === 1) containers.push({ name: 'sidecar', image: image(i * 7 + 3, i * 11 + 5) })
  const initContainers: ContainerOptions[] =
    i % 10 === 3 ? [{ name: 'init', image: image(i * 13 + 1, i * 3) }] : []
  return { containers, initContainers }
}

/** Rows a scan must report: one per (workload, container). */
export function expectedRows(spec: ClusterSpec): number {
  let rows = 0
  for (let i = 0; i < spec.workloads; i++) {
    const { containers, initContainers } = workloadContainers(spec, i)
    rows += containers.length + initContainers.length
  }
  return rows
}

/** Half Deployments, a fifth StatefulSets, a tenth DaemonSets, a fifth CronJobs, spread over the namespaces. */
export function workloadObjects(spec: ClusterSpec, withPodObjects: boolean): KubeObject[] {
  const out: KubeObject[] = []
  for (let i = 0; i < spec.workloads; i++) {
    const ns = `team-${String(i % spec.namespaces).padStart(2, '0')}`
    const id = String(i).padStart(4, '0')
    const opts = workloadContainers(spec, i)
    const k = i % 10
    const workload =
      k < 5
        ? deployment(ns, `web-${id}`, opts)
        : k < 7
          ? statefulSet(ns, `db-${id}`, opts)
          : k < 8
            ? daemonSet(ns, `agent-${id}`, opts)
            : cronJob(ns, `job-${id}`, opts)
    if (withPodObjects && spec.podsEvery > 0 && i % spec.podsEvery === 0) out.push(...withPods(workload))
    else out.push(workload)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// The test Kubernetes API server in a worker thread

export interface KubeApiWorker {
  url: string
  /** Kubeconfig YAML (bearer token, the server's CA). */
  kubeconfig: string
  /** Objects served (workloads, ReplicaSets, Jobs, pods, namespaces, service accounts). */
  objects: number
  pods: number
  /** Building the objects and starting the server, in the worker. */
  setupMs: number
  /** CPU time the server's thread has used so far. */
  cpuMs(): Promise<number>
  stop(): Promise<void>
}

interface KubeApiReady {
  url: string
  kubeconfig: string
  objects: number
  pods: number
  setupMs: number
}

export async function startKubeApiWorker(spec: ClusterSpec): Promise<KubeApiWorker> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: 'kube-api', spec } })
  const exited = once(worker, 'exit')
  const ready = await new Promise<KubeApiReady>((resolve, reject) => {
    worker.once('message', (message: KubeApiReady) => resolve(message))
    worker.once('error', reject)
    void exited.then(([code]) => reject(new Error(`kube-api worker exited with code ${code}`)))
  })
  let stopped: Promise<void> | undefined
  return {
    ...ready,
    cpuMs() {
      const answer = new Promise<number>((resolve) =>
        worker.once('message', (message: { cpuMs: number }) => resolve(message.cpuMs)),
      )
      worker.postMessage('cpu')
      return answer
    },
    stop() {
      stopped ??= (async () => {
        worker.postMessage('stop')
        const timer = setTimeout(() => void worker.terminate(), 5000)
        await exited
        clearTimeout(timer)
      })()
      return stopped
    },
  }
}

async function serveKubeApi(spec: ClusterSpec): Promise<void> {
  const { startKubeApi } = await import('../test/support/kube-api.ts')
  const start = performance.now()
  const objects = cluster(workloadObjects(spec, true))
  // Pages come from a cache after the warm-up run: see cacheResponses.
  const api = await startKubeApi({ objects, tokens: { 'bench-token': 'bench' }, cacheResponses: true })
  const ready: KubeApiReady = {
    url: api.url,
    kubeconfig: api.kubeconfig({ user: 'token', token: 'bench-token', context: 'bench' }),
    objects: objects.length,
    pods: objects.filter((o) => o.kind === 'Pod').length,
    setupMs: performance.now() - start,
  }
  parentPort!.postMessage(ready)
  parentPort!.on('message', (message) => {
    if (message === 'cpu') parentPort!.postMessage({ cpuMs: threadCpuMs() })
    if (message !== 'stop') return
    void api.stop().finally(() => process.exit(0))
  })
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profile summary

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

/** Self time per function and per file (or bucket: node_modules package, Node internals, GC, idle). */
export function summarizeProfile(profile: {
  nodes: ProfileNode[]
  samples?: number[]
  timeDeltas?: number[]
}): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  let total = 0
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!)
    const us = deltas[i + 1] ?? deltas[i] ?? 0
    if (!node) continue
    total += us
    const { functionName, url, lineNumber } = node.callFrame
    const where = url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '')
    const bucket = !where
      ? `(${functionName || 'anonymous'})`
      : where.startsWith('node:')
        ? 'node: internals'
        : where.includes('node_modules/')
          ? `node_modules/${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1]}`
          : where
    file.set(bucket, (file.get(bucket) ?? 0) + us)
    const key = `${functionName || '(anonymous)'} ${where ? `${where}:${lineNumber + 1}` : ''}`
    fn.set(key, (fn.get(key) ?? 0) + us)
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `  ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join('\n')
  return `total ${(total / 1000).toFixed(1)} ms sampled\nby file or package:\n${top(file, 20)}\nby function:\n${top(fn, 30)}\n`
}

// ---------------------------------------------------------------------------------------------------------------
// The benchmark

export async function benchScan(): Promise<string> {
  const cleanup: Array<() => Promise<void>> = []
  const savedDockerConfig = process.env.DOCKER_CONFIG
  try {
    const tmp = await makeTempDir('bench-scan')
    cleanup.push(() => tmp.remove())
    // setupRegistry reads the docker config from process.env: keep the machine's out of the in-process scan.
    process.env.DOCKER_CONFIG = join(tmp.path, 'docker')

    const { registry, repos, tags, seedMs } = await startSeededRegistry(REPOS, TAGS_PER_REPO)
    cleanup.push(() => registry.stop())

    const spec: ClusterSpec = {
      workloads: WORKLOADS,
      namespaces: NAMESPACES,
      host: registry.host,
      repos: REPOS,
      tags,
      podsEvery: PODS_EVERY,
    }
    const rows = expectedRows(spec)
    const kube = await startKubeApiWorker(spec)
    cleanup.push(() => kube.stop())
    const kubeconfig = join(tmp.path, 'kubeconfig')
    await writeFile(kubeconfig, kube.kubeconfig)
    const env: NodeJS.ProcessEnv = {
      KUBECONFIG: kubeconfig,
      HOME: tmp.path,
      XDG_CACHE_HOME: join(tmp.path, 'cache'),
      XDG_CONFIG_HOME: join(tmp.path, 'config'),
      DOCKER_CONFIG: join(tmp.path, 'docker'),
    }
    await mkdir(join(tmp.path, 'docker'), { recursive: true })

    // The floor: the same GETs, all at once, on fresh connections (as the scan opens its own).
    const floor = async () => {
      const agent = new Agent()
      try {
        await Promise.all(
          repos.map(async (repo) => {
            const res = await request(`${registry.url}/v2/${repo}/tags/list?n=1000`, { dispatcher: agent })
            const body = (await res.body.json()) as { tags: string[] }
            if (body.tags.length !== TAGS_PER_REPO)
              throw new Error(`bench: ${repo} has ${body.tags.length} tags`)
          }),
        )
      } finally {
        await agent.close()
      }
    }
    // The CLI's flags with their defaults, parsed by oclif as the command does.
    const { flags } = await Parser.parse(['-A', '--insecure', '--no-cache'], {
      flags: Scan.flags,
      strict: true,
    })
    const scanRequest = (extra: Partial<ScanRequest> = {}): ScanRequest => ({
      ...(flags as Omit<ScanRequest, 'cacheTtlMs' | 'version' | 'apiVersion'>),
      kubeconfig,
      cacheTtlMs: 0,
      version: VERSION,
      apiVersion: API_VERSION,
      env: { ...process.env, ...env },
      ...extra,
    })
    const check = (outcome: ScanOutcome, what: string, requests: number) => {
      const { report, stats } = outcome
      const unknown = report.items.filter((row) => row.status === 'unknown')
      if (report.items.length !== rows || unknown.length > 0 || stats.tagListRequests !== requests) {
        throw new Error(
          `bench: ${what}: ${report.items.length} rows (want ${rows}), ${unknown.length} unknown ` +
            `(${unknown[0]?.error}), ${stats.tagListRequests} tag-list requests (want ${requests})`,
        )
      }
    }
    const ours = async () => check(await collectScan(scanRequest()), 'in-process scan', REPOS)
    // To split the time: the same scan with every tag list in the disk cache (cluster read, cache reads,
    // policy and comparison; no registry traffic), and the tag lists alone through the scan's client.
    const cachedRequest = scanRequest({
      cacheTtlMs: 3_600_000,
      env: { ...process.env, ...env, XDG_CACHE_HOME: join(tmp.path, 'cache-in-process') },
    })
    const cachedScan = async () =>
      check(await collectScan(cachedRequest), 'in-process scan from the cache', 0)
    const tagLists = async () => {
      const setup = await setupRegistry(scanRequest(), VERSION)
      const lookup = new TagLookup({
        client: setup.client,
        exclusions: setup.exclusions,
        signal: setup.signal,
      })
      try {
        const lists = await Promise.all(repos.map((path) => lookup.tags({ domain: registry.host, path })))
        if (lists.some((list) => list.length !== TAGS_PER_REPO)) throw new Error('bench: short tag list')
      } finally {
        await setup.client.close()
      }
    }
    const clusterRead = async () => {
      const loaded = await loadKubeConfig({ env: { ...process.env, ...env }, kubeconfig })
      const inventory = await readCluster(loaded.kc, { allNamespaces: true, compression: loaded.compression })
      if (inventory.images.length !== rows) throw new Error(`bench: read ${inventory.images.length} images`)
    }
    const cliArgs = ['scan', '-A', '-o', 'json', '--insecure', '--no-cache']
    const cli = async (extraEnv: NodeJS.ProcessEnv = {}, args = cliArgs) => {
      const run = await runCli(args, { env: { ...env, ...extraEnv }, timeoutMs: 180_000 })
      if (run.code !== 0) throw new Error(`bench: CLI failed (${run.code}): ${run.stderr}`)
      const doc = JSON.parse(run.stdout) as { items: Array<{ status: string }> }
      if (doc.items.length !== rows || doc.items.some((row) => row.status === 'unknown'))
        throw new Error(`bench: CLI reported ${doc.items.length} rows (want ${rows}) or unknown rows`)
    }
    const executable = existsSync(EXECUTABLE)
    if (!executable) process.stderr.write(`${EXECUTABLE} is missing; build it with scripts/pkg linux-amd64\n`)
    const exe = async () => {
      const { stdout } = await promisify(execFile)(EXECUTABLE, cliArgs, {
        env: { PATH: process.env.PATH, NO_COLOR: '1', ...env },
        maxBuffer: 256 * 1024 * 1024,
        timeout: 180_000,
      })
      const doc = JSON.parse(stdout) as { items: Array<{ status: string }> }
      if (doc.items.length !== rows || doc.items.some((row) => row.status === 'unknown'))
        throw new Error(`bench: executable reported ${doc.items.length} rows (want ${rows}) or unknown rows`)
    }
    const startup = async () => {
      const run = await runCli(['--version'], { env })
      if (run.code !== 0) throw new Error(`bench: CLI failed: ${run.stderr}`)
    }
    const skopeo = spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).status === 0
    if (!skopeo) process.stderr.write('skopeo is not on PATH; install it with `apt-get install skopeo`\n')
    const skopeoLoop = () => {
      for (const [i, repo] of repos.entries()) {
        const run = spawnSync(
          'skopeo',
          ['list-tags', '--tls-verify=false', `docker://${registry.host}/${repo}`],
          { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: tmp.path } },
        )
        if (run.status !== 0) throw new Error(`bench: skopeo failed on ${repo}: ${run.stderr}`)
        if (i === 0 && (JSON.parse(run.stdout) as { Tags: string[] }).Tags.length !== TAGS_PER_REPO)
          throw new Error(`bench: skopeo listed the wrong tags: ${run.stdout.slice(0, 200)}`)
      }
    }

    const timings: Record<string, number[]> = {
      floor: [],
      ours: [],
      cachedScan: [],
      tagLists: [],
      clusterRead: [],
      floorAfterCli: [],
      oursAfterCli: [],
      cli: [],
      exe: [],
      startup: [],
      skopeo: [],
    }
    const time = async (name: string, fn: () => unknown, settle = true) => {
      if (settle) await settled(registry.pid)
      const start = performance.now()
      await fn()
      timings[name]!.push(performance.now() - start)
    }
    // Where the CPU goes, for the floor and the in-process scan: all of it is spent on the same 2 cores.
    const cpu: Record<'floor' | 'ours', CpuSplit[]> = { floor: [], ours: [] }
    const timeWithCpu = async (name: 'floor' | 'ours', fn: () => unknown) => {
      await settled(registry.pid)
      const before = { registry: pidCpuMs(registry.pid), api: await kube.cpuMs(), main: threadCpuMs() }
      const process0 = processCpuMs()
      await time(name, fn, false)
      const main = threadCpuMs() - before.main
      const api = (await kube.cpuMs()) - before.api
      cpu[name].push({
        registry: pidCpuMs(registry.pid) - before.registry,
        api,
        main,
        // GC helpers and libuv's pool (the API server's thread is counted on its own).
        helpers: processCpuMs() - process0 - main - api,
      })
    }
    // Warm-up: module loading, the registry's and the API server's first answers.
    await floor()
    await ours()
    // Fills the in-process cache.
    check(await collectScan(cachedRequest), 'in-process scan filling the cache', REPOS)
    await cachedScan()
    await tagLists()
    await cli()
    if (executable) await exe()
    // The in-process runs back to back, before any child process: right after one (or any load on both cores)
    // a run takes about twice the main-thread CPU, and the bench once measured its scan so. The after-CLI rows
    // show that arrangement; the goal compares the scan's work with the floor's.
    for (let i = 0; i < IN_PROCESS_RUNS; i++) {
      process.stderr.write(`in-process run ${i + 1}/${IN_PROCESS_RUNS}\n`)
      await timeWithCpu('floor', floor)
      await timeWithCpu('ours', ours)
      await time('cachedScan', cachedScan)
      await time('tagLists', tagLists)
      await time('clusterRead', clusterRead)
    }
    for (let i = 0; i < AFTER_CLI_RUNS; i++) {
      process.stderr.write(`after a CLI process ${i + 1}/${AFTER_CLI_RUNS}\n`)
      await time('cli', () => cli())
      await time('floorAfterCli', floor)
      await time('cli', () => cli())
      await time('oursAfterCli', ours)
    }
    for (let i = 0; i < RUNS; i++) {
      process.stderr.write(`process run ${i + 1}/${RUNS}\n`)
      await time('cli', () => cli())
      if (executable) await time('exe', exe)
      await time('startup', startup)
      if (skopeo && i < SKOPEO_RUNS) await time('skopeo', skopeoLoop)
    }

    const profDir = process.env.SCAN_BENCH_CPU_PROF
    if (profDir) {
      mkdirSync(profDir, { recursive: true })
      const session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 200 })
      await session.post('Profiler.start')
      await ours()
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      await writeFile(join(profDir, 'scan-in-process.cpuprofile'), JSON.stringify(profile))
      process.stderr.write(`\nin-process scan profile:\n${summarizeProfile(profile as never)}`)
      await cli({ NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` })
      process.stderr.write(`CLI profile written to ${profDir}\n`)
    }

    // Second run inside the cache TTL, through a recording proxy the images name.
    const proxy = await startFaultProxy(registry.url)
    cleanup.push(() => proxy.stop())
    const proxied = await startKubeApiWorker({ ...spec, host: proxy.host })
    cleanup.push(() => proxied.stop())
    const proxiedConfig = join(tmp.path, 'kubeconfig-proxied')
    await writeFile(proxiedConfig, proxied.kubeconfig)
    const cachedEnv = { KUBECONFIG: proxiedConfig, XDG_CACHE_HOME: join(tmp.path, 'cache-ttl') }
    const cachedArgs = ['scan', '-A', '-o', 'json', '--insecure']
    await cli(cachedEnv, cachedArgs)
    const firstRequests = proxy.count(/tags\/list/)
    proxy.clear()
    const cachedStart = performance.now()
    await cli(cachedEnv, cachedArgs)
    const cachedMs = performance.now() - cachedStart
    const secondRequests = proxy.count(/tags\/list/)
    const others = [
      ...new Set(
        proxy.requests
          .filter((rec) => !/tags\/list/.test(rec.path))
          .map((rec) => `${rec.method} ${rec.path.split('?')[0]}`),
      ),
    ]

    const f = median(timings.floor!)
    const part = (runs: CpuSplit[], key: keyof CpuSplit) => median(runs.map((split) => split[key]))
    const all = (runs: CpuSplit[]) =>
      median(runs.map((split) => split.registry + split.api + split.main + split.helpers))
    const cpuRow = (name: string, wall: number, runs: CpuSplit[]) =>
      `| ${name} | ${wall.toFixed(0)} | ${[part(runs, 'registry'), part(runs, 'api'), part(runs, 'main'), part(runs, 'helpers'), all(runs), all(runs) / 2].map((x) => x.toFixed(0)).join(' | ')} |`
    const scanBound = all(cpu.ours) / 2
    const o = median(timings.ours!)
    // Each run times the floor and then the scan: the ratio within a run shares that moment's load.
    const paired = median(timings.ours!.map((x, i) => x / timings.floor![i]!))
    const fc = median(timings.floorAfterCli!)
    const oc = median(timings.oursAfterCli!)
    const r = median(timings.clusterRead!)
    const w = median(timings.cachedScan!)
    const t = median(timings.tagLists!)
    const c = median(timings.cli!)
    const e = executable ? median(timings.exe!) : Number.NaN
    const s = median(timings.startup!)
    const k = skopeo ? median(timings.skopeo!) : Number.NaN
    const ms = (x: number) => x.toFixed(0)
    const ratio = (x: number) => (x / f).toFixed(2)
    const yes = (ok: boolean) => (ok ? 'yes' : '**no**')
    const skopeoCell = skopeo ? ms(k) : 'not measured'
    const skopeoRatio = skopeo ? ratio(k) : 'not measured'
    const speedup = (x: number) => (skopeo ? `${(k / x).toFixed(1)}x` : 'not measured')
    const met = (x: number) => (skopeo ? yes(k / x >= SKOPEO_GOAL) : 'not measured')
    const n = (x: number) => x.toLocaleString('en')
    const kinds = 'half Deployments, a fifth StatefulSets, a tenth DaemonSets, a fifth CronJobs'
    const load = loadavg()
      .map((x) => x.toFixed(1))
      .join(', ')
    return [
      `### scan: ${n(WORKLOADS)} workloads, ${REPOS} repositories x ${TAGS_PER_REPO} tags (in-process: median of ${IN_PROCESS_RUNS}; processes: median of ${RUNS}; skopeo loop median of ${SKOPEO_RUNS})`,
      '',
      `Cluster: ${n(WORKLOADS)} workloads (${kinds})`,
      `in ${NAMESPACES} namespaces with ${n(rows)} containers (every fourth workload has a sidecar, every tenth an init`,
      'container); every workload has one pod and the ReplicaSet or Job its controller makes (`withPods`):',
      `${n(kube.objects)} objects, ${n(kube.pods)} of them pods, on the HTTPS test API server with \`limit\`/\`continue\` paging,`,
      "run in a worker thread of the bench so its JSON work does not share the in-process scan's event loop.",
      'Registry: the real docker-registry on filesystem storage in a temporary root, tags `1.0.0` ... `1.9.19`',
      "(not in-memory storage: there the 60,000 tags live on the registry's Go heap, and collecting its ~200 MB was",
      "~85% of the registry's CPU per tag list, landing at random in the timed runs);",
      'every timed run starts once the registry has been idle for 50 ms. The in-process runs come first, back to back;',
      'the processes (CLI, executable, skopeo) after them.',
      '',
      '| variant | wall ms | ratio to floor |',
      '|---|---:|---:|',
      `| floor: ${REPOS} concurrent undici GETs of tags/list (fresh connections) | ${ms(f)} | 1.00 |`,
      `| **scan in-process**: \`collectScan\`, \`--no-cache\`, the CLI's defaults (${Scan.flags.concurrency?.default} requests per host), cluster read included | ${ms(o)} | ${ratio(o)} |`,
      `| &nbsp;&nbsp;part: the cluster read alone (\`readCluster\`) | ${ms(r)} | ${ratio(r)} |`,
      `| &nbsp;&nbsp;part: the ${REPOS} tag lists alone through the scan's registry client (\`TagLookup\`) | ${ms(t)} | ${ratio(t)} |`,
      `| &nbsp;&nbsp;the scan with every tag list in the disk cache (cluster read, policy, comparison; no registry traffic) | ${ms(w)} | ${ratio(w)} |`,
      `| the floor, each run right after a CLI process (median of ${AFTER_CLI_RUNS}) | ${ms(fc)} | ${ratio(fc)} |`,
      `| the in-process scan, each run right after a CLI process (median of ${AFTER_CLI_RUNS}; ${(oc / fc).toFixed(2)}x the floor run so) | ${ms(oc)} | ${ratio(oc)} |`,
      `| \`kubectl images scan -A -o json --insecure --no-cache\` process (Node 24, unbundled TS) | ${ms(c)} | ${ratio(c)} |`,
      `| &nbsp;&nbsp;part: process start-up (\`kubectl images --version\`) | ${ms(s)} | ${ratio(s)} |`,
      executable
        ? `| the same scan, the release executable (\`scripts/pkg linux-amd64\`, Bun): what users run | ${ms(e)} | ${ratio(e)} |`
        : '| the release executable | not built (`scripts/pkg linux-amd64`) | |',
      `| second CLI run inside the cache TTL (default 15m; images behind a recording proxy) | ${ms(cachedMs)} | ${ratio(cachedMs)} |`,
      `| sequential \`skopeo list-tags --tls-verify=false\` loop, ${REPOS} processes | ${skopeoCell} | ${skopeoRatio} |`,
      '',
      '| goal (issue 3) | measured | met |',
      '|---|---:|:---:|',
      `| scan in-process <= ${FLOOR_GOAL}x the floor (ratio of the medians) | ${ratio(o)}x | ${yes(o / f <= FLOOR_GOAL)} |`,
      `| the same, median of the ${IN_PROCESS_RUNS} ratios within a run (floor and scan back to back) | ${paired.toFixed(2)}x | ${yes(paired <= FLOOR_GOAL)} |`,
      `| >= ${SKOPEO_GOAL}x faster than the skopeo loop: scan in-process | ${speedup(o)} | ${met(o)} |`,
      `| >= ${SKOPEO_GOAL}x faster than the skopeo loop: CLI process, release executable | ${executable ? speedup(e) : 'not built'} | ${executable ? met(e) : 'not measured'} |`,
      `| >= ${SKOPEO_GOAL}x faster than the skopeo loop: CLI process, Node dev entry (unbundled TS) | ${speedup(c)} | ${met(c)} |`,
      `| second run inside the cache TTL: 0 tag-list requests | ${secondRequests} (first run ${firstRequests}; other requests: ${others.length ? others.map((x) => `\`${x}\``).join(', ') : 'none'}) | ${yes(secondRequests === 0)} |`,
      '',
      `Where the CPU went, per run (medians of the ${IN_PROCESS_RUNS} in-process runs, CPU milliseconds; every party shares the 2 cores):`,
      '',
      '| run | wall ms | docker-registry | test API server (its thread) | client: main thread | client: GC and I/O helper threads | all | all / 2 cores |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      cpuRow('floor', f, cpu.floor),
      cpuRow('scan in-process', o, cpu.ours),
      '',
      `On 2 cores the scan cannot end before all its CPU / 2, ${ms(scanBound)} ms,`,
      `which is ${(scanBound / f).toFixed(2)}x the floor's wall; the floor needs only the registry's CPU and a small client.`,
      "The scan's own share is its main thread (reading and parsing ~10 MB of pages over TLS, 300 tag lists,",
      "ranking) and its helper threads. It fetches each repository's tag list as soon as a page of workloads names it,",
      `overlapping the cluster read: the parts, cluster read ${ms(r)} and tag lists ${ms(t)}, add up to ${ms(r + t)} ms, against ${ms(o)} ms`,
      `measured. Right after a CLI process the scan is ${(oc / o).toFixed(2)}x its back-to-back time and the floor ${(fc / f).toFixed(2)}x:`,
      'its main thread uses about twice the CPU for the same work. Any load on both cores by other processes does that',
      '(two 3 s shell busy loops did; a plain 3 s idle did not), while a one-process CPU or JSON loop is not slowed',
      'by the same load: not the clock speed; the cause is not found. The goal is judged',
      'on the back-to-back runs, which measure the work itself. The CLI process adds start-up, loading',
      '@kubernetes/client-node and the rest of the unbundled sources, and running',
      'everything once, cold: compare the second, cached CLI run with the cached in-process scan. The release',
      'executable (one bundle, Bun) removes most of that, and is what the skopeo goal is met by.',
      '',
      `Setup, not in the ratios: seeding the registry (${n(REPOS * TAGS_PER_REPO)} manifest PUTs) took ${(seedMs / 1000).toFixed(1)} s;`,
      `building the objects and starting the API server ${(kube.setupMs / 1000).toFixed(1)} s. Load average at the end: ${load}.`,
      ...(skopeo
        ? []
        : [
            '',
            'skopeo was not on PATH, so the loop was not measured; install it with `apt-get install skopeo`.',
          ]),
      '',
    ].join('\n')
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => {})
    if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG
    else process.env.DOCKER_CONFIG = savedDockerConfig
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'kube-api') {
  await serveKubeApi((workerData as { spec: ClusterSpec }).spec)
} else if (isMainThread && isMain(import.meta.url)) {
  process.stdout.write(await benchScan())
}
