// loadKubeConfig: kubectl's file precedence and merge rules, overrides, in-cluster, and one-line errors.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { KubeConfig } from '@kubernetes/client-node'
import { loadKubeConfig } from '../../src/cluster/kubeconfig.ts'
import { UserError } from '../../src/util/errors.ts'
import { makeTempDir } from '../support/lifecycle.ts'

let tmp: { path: string; remove(): Promise<void> }
before(async () => {
  tmp = await makeTempDir('kubeconfig')
})
after(() => tmp?.remove())

interface Ctx {
  name: string
  cluster: string
  user?: string
  namespace?: string
}

function config(o: {
  current?: string
  clusters?: Array<{ name: string; server: string; ca?: string }>
  contexts?: Ctx[]
  users?: Array<{ name: string; body: string }>
}): string {
  const lines = ['apiVersion: v1', 'kind: Config']
  if (o.current) lines.push(`current-context: ${o.current}`)
  lines.push('clusters:')
  for (const c of o.clusters ?? []) {
    lines.push(`- name: ${c.name}`, '  cluster:', `    server: ${c.server}`)
    if (c.ca) lines.push(`    certificate-authority: ${c.ca}`)
  }
  lines.push('contexts:')
  for (const c of o.contexts ?? []) {
    lines.push(`- name: ${c.name}`, '  context:', `    cluster: ${c.cluster}`)
    if (c.user) lines.push(`    user: ${c.user}`)
    if (c.namespace) lines.push(`    namespace: ${c.namespace}`)
  }
  lines.push('users:')
  for (const u of o.users ?? [])
    lines.push(`- name: ${u.name}`, '  user:', ...u.body.split('\n').map((l) => `    ${l}`))
  return `${lines.join('\n')}\n`
}

let n = 0
async function file(text: string, dir = tmp.path): Promise<string> {
  await mkdir(dir, { recursive: true })
  const path = join(dir, `config-${n++}`)
  await writeFile(path, text)
  return path
}

async function rejectsWith(p: Promise<unknown>, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.ok(err instanceof UserError, `not a UserError: ${err}`)
    if (typeof message === 'string') assert.equal(err.message, message)
    else assert.match(err.message, message)
    assert.ok(!err.message.includes('\n'), 'one line')
    return true
  })
}

const token = (t: string) => `token: ${t}`

/** A kubeconfig whose current context `a` uses cluster `c` and user `u` with this body. */
const oneUser = (body: string) =>
  config({
    current: 'a',
    clusters: [{ name: 'c', server: 'https://x' }],
    contexts: [{ name: 'a', cluster: 'c', user: 'u' }],
    users: [{ name: 'u', body }],
  })

describe('KUBECONFIG with several files', () => {
  let first: string
  let second: string
  before(async () => {
    first = await file(
      config({
        current: 'dev',
        clusters: [{ name: 'dev-cluster', server: 'https://dev.example:6443' }],
        contexts: [{ name: 'dev', cluster: 'dev-cluster', user: 'dev-user', namespace: 'team-a' }],
        users: [{ name: 'dev-user', body: token('dev-token') }],
      }),
    )
    // Defines the same names again (ignored: the first file wins) and one more context, with paths
    // relative to its own directory.
    second = await file(
      config({
        current: 'prod',
        clusters: [
          { name: 'dev-cluster', server: 'https://shadowed.example:6443' },
          { name: 'prod-cluster', server: 'https://prod.example:6443', ca: 'certs/ca.pem' },
        ],
        contexts: [
          { name: 'dev', cluster: 'prod-cluster', user: 'prod-user' },
          { name: 'prod', cluster: 'prod-cluster', user: 'prod-user' },
        ],
        users: [
          { name: 'dev-user', body: token('shadowed-token') },
          { name: 'prod-user', body: 'token-file: prod.token' },
        ],
      }),
      join(tmp.path, 'other'),
    )
    await writeFile(join(tmp.path, 'other', 'prod.token'), 'prod-token\n')
  })

  test('merged with kubectl’s first-wins rules; missing files are skipped', async () => {
    const missing = join(tmp.path, 'does-not-exist')
    const env = { KUBECONFIG: [missing, first, '', second].join(delimiter) }
    const { kc, context, namespace, server } = await loadKubeConfig({ env })
    assert.equal(context, 'dev')
    assert.equal(namespace, 'team-a')
    assert.equal(server, 'https://dev.example:6443')
    assert.equal(kc.getCurrentUser()?.token, 'dev-token')
    assert.deepEqual(
      kc.getContexts().map((c) => c.name),
      ['dev', 'prod'],
    )
  })

  test('client-node’s loadFromDefault does not merge like kubectl (why kubeconfig.ts merges itself)', async () => {
    const dupes = await file(config({ clusters: [{ name: 'dev-cluster', server: 'https://dup.example' }] }))
    const saved = process.env.KUBECONFIG
    const load = (files: string[]) => {
      process.env.KUBECONFIG = files.join(delimiter)
      new KubeConfig().loadFromDefault()
    }
    try {
      // A name defined twice throws instead of the first definition winning...
      assert.throws(() => load([first, dupes]), /Duplicate cluster: dev-cluster/)
      // ...and token-file is read relative to the working directory, not to the file.
      assert.throws(() => load([second]), /ENOENT: no such file or directory, open 'prod\.token'/)
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = saved
    }
  })

  test('--context picks another context; paths are relative to the file that holds them', async () => {
    const { kc, context, namespace, server } = await loadKubeConfig({
      context: 'prod',
      env: { KUBECONFIG: [first, second].join(delimiter) },
    })
    assert.equal(context, 'prod')
    assert.equal(namespace, 'default')
    assert.equal(server, 'https://prod.example:6443')
    assert.equal(kc.getCurrentCluster()?.caFile, join(tmp.path, 'other', 'certs', 'ca.pem'))
    // token-file is read for the user in use, trimmed like kubectl does.
    assert.equal(kc.getCurrentUser()?.token, 'prod-token')
  })

  test('--cluster and --user override the context’s', async () => {
    const { kc, context, server } = await loadKubeConfig({
      cluster: 'prod-cluster',
      user: 'dev-user',
      env: { KUBECONFIG: [first, second].join(delimiter) },
    })
    assert.equal(context, 'dev')
    assert.equal(server, 'https://prod.example:6443')
    assert.equal(kc.getCurrentUser()?.token, 'dev-token')
  })

  test('a user with token and token-file: the file wins, as in client-go', async () => {
    const dir = join(tmp.path, 'both-tokens')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'fresh.token'), 'fresh-token\n')
    const path = join(dir, 'config')
    await writeFile(
      path,
      config({
        current: 'k',
        clusters: [{ name: 'c', server: 'https://both.example' }],
        contexts: [{ name: 'k', cluster: 'c', user: 'u' }],
        users: [{ name: 'u', body: 'token: stale-token\ntoken-file: fresh.token' }],
      }),
    )
    const { kc } = await loadKubeConfig({ kubeconfig: path, env: {} })
    assert.equal(kc.getCurrentUser()?.token, 'fresh-token')
  })

  test('--kubeconfig wins over KUBECONFIG', async () => {
    const { context } = await loadKubeConfig({ kubeconfig: second, env: { KUBECONFIG: first } })
    assert.equal(context, 'prod')
  })
})

