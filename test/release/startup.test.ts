// Help and version must not load the Kubernetes client, undici or ws: proven on the esbuild bundle the executables
// are compiled from (built here unminified, so esbuild keeps each module's path as the name of its lazy wrapper).
// 1. Statically: every module of those packages in the bundle sits inside a lazy wrapper (__commonJS/__esm), so
//    nothing of them runs unless the wrapper is called.
// 2. At run time: V8 coverage of `--help`, `--version`, `scan --help` and `completion bash` shows no wrapper of
//    theirs called; the same measurement on a `scan` (against an unreachable API server) shows them called.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { bundle } from '../../scripts/bundle.ts'

const HEAVY = ['node_modules/@kubernetes/client-node/', 'node_modules/undici/', 'node_modules/ws/']
const isHeavy = (path: string) => HEAVY.some((prefix) => path.startsWith(prefix))

interface Coverage {
  result: Array<{ url: string; functions: Array<{ functionName: string; ranges: Array<{ count: number }> }> }>
}

describe('startup: help and version load no Kubernetes client, undici or ws (bundle)', () => {
  let dir: string
  let outfile: string
  let text: string
  let heavyInputs: string[]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-startup-'))
    const built = await bundle({ outfile: join(dir, 'cli.mjs'), minify: false })
    outfile = built.outfile
    text = await readFile(outfile, 'utf8')
    const output = Object.values(built.metafile.outputs)[0]!
    heavyInputs = Object.entries(output.inputs)
      .filter(([path, input]) => isHeavy(path) && input.bytesInOutput > 0)
      .map(([path]) => path)
    // An unreachable cluster for the positive control.
    await writeFile(
      join(dir, 'kubeconfig'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]',
        'current-context: x',
        '',
      ].join('\n'),
    )
  })
  after(() => rm(dir, { recursive: true, force: true }))

  /** Runs the bundle on this Node with V8 coverage; returns the heavy modules whose wrapper ran. */
  async function heavyModulesRun(args: string[]): Promise<{ ran: string[]; stdout: string }> {
    const coverageDir = join(dir, `coverage-${args.join('-').replace(/\W+/g, '_')}`)
    await mkdir(coverageDir)
    const stdout = await new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        [outfile, ...args],
        {
          env: {
            ...process.env,
            NODE_V8_COVERAGE: coverageDir,
            KUBECONFIG: join(dir, 'kubeconfig'),
            HOME: dir,
            XDG_CACHE_HOME: join(dir, 'cache'),
          },
          encoding: 'utf8',
          timeout: 30_000,
        },
        (_error, out) => resolve(out),
      )
    })
    const url = pathToFileURL(outfile).href
    const ran = new Set<string>()
    for (const file of await readdir(coverageDir)) {
      const coverage = JSON.parse(await readFile(join(coverageDir, file), 'utf8')) as Coverage
      for (const script of coverage.result.filter((s) => s.url === url)) {
        for (const fn of script.functions) {
          if (isHeavy(fn.functionName) && (fn.ranges[0]?.count ?? 0) > 0) ran.add(fn.functionName)
        }
      }
    }
    return { ran: [...ran].sort(), stdout }
  }

  test('every client-node, undici and ws module in the bundle is behind a lazy wrapper', () => {
    assert.ok(heavyInputs.some((p) => p.startsWith('node_modules/@kubernetes/client-node/')))
    assert.ok(heavyInputs.some((p) => p.startsWith('node_modules/undici/')))
    const unwrapped = heavyInputs.filter((path) => !text.includes(`${JSON.stringify(path)}(`))
    assert.deepEqual(unwrapped, [], 'modules evaluated at startup (not wrapped)')
  })

  for (const args of [['--help'], ['--version'], ['scan', '--help'], ['completion', 'bash']]) {
    test(`${args.join(' ')} runs none of them`, async () => {
      const { ran, stdout } = await heavyModulesRun(args)
      assert.ok(stdout.length > 0, 'the command printed something')
      assert.deepEqual(ran, [])
    })
  }

  test('control: the same measurement sees them run for a scan', async () => {
    const { ran } = await heavyModulesRun(['scan', '--request-timeout', '2s', '--retries', '0'])
    assert.ok(ran.includes('node_modules/@kubernetes/client-node/dist/index.js'), ran.join('\n'))
    assert.ok(ran.includes('node_modules/undici/index.js'), ran.join('\n'))
    assert.ok(
      ran.some((m) => m.startsWith('node_modules/ws/')),
      ran.join('\n'),
    )
  })
})
