// Runs every benchmark in its own process and writes their Markdown to docs/benchmarks.md.
// Usage: npm run bench [-- name...]   (names: policy, latest)
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'

const BENCHES: Record<string, { file: string; title: string }> = {
  policy: { file: 'bench/policy.bench.ts', title: 'Policy selection over 100k tags' },
  latest: { file: 'bench/latest.bench.ts', title: '`latest` against the local registry' },
  scan: { file: 'bench/scan.bench.ts', title: '`scan` against the test API server and the local registry' },
  scan_rss: { file: 'bench/scan-rss.bench.ts', title: '`scan` peak memory' },
  startup: { file: 'bench/startup.bench.ts', title: 'Start-up of the release executable vs kubectl' },
  vector: { file: 'bench/vector.bench.ts', title: '`vector` over an 81-entry image vector' },
}

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BENCHES)
const target = new URL('../docs/benchmarks.md', import.meta.url)
let previous = ''
try {
  previous = readFileSync(target, 'utf8')
} catch {}

const sections = new Map<string, string>()
// Keep the sections of benchmarks not run this time.
for (const match of previous.matchAll(/<!-- bench:(\w+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) {
  sections.set(match[1]!, match[2]!)
}
for (const name of wanted) {
  const bench = BENCHES[name]
  if (!bench) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`)
  process.stderr.write(`running ${name}...\n`)
  const run = spawnSync(process.execPath, [bench.file], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
  if (run.status !== 0) throw new Error(`${name} failed:\n${run.stderr}`)
  const when = new Date().toISOString().slice(0, 10)
  sections.set(name, `## ${bench.title}\n\nMeasured ${when}.\n\n${run.stdout.trim()}\n\n`)
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`
const body = Object.keys(BENCHES)
  .filter((name) => sections.has(name))
  .map((name) => `<!-- bench:${name} -->\n${sections.get(name)}<!-- /bench:${name} -->`)
  .join('\n\n')
writeFileSync(
  target,
  `# Benchmarks\n\nLatest results of \`npm run bench\` on ${machine}. Each benchmark compares against a reference measured in the same run; read the ratios, not the absolute times.\n\n${body}\n`,
)
process.stderr.write(`wrote ${target.pathname}\n`)
