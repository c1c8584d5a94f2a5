// The release artifact as users run it: the linux-amd64 single executable (esbuild bundle + `bun build --compile`
// with the npm @oven/bun-linux-x64 runtime) on PATH as kubectl-images, called through the real kubectl: --version,
// `latest` against a TLS registry (the real undici Agent with --ca-file, not Bun's built-in), `scan` against the
// test API server (kubeconfig CA and token), kubectl's plugin completion, and the krew archive + manifest.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { bundle } from '../../scripts/bundle.ts'
import { archive, bunRuntime, COMPLETE_SH, compile, TARGETS, writeManifest } from '../../scripts/pkg.ts'
import { validateManifest } from '../../scripts/validate-krew.ts'
import { type KubeApi, startKubeApi } from '../support/kube-api.ts'
import { deployment, withPods } from '../support/kube-fixtures.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

const run = promisify(execFile)
const KUBECTL = '/usr/bin/kubectl'
const TARGET = TARGETS['linux-amd64']!
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64'
const skip = !existsSync(KUBECTL)
  ? `${KUBECTL} is not installed`
  : !onLinuxX64
    ? 'the smoke test runs the linux-amd64 executable: needs a linux x64 machine'
    : false

describe('release: the linux-amd64 executable through kubectl', { skip }, () => {
  let dir: string
  let binDir: string
  let registry: TestRegistry
  let api: KubeApi
  let env: NodeJS.ProcessEnv
  // Set when the Bun runtime package cannot be fetched from the npm registry (the only reason to skip).
  let unavailable: string | undefined

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-smoke-'))
    binDir = join(dir, 'bin')
    const build = (async () => {
      let runtime: string
      try {
        runtime = await bunRuntime(TARGET)
      } catch (error) {
        unavailable = `cannot fetch ${TARGET.bunPackage} from the npm registry: ${(error as Error).message}`
        return
      }
      const { outfile } = await bundle({ outfile: join(dir, 'kubectl-images.mjs') })
      await compile(TARGET, outfile, join(binDir, 'kubectl-images'), runtime)
      await writeFile(join(binDir, 'kubectl_complete-images'), COMPLETE_SH)
      await chmod(join(binDir, 'kubectl_complete-images'), 0o755)
    })()
    const servers = (async () => {
      registry = await startRegistry({ auth: 'none', storage: 'inmemory', tls: true })
      await registry.pushTags('team/app', ['1.0.0', '1.1.0', '1.2.3', '2.0.0'])
      await registry.pushTags('lib/web', ['1.25.0', '1.25.4', '1.26.1'])
      api = await startKubeApi({
        objects: [
          ...withPods(
            deployment('shop', 'app', {
              containers: [{ name: 'app', image: `${registry.host}/team/app:1.1.0` }],
            }),
          ),
          ...withPods(
            deployment('shop', 'web', {
              containers: [{ name: 'web', image: `${registry.host}/lib/web:1.25.0` }],
            }),
          ),
        ],
        tokens: { 'smoke-token': 'smoker' },
      })
      await mkdir(join(dir, '.kube'))
      await api.writeKubeconfig(join(dir, '.kube', 'config'), {
        user: 'token',
        token: 'smoke-token',
        namespace: 'shop',
      })
    })()
    await Promise.all([build, servers])
    // No KUBECONFIG: ~/.kube/config is used, and a .env in the working directory that sets one must not be read
    // (Bun executables load .env by default; scripts/pkg turns that off).
    await writeFile(join(dir, '.env'), `KUBECONFIG=${join(dir, 'nowhere')}\n`)
    env = {
      PATH: `${binDir}:/usr/bin:/bin`,
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      DOCKER_CONFIG: join(dir, 'docker'),
      NO_COLOR: '1',
    }
  })
  after(async () => {
    await Promise.all([registry?.stop(), api?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  const kubectl = (args: string[]) =>
    run(KUBECTL, args, { env, cwd: dir, encoding: 'utf8', timeout: 30_000, maxBuffer: 8 << 20 })

  test('kubectl plugin list finds it and kubectl images --version runs it', async (t) => {
    if (unavailable) return t.skip(unavailable)
    const list = await kubectl(['plugin', 'list'])
    assert.ok(list.stdout.includes(`${binDir}/kubectl-images`), list.stdout)
    const { stdout } = await kubectl(['images', '--version'])
    // It runs on Bun: the version line names Bun, not the Node version Bun emulates.
    assert.match(stdout, /^kubectl-images\/0\.\d+\.\d+ linux-x64 bun-v\d+\.\d+\.\d+\n$/)
  })

  test('kubectl images latest against a TLS registry (the real undici Agent with --ca-file)', async (t) => {
    if (unavailable) return t.skip(unavailable)
    const { stdout } = await kubectl([
      'images',
      'latest',
      '--ca-file',
      registry.caPath!,
      '-o',
      'json',
      `${registry.host}/team/app:1.0.0`,
      `${registry.host}/lib/web`,
    ])
    const doc = JSON.parse(stdout) as {
      kind: string
      items: Array<{ image: string; latest?: string; error?: string }>
    }
    assert.equal(doc.kind, 'LatestList')
    assert.deepEqual(
      doc.items.map((i) => [i.latest, i.error]),
      [
        ['2.0.0', undefined],
        ['1.26.1', undefined],
      ],
    )
  })

  test('kubectl images scan against the test API server (kubeconfig CA and bearer token; no .env read)', async (t) => {
    if (unavailable) return t.skip(unavailable)
    const { stdout } = await kubectl([
      'images',
      'scan',
      '--ca-file',
      registry.caPath!,
      '--no-cache',
      '-o',
      'json',
    ])
    const doc = JSON.parse(stdout) as {
      kind: string
      items: Array<{ name: string; status: string; latest: string }>
    }
    assert.equal(doc.kind, 'ScanReport')
    const rows = Object.fromEntries(doc.items.map((i) => [i.name, [i.status, i.latest]]))
    assert.deepEqual(rows, { app: ['major', '2.0.0'], web: ['minor', '1.26.1'] })
    assert.ok(
      api.requests.some((r) => r.user === 'smoker'),
      'the API server saw the kubeconfig token',
    )
  })

  test('kubectl completes `kubectl images ...` through kubectl_complete-images', async (t) => {
    if (unavailable) return t.skip(unavailable)
    const commands = await kubectl(['__complete', 'images', ''])
    assert.match(commands.stdout, /^scan\t/m)
    assert.match(commands.stdout, /^latest\t/m)
    const levels = await kubectl(['__complete', 'images', 'scan', '--fail-on', 'm'])
    assert.deepEqual(levels.stdout.trim().split('\n'), ['minor', 'major', ':4'])
  })

  test('the krew archive and a linux-amd64 manifest pass validate-krew', async (t) => {
    if (unavailable) return t.skip(unavailable)
    const krewDir = join(dir, 'krew')
    await mkdir(krewDir)
    const built = await archive(TARGET, join(binDir, 'kubectl-images'), krewDir, 0)
    const manifest = await writeManifest([built], krewDir, 'https://example.invalid/download/v{version}')
    const result = await validateManifest(manifest)
    assert.deepEqual(result.errors, [])
    assert.deepEqual(result.installed, [
      {
        platform: 'linux/amd64',
        files: { 'kubectl-images': 0o755, 'kubectl_complete-images': 0o755, LICENSE: 0o644 },
      },
    ])
    // An independent reader agrees (GNU tar).
    const { stdout } = await run('tar', ['-tzvf', built.archive], { encoding: 'utf8' })
    assert.match(stdout, /^-rwxr-xr-x .* kubectl-images$/m)
  })
})
