// The demo: a real docker-registry on 127.0.0.1 seeded from examples/registry.yaml, then
// kubectl-images run against it exactly as a user would run it: first `scan` over the bundled
// manifests in examples/manifests (as `helm template ... | kubectl images scan -f -` would), then `latest`.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { startRegistry } from '../test/support/registry.ts'

const examples = new URL('../examples/', import.meta.url)
const seed = parse(readFileSync(new URL('registry.yaml', examples), 'utf8')) as Record<
  string,
  Array<string | number>
>
const manifestsDir = new URL('manifests/', examples)
const manifests = readdirSync(manifestsDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => readFileSync(new URL(name, manifestsDir), 'utf8'))
  .join('\n---\n')

const registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
// A throw-away cache and config, so the demo shows a first run and reads nothing of the user's.
const home = await mkdtemp(join(tmpdir(), 'kubectl-images-demo-'))
try {
  for (const [repo, tags] of Object.entries(seed)) await registry.pushTags(repo, tags.map(String))
  const r = registry.host
  process.stdout.write(
    `A docker-registry on ${registry.url}, seeded with ${Object.keys(seed).length} repositories from examples/registry.yaml.\n\n`,
  )
  const env = { ...process.env, XDG_CACHE_HOME: join(home, 'cache'), XDG_CONFIG_HOME: join(home, 'config') }
  const show = (args: string[], input?: string, prefix = '') => {
    const quoted = args.map((arg) => (/[ ()'"]/.test(arg) ? `"${arg}"` : arg))
    process.stdout.write(`$ ${prefix}kubectl images ${quoted.join(' ')}\n`)
    const run = spawnSync(process.execPath, ['bin/run.js', ...args], {
      encoding: 'utf8',
      env,
      input: input ?? '',
    })
    process.stdout.write(run.stdout)
    process.stdout.write(run.stderr)
    process.stdout.write(`(exit code ${run.status})\n\n`)
  }
  const rendered = manifests.replaceAll('registry.local', r)
  show(
    ['scan', '--insecure', '-f', '-'],
    rendered,
    `cat examples/manifests/*.yaml | sed s/registry.local/${r}/ | `,
  )
  show(
    ['scan', '--insecure', '-f', '-', '--only', 'outdated', '--explain', '--fail-on', 'minor'],
    rendered,
    '... | ',
  )
  show([
    'latest',
    '--insecure',
    `${r}/library/nginx:1.25.3`,
    `${r}/library/nginx:1.25-alpine`,
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
} finally {
  await registry.stop()
  await rm(home, { recursive: true, force: true })
}
