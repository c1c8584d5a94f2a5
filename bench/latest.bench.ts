// `latest` over 50 repositories on the local registry versus the floor: the same tags/list GETs
// fired concurrently by a minimal undici script. Prints a Markdown table; ratios, not absolute times.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { request } from 'undici'
import { isMain } from '../scripts/is-main.ts'
import { resolveLatest } from '../src/latest/latest.ts'
import { RegistryClient } from '../src/registry/client.ts'
import { TagExclusions } from '../src/registry/exclude.ts'
import { startRegistry } from '../test/support/registry.ts'

const REPOS = 50
const TAGS_PER_REPO = 40
const RUNS = 7

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

export async function benchLatest(): Promise<string> {
  const registry = await startRegistry({ auth: 'none' })
  try {
    const repos = Array.from({ length: REPOS }, (_, i) => `bench/app-${i}`)
    const tags = Array.from({ length: TAGS_PER_REPO }, (_, i) => `1.${Math.floor(i / 8)}.${i % 8}`)
    for (const repo of repos) await registry.pushTags(repo, tags, { distinct: false })

    const floor = async () => {
      await Promise.all(
        repos.map(async (repo) => {
          const res = await request(`${registry.url}/v2/${repo}/tags/list?n=1000`)
          await res.body.json()
        }),
      )
    }
    const ours = async () => {
      const client = new RegistryClient({
        access: async () => ({ insecure: true, skipTlsVerify: false, source: 'bench' }),
        http: { concurrencyPerHost: 8 },
      })
      const results = await resolveLatest(
        repos.map((repo) => ({ image: `${registry.host}/${repo}:1.0.0` })),
        { client, exclusions: new TagExclusions() },
      )
      if (results.some((r) => r.error || r.latest !== '1.4.7')) throw new Error('bench: unexpected result')
      await client.close()
    }
    const cli = () => {
      const images = repos.map((repo) => `${registry.host}/${repo}:1.0.0`)
      const run = spawnSync(
        process.execPath,
        ['bin/run.js', 'latest', '--insecure', '-o', 'name', ...images],
        {
          encoding: 'utf8',
        },
      )
      if (run.status !== 0) throw new Error(`bench: CLI failed: ${run.stderr}`)
    }
    const startup = () => {
      const run = spawnSync(process.execPath, ['bin/run.js', '--version'], { encoding: 'utf8' })
      if (run.status !== 0) throw new Error(`bench: CLI failed: ${run.stderr}`)
    }
    const timings: Record<string, number[]> = { floor: [], ours: [], cli: [], startup: [] }
    await floor()
    await ours()
    for (let i = 0; i < RUNS; i++) {
      let start = performance.now()
      await floor()
      timings.floor!.push(performance.now() - start)
      start = performance.now()
      await ours()
      timings.ours!.push(performance.now() - start)
      start = performance.now()
      cli()
      timings.cli!.push(performance.now() - start)
      start = performance.now()
      startup()
      timings.startup!.push(performance.now() - start)
    }
    const f = median(timings.floor!)
    const o = median(timings.ours!)
    const c = median(timings.cli!)
    const s = median(timings.startup!)
    return [
      `### latest: ${REPOS} repositories x ${TAGS_PER_REPO} tags, local docker-registry (median of ${RUNS})`,
      '',
      '| variant | wall ms | ratio to floor |',
      '|---|---:|---:|',
      `| floor: ${REPOS} concurrent undici GETs of tags/list | ${f.toFixed(1)} | 1.00 |`,
      `| resolveLatest in-process (ping, lists, policy, 8 per host) | ${o.toFixed(1)} | ${(o / f).toFixed(2)} |`,
      `| \`kubectl images latest\` process (Node 24, unbundled TS) | ${c.toFixed(1)} | ${(c / f).toFixed(2)} |`,
      `| of which process start-up (\`kubectl images --version\`) | ${s.toFixed(1)} | ${(s / f).toFixed(2)} |`,
      '',
      'The in-process ratio is the registry work; the process rows add Node start-up and module loading of the',
      'unbundled sources, which the bundled single executable (release work) removes.',
      '',
    ].join('\n')
  } finally {
    await registry.stop()
  }
}

if (isMain(import.meta.url)) process.stdout.write(await benchLatest())
