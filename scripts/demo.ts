// The demo: a real docker-registry on 127.0.0.1 seeded from examples/registry.yaml, then
// kubectl-images run against it exactly as a user would run it.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { startRegistry } from '../test/support/registry.ts'

const seed = parse(readFileSync(new URL('../examples/registry.yaml', import.meta.url), 'utf8')) as Record<
  string,
  Array<string | number>
>

const registry = await startRegistry({ auth: 'none' })
try {
  for (const [repo, tags] of Object.entries(seed)) await registry.pushTags(repo, tags.map(String))
  const r = registry.host
  process.stdout.write(
    `Local registry ${registry.url} seeded with ${Object.keys(seed).length} repositories.\n\n`,
  )
  const show = (args: string[]) => {
    const quoted = args.map((arg) => (/[ ()'"]/.test(arg) ? `"${arg}"` : arg))
    process.stdout.write(`$ kubectl images ${quoted.join(' ')}\n`)
    const run = spawnSync(process.execPath, ['bin/run.js', ...args], { encoding: 'utf8', env: process.env })
    process.stdout.write(run.stdout)
    process.stderr.write(run.stderr)
    process.stdout.write('\n')
  }
  show([
    'latest',
    '--insecure',
    `${r}/library/nginx:1.25.3`,
    `${r}/library/nginx:1.25-alpine`,
    `${r}/library/redis:7.2.4`,
    `${r}/library/postgres:17-bookworm`,
    `${r}/jetstack/cert-manager-controller:v1.14.4`,
    `${r}/fluxcd/source-controller`,
  ])
  show([
    'latest',
    '--insecure',
    `${r}/team/api`,
    '--policy',
    "prefix('master-', suffix=number())",
    '--digest',
  ])
  show(['latest', '--insecure', `${r}/team/nightly`, '--policy', 'numerical()', '--all', '-o', 'yaml'])
  show([
    'latest',
    '--insecure',
    `${r}/jetstack/cert-manager-controller`,
    '--policy',
    "semver('>=1.16.0-0')",
    '-o',
    'name',
  ])
  show(['latest', '--insecure', `${r}/library/nginx:1.25.3`, `${r}/team/missing:1.0`, 'Not/A/Valid:ref'])
} finally {
  await registry.stop()
}
