// The cluster modules a command imports must not load @kubernetes/client-node or undici until they are used
// (packaging.md §1): `--help` stays fast and a bundler keeps only the API classes k8s.ts names.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)

test('importing read.ts, kubeconfig.ts, manifests.ts and workloads.ts loads no client-node and no undici', async () => {
  const modules = ['read.ts', 'kubeconfig.ts', 'manifests.ts', 'workloads.ts', 'api.ts'].map(
    (m) => new URL(`../../src/cluster/${m}`, import.meta.url).href,
  )
  const code = `
    import { registerHooks } from 'node:module'
    const seen = []
    registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context) } })
    for (const m of ${JSON.stringify(modules)}) await import(m)
    console.log(JSON.stringify(seen))
  `
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code])
  const seen = JSON.parse(stdout) as string[]
  assert.ok(seen.some((s) => s.endsWith('/read.ts')))
  assert.deepEqual(
    seen.filter((s) => s.includes('@kubernetes/client-node') || s.includes('undici') || s.endsWith('k8s.ts')),
    [],
  )
})