describe('default locations', () => {
  test('~/.kube/config from HOME', async () => {
    const home = join(tmp.path, 'home')
    await mkdir(join(home, '.kube'), { recursive: true })
    await writeFile(
      join(home, '.kube', 'config'),
      config({
        current: 'k',
        clusters: [{ name: 'c', server: 'https://home.example' }],
        contexts: [{ name: 'k', cluster: 'c' }],
      }),
    )
    const { context, server, kc } = await loadKubeConfig({ env: { HOME: home } })
    assert.equal(context, 'k')
    assert.equal(server, 'https://home.example')
    // The context names no user: client-node gets one without credentials (so it keeps the cluster's TLS).
    const user = kc.getCurrentUser()
    assert.ok(user, 'a user for client-node')
    for (const key of [
      'token',
      'username',
      'password',
      'exec',
      'authProvider',
      'certData',
      'certFile',
    ] as const)
      assert.equal(user[key], undefined, key)
  })

  test('in-cluster service account when there is no kubeconfig', async () => {
    const sa = join(tmp.path, 'sa')
    await mkdir(sa, { recursive: true })
    await writeFile(join(sa, 'token'), 'sa-token\n')
    await writeFile(join(sa, 'namespace'), 'apps')
    await writeFile(join(sa, 'ca.crt'), 'not read until a request')
    const env = {
      HOME: join(tmp.path, 'empty-home'),
      KUBERNETES_SERVICE_HOST: 'fd00::1',
      KUBERNETES_SERVICE_PORT: '443',
    }
    const { kc, context, namespace, server } = await loadKubeConfig({ env, serviceAccountDir: sa })
    assert.equal(context, 'in-cluster')
    assert.equal(namespace, 'apps')
    assert.equal(server, 'https://[fd00::1]:443')
    assert.equal(kc.getCurrentUser()?.token, 'sa-token')
    assert.equal(kc.getCurrentCluster()?.caFile, join(sa, 'ca.crt'))
    const withPodNs = await loadKubeConfig({ env: { ...env, POD_NAMESPACE: 'other' }, serviceAccountDir: sa })
    assert.equal(withPodNs.namespace, 'other')
  })
})

