// rank() over 100k generated tags for every policy kind, against a goal of 100 ms per call.
// Run: node_modules/.bin/node bench/policy.bench.ts   (prints a Markdown table)
import { performance } from 'node:perf_hooks'
import { parsePolicy } from '../src/policy/index.ts'

const TAGS = 100_000
const RUNS = 5
const GOAL_MS = 100

/** mulberry32: a small deterministic PRNG, so every run ranks the same tags. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A registry-like mix: releases, v-prefixed, variants, prereleases, build numbers, branches and junk. */
export function generateTags(count: number, seed = 42): string[] {
  const rnd = prng(seed)
  const int = (n: number) => Math.floor(rnd() * n)
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!
  const ver = () => `${int(30)}.${int(40)}.${int(60)}`
  const hex = () => Array.from({ length: 7 }, () => '0123456789abcdef'[int(16)]).join('')
  const makers: (() => string)[] = [
    ver,
    ver,
    ver,
    () => `v${ver()}`,
    () => `${int(30)}.${int(40)}`,
    () => `${ver()}-${pick(['alpine', 'slim', 'bookworm', 'bullseye'])}`,
    () => `${int(30)}.${int(40)}-alpine`,
    () => `${ver()}-alpine3.${int(21)}`,
    () => `${ver()}-debian-${10 + int(3)}-r${int(40)}`,
    () => `${ver()}-${pick(['rc', 'beta', 'alpha', 'RC'])}${pick(['', '.', '-'])}${int(12)}`,
    () => `${int(100000)}`,
    () => `master-${int(5000)}`,
    () => `main-${hex()}`,
    () => `sha-${hex()}`,
    () => pick(['latest', 'stable', 'edge', 'nightly', 'main', 'develop']),
    () => `${2020 + int(6)}-${1 + int(12)}-${1 + int(28)}`,
    () => `RELEASE.${2020 + int(6)}-0${1 + int(9)}-1${int(10)}T0${int(10)}-00-00Z`,
  ]
  const tags = new Set<string>()
  while (tags.size < count) tags.add(pick(makers)())
  // Callers pass tags sorted ascending byte-wise, the order registries list them in.
  return [...tags].sort()
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const mixed = generateTags(TAGS)
const rnd = prng(7)
const numeric = [...new Set(Array.from({ length: TAGS * 2 }, () => String(Math.floor(rnd() * 1e9))))]
  .slice(0, TAGS)
  .sort()

const cases: { kind: string; expr: string; tags: string[]; currentTag?: string }[] = [
  { kind: 'kluctl semver', expr: 'semver()', tags: mixed },
  { kind: 'kluctl prefix + number', expr: "prefix('master-', suffix=number())", tags: mixed },
  { kind: 'kluctl number', expr: 'number()', tags: mixed },
  { kind: 'kluctl regex', expr: "regex('[0-9]+\\.[0-9]+\\.[0-9]+(-.*)?')", tags: mixed },
  { kind: 'auto (1.25-alpine)', expr: 'auto', tags: mixed, currentTag: '1.25-alpine' },
  { kind: 'auto (no current tag)', expr: 'auto', tags: mixed },
  { kind: 'Flux semver', expr: "semver('>=1.0.0 <3')", tags: mixed },
  { kind: 'Flux alphabetical', expr: 'alphabetical()', tags: mixed },
  { kind: 'Flux numerical (numeric tags)', expr: 'numerical()', tags: numeric },
  {
    kind: 'Flux filter + numerical',
    expr: "filter('^master-(\\d+)$', extract='$1', policy=numerical())",
    tags: mixed,
  },
  {
    kind: 'Flux filter + extract + semver',
    expr: "filter('^(?P<v>\\d+\\.\\d+\\.\\d+)-.*$', extract='$v', policy=semver('>=0.0.0'))",
    tags: mixed,
  },
]

const rows: string[] = []
for (const c of cases) {
  const policy = parsePolicy(c.expr, c.currentTag === undefined ? {} : { currentTag: c.currentTag })
  policy.rank(c.tags) // warm-up
  const times: number[] = []
  let matched = 0
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now()
    matched = policy.rank(c.tags).length
    times.push(performance.now() - start)
  }
  const ms = median(times)
  const verdict = ms <= GOAL_MS ? 'ok' : `over by ${(ms - GOAL_MS).toFixed(1)} ms`
  rows.push(
    `| ${c.kind} | \`${policy.expr}\` | ${c.tags.length} | ${matched} | ${ms.toFixed(1)} | ${verdict} |`,
  )
}

console.log(`rank() over ${TAGS} tags, median of ${RUNS} runs, goal ${GOAL_MS} ms\n`)
console.log('| kind | policy | tags | ranked | median ms | verdict |')
console.log('|---|---|---|---|---|---|')
for (const row of rows) console.log(row)