describe('errors: one line, naming the file, no credentials', () => {
  test('no kubeconfig at all: the command says what it offers instead of a cluster', async () => {
    const withoutCluster = 'use -f to scan manifests'
    const nowhere = { HOME: join(tmp.path, 'nowhere') }
    const noSa = join(tmp.path, 'no-sa')
    await rejectsWith(
      loadKubeConfig({ env: nowhere, serviceAccountDir: noSa, withoutCluster }),
      'no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or use -f to scan manifests',
    )
    await rejectsWith(
      loadKubeConfig({ env: nowhere, serviceAccountDir: noSa }),
      'no kubeconfig found: set KUBECONFIG, pass --kubeconfig',
    )
    const missing = join(tmp.path, 'missing-a')
    await rejectsWith(
      loadKubeConfig({ env: { KUBECONFIG: missing }, serviceAccountDir: noSa, withoutCluster }),
      `no kubeconfig found: KUBECONFIG names a file that does not exist (${missing}); check KUBECONFIG or pass --kubeconfig, or use -f to scan manifests`,
    )
  })

  test('missing --kubeconfig file', async () => {
    const path = join(tmp.path, 'nope.yaml')
    await rejectsWith(
      loadKubeConfig({ kubeconfig: path, env: {} }),
      `kubeconfig ${path}: file not found; check the path given to --kubeconfig`,
    )
  })

  test('unreadable YAML: file and line, without the offending text', async () => {
    const path = await file('apiVersion: v1\nusers:\n- name: u\n  user:\n    token: "super-secret\n')
    await assert.rejects(loadKubeConfig({ kubeconfig: path, env: {} }), (err: Error) => {
      assert.ok(err instanceof UserError)
      assert.match(
        err.message,
        new RegExp(
          `^kubeconfig ${path}:\\d+: unreadable YAML \\(.+\\); fix the file or check the path given to --kubeconfig$`,
        ),
      )
      assert.ok(!err.message.includes('super-secret'))
      return true
    })
    const notMap = await file('- just\n- a list\n')
    await rejectsWith(
      loadKubeConfig({ kubeconfig: notMap, env: {} }),
      `kubeconfig ${notMap}: not a kubeconfig (expected a mapping with clusters, contexts and users)`,
    )
  })

  test('no current-context, unknown context, unknown user, cluster without server', async () => {
    const noCurrent = await file(
      config({
        clusters: [{ name: 'c', server: 'https://x' }],
        contexts: [
          { name: 'a', cluster: 'c' },
          { name: 'b', cluster: 'c' },
        ],
      }),
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: noCurrent, env: {} }),
      `${noCurrent} has no current-context: pass --context (contexts: "a", "b") or run kubectl config use-context NAME`,
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: noCurrent, context: 'zzz', env: {} }),
      `context "zzz" not found in ${noCurrent} (contexts: "a", "b"); pass --context NAME`,
    )
    const stale = await file(
      config({
        current: 'gone',
        clusters: [{ name: 'c', server: 'https://x' }],
        contexts: [{ name: 'a', cluster: 'c' }],
      }),
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: stale, env: {} }),
      `current-context "gone" of ${stale} is not defined in ${stale} (contexts: "a"); pass --context NAME or run kubectl config use-context NAME`,
    )
    const dangling = await file(
      config({
        current: 'a',
        clusters: [{ name: 'c', server: 'https://x' }],
        contexts: [{ name: 'a', cluster: 'c', user: 'ghost' }],
        users: [{ name: 'u', body: token('t0p-secret') }],
      }),
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: dangling, env: {} }),
      `user "ghost" of context "a" not found in ${dangling} (users: "u")`,
    )
    const noServer = await file(
      'current-context: a\nclusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: a\n  context: {cluster: c}\n',
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: noServer, env: {} }),
      `kubeconfig ${noServer}: cluster "c" has no server URL`,
    )
    const badTokenFile = await file(oneUser('token-file: missing.token'))
    await rejectsWith(
      loadKubeConfig({ kubeconfig: badTokenFile, env: {} }),
      `user "u" in ${badTokenFile}: token file ${join(tmp.path, 'missing.token')}: file not found`,
    )
  })

  test('impersonation fields of the wrong type', async () => {
    for (const [body, why] of [
      ['as: dave\nas-groups: auditors', 'as-groups must be a list of strings'],
      ['as: dave\nas-uid: [1]', 'as-uid must be a string'],
      ['as: dave\nas-user-extra: {team: blue}', 'as-user-extra must map names to lists of strings'],
      ['as: [dave, erin]', 'as must be a string'],
    ]) {
      const path = await file(oneUser(`${token('t0p-secret')}\n${body}`))
      await rejectsWith(loadKubeConfig({ kubeconfig: path, env: {} }), `kubeconfig ${path}: user "u": ${why}`)
    }
  })

  test('groups, uid or extra without a user to impersonate: refused as client-go refuses them', async () => {
    const path = await file(oneUser(`${token('t0p-secret')}\nas-groups: [auditors]`))
    const why =
      'requesting uid, groups or user-extra without impersonating a user; set as in the kubeconfig user or pass --as'
    await rejectsWith(loadKubeConfig({ kubeconfig: path, env: {} }), `kubeconfig ${path}: user "u": ${why}`)
    // --as supplies the user; --as-group alone on a user without as is refused the same way.
    await loadKubeConfig({ kubeconfig: path, env: {}, impersonate: { user: 'dave' } })
    const plain = await file(
      config({
        current: 'a',
        clusters: [{ name: 'c', server: 'https://x' }],
        contexts: [{ name: 'a', cluster: 'c' }],
      }),
    )
    await rejectsWith(
      loadKubeConfig({ kubeconfig: plain, env: {}, impersonate: { groups: ['auditors'] } }),
      `the impersonation flags: ${why}`,
    )
  })
})
