// readManifests: files, directories, stdin, multi-document YAML, List objects, and file:line errors.
import assert from 'node:assert/strict'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { stringify } from 'yaml'
import { readManifests } from '../../src/cluster/manifests.ts'
import type { ImageInventory } from '../../src/cluster/types.ts'
import { UserError } from '../../src/util/errors.ts'
import { cronJob, daemonSet, deployment, job, pod, statefulSet } from '../support/kube-fixtures.ts'
import { makeTempDir } from '../support/lifecycle.ts'

let tmp: { path: string; remove(): Promise<void> }
before(async () => {
  tmp = await makeTempDir('manifests')
})
after(() => tmp?.remove())

/** Rendered manifests carry no status or server-set metadata. */
function rendered(o: {
  apiVersion: string
  kind: string
  metadata: Record<string, unknown>
  spec?: unknown
}) {
  const { name, namespace, annotations, labels } = o.metadata
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name, namespace, annotations, labels },
    spec: o.spec,
  }
}

function rows(inv: ImageInventory): string[] {
  return inv.images.map(
    (r) =>
      `${r.workload.namespace ?? '-'} ${r.workload.kind}/${r.workload.name} ${r.containerKind}:${r.container} ${r.image}`,
  )
}

const yamlDocs = (...objs: unknown[]) => objs.map((o) => stringify(o)).join('---\n')

describe('readManifests', () => {
  test('multi-document YAML: workloads kept, other kinds and empty documents ignored', async () => {
    const path = join(tmp.path, 'app.yaml')
    const web = rendered(
      deployment('shop', 'web', {
        containers: ['nginx:1.27.3'],
        initContainers: ['busybox:1.36'],
        imagePullSecrets: ['regcred'],
        annotations: { 'kubectl-images.io/policy': 'semver', 'example.com/replicas': '3' },
      }),
    )
    const text = [
      '# rendered by helm',
      '---',
      stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web' },
        spec: { ports: [{ port: 80 }] },
      }),
      '---',
      '',
      '---',
      stringify(web),
      '---',
      // A CRD reusing a workload kind name in its own group is not a workload.
      stringify({ apiVersion: 'batch.volcano.sh/v1alpha1', kind: 'Job', metadata: { name: 'v' }, spec: {} }),
      '---',
      stringify(rendered(cronJob('shop', 'report', { containers: ['python:3.13-slim'] }))),
    ].join('\n')
    await writeFile(path, text)
    const inv = await readManifests([path])
    assert.equal(inv.source, 'manifests')
    assert.deepEqual(inv.warnings, [])
    assert.deepEqual(rows(inv), [
      'shop CronJob/report container:python python:3.13-slim',
      'shop Deployment/web container:nginx nginx:1.27.3',
      'shop Deployment/web init:busybox busybox:1.36',
    ])
    const nginx = inv.images[1]
    assert.deepEqual(nginx?.runningDigests, [])
    assert.equal(nginx?.pods, 0)
    assert.deepEqual(nginx?.imagePullSecrets, ['regcred'])
    assert.equal(nginx?.annotations['kubectl-images.io/policy'], 'semver')
    assert.deepEqual(nginx?.workload, {
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      namespace: 'shop',
      name: 'web',
    })
  })

  test('List objects, typed lists, JSON, and the -n namespace for objects without one', async () => {
    const dir = join(tmp.path, 'lists')
    await mkdir(dir)
    const noNs = (o: ReturnType<typeof rendered>) => ({
      ...o,
      metadata: { ...o.metadata, namespace: undefined },
    })
    await writeFile(
      join(dir, 'list.yaml'),
      stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          noNs(rendered(statefulSet('x', 'db', { containers: ['postgres:16.4'] }))),
          rendered(daemonSet('kube-system', 'agent', { containers: ['quay.io/acme/agent:0.9.1'] })),
        ],
      }),
    )
    const typedItem = rendered(job('x', 'migrate', { containers: ['ghcr.io/acme/migrate:1.0.0'] }))
    const { apiVersion: _a, kind: _k, ...withoutType } = typedItem
    await writeFile(
      join(dir, 'jobs.json'),
      JSON.stringify({
        apiVersion: 'batch/v1',
        kind: 'JobList',
        items: [{ ...withoutType, metadata: { name: 'migrate' } }],
      }),
    )
    const inv = await readManifests([dir], { namespace: 'team' })
    assert.deepEqual(rows(inv), [
      'kube-system DaemonSet/agent container:agent quay.io/acme/agent:0.9.1',
      'team Job/migrate container:migrate ghcr.io/acme/migrate:1.0.0',
      'team StatefulSet/db container:postgres postgres:16.4',
    ])
    const bare = await readManifests([join(dir, 'list.yaml')])
    assert.equal(bare.images.find((r) => r.workload.name === 'db')?.workload.namespace, undefined)
  })

  test('directories: recursive, sorted, only .yaml/.yml/.json; a named file of any extension is read', async () => {
    const root = join(tmp.path, 'tree')
    await mkdir(join(root, 'b', 'nested'), { recursive: true })
    await mkdir(join(root, 'a'), { recursive: true })
    const d = (name: string, image: string) =>
      stringify(rendered(deployment('ns', name, { containers: [image] })))
    await writeFile(join(root, 'b', 'nested', 'deep.yml'), d('deep', 'redis:7.4.1'))
    await writeFile(join(root, 'a', 'one.yaml'), d('one', 'nginx:1.27.3'))
    await writeFile(join(root, 'README.md'), 'not: [a manifest')
    await writeFile(join(root, 'two.txt'), d('two', 'httpd:2.4.62'))
    // A link back up the tree must not loop.
    await symlink(root, join(root, 'b', 'loop'))
    const inv = await readManifests([root])
    assert.deepEqual(
      inv.images.map((r) => r.workload.name),
      ['deep', 'one'],
    )
    const withTxt = await readManifests([root, join(root, 'two.txt')])
    assert.deepEqual(
      withTxt.images.map((r) => r.workload.name),
      ['deep', 'one', 'two'],
    )
    const empty = join(tmp.path, 'empty')
    await mkdir(empty)
    assert.deepEqual((await readManifests([empty])).warnings, [
      { message: `${empty}: no .yaml, .yml or .json files` },
    ])
  })

  test('stdin with -', async () => {
    const text = yamlDocs(
      rendered(pod('default', 'tool', { containers: ['alpine:3.20'] })),
      rendered(deployment('default', 'api', { containers: ['ghcr.io/acme/api:2.4.1'] })),
    )
    const inv = await readManifests(['-'], { stdin: Readable.from([Buffer.from(text)]) })
    assert.deepEqual(rows(inv), [
      'default Deployment/api container:api ghcr.io/acme/api:2.4.1',
      'default Pod/tool container:alpine alpine:3.20',
    ])
  })

  test('JSON from kubectl get -o json reads as the same YAML does; broken JSON gets a line like YAML', async () => {
    const dir = join(tmp.path, 'json')
    await mkdir(dir)
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [rendered(deployment('ns', 'api', {})), rendered(cronJob('ns', 'nightly', {}))],
    }
    const asJson = join(dir, 'list.json')
    const asYaml = join(dir, 'list.yaml')
    await writeFile(asJson, `\n ${JSON.stringify(list, null, 2)}\n`)
    await writeFile(asYaml, stringify(list))
    const fromJson = rows(await readManifests([asJson]))
    assert.equal(fromJson.length, 2)
    assert.deepEqual(fromJson, rows(await readManifests([asYaml])))
    const broken = join(dir, 'broken.json')
    await writeFile(broken, '{\n  "kind": "List",\n  "items": [\n    {"kind" "x"}\n  ]\n}\n')
    await assert.rejects(
      readManifests([broken]),
      (err: Error) => err instanceof UserError && err.message.startsWith(`${broken}:4: `),
    )
  })

  test('back-to-back JSON documents (jq output), compact and pretty, with a UTF-8 byte order mark', async () => {
    const objs = [rendered(deployment('ns', 'api', {})), rendered(cronJob('ns', 'nightly', {}))]
    const expected = rows(
      await readManifests(['-'], { stdin: Readable.from([Buffer.from(yamlDocs(...objs))]) }),
    )
    assert.equal(expected.length, 2)
    const compact = objs.map((o) => JSON.stringify(o)).join('\n')
    const pretty = objs.map((o) => JSON.stringify(o, null, 2)).join('\n')
    for (const text of [compact, pretty, `\ufeff${compact}`, objs.map((o) => JSON.stringify(o)).join('')]) {
      const inv = await readManifests(['-'], { stdin: Readable.from([Buffer.from(text)]) })
      assert.deepEqual(rows(inv), expected)
    }
  })

  test('UTF-16 files with a byte order mark read like UTF-8 (Windows PowerShell writes them); NUL bytes are an error', async () => {
    const dir = join(tmp.path, 'utf16')
    await mkdir(dir)
    const text = yamlDocs(rendered(deployment('ns', 'web', { containers: ['nginx:1.27.3'] })))
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
    const be = Buffer.from(le)
    be.swap16()
    await writeFile(join(dir, 'le.yaml'), le)
    await writeFile(join(dir, 'be.yaml'), be)
    for (const name of ['le.yaml', 'be.yaml']) {
      assert.deepEqual(rows(await readManifests([join(dir, name)])), [
        'ns Deployment/web container:nginx nginx:1.27.3',
      ])
    }
    const noBom = join(dir, 'no-bom.yaml')
    await writeFile(noBom, Buffer.from(text, 'utf16le'))
    await assert.rejects(
      readManifests([noBom]),
      (err: Error) =>
        err instanceof UserError &&
        err.message === `${noBom}: not a text manifest (it holds NUL bytes); save it as UTF-8`,
    )
  })

  test('containers without an image (an unset Helm value) are a warning per file, not silently dropped', async () => {
    const text = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web, namespace: ns}',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      '      - {name: app, image: ""}',
      '      - {name: side, image: 42}',
      '      - {name: ok, image: "nginx:1.27.3"}',
      '---',
      'apiVersion: batch/v1',
      'kind: Job',
      'metadata: {name: once}',
      'spec: {template: {spec: {containers: 5}}}',
      '',
    ].join('\n')
    const inv = await readManifests(['-'], { stdin: Readable.from([Buffer.from(text)]) })
    assert.deepEqual(rows(inv), ['ns Deployment/web container:ok nginx:1.27.3'])
    assert.deepEqual(inv.warnings, [
      {
        message:
          '<stdin>: Deployment/web container app has no image; Deployment/web container side has no image; Job/once: containers is not a list: not scanned',
      },
    ])
  })

  test('merge keys, custom tags, and aliased Lists nested ten deep read once, not exponentially', async () => {
    const dir = join(tmp.path, 'aliases')
    await mkdir(dir)
    const merged = join(dir, 'merged.yaml')
    await writeFile(
      merged,
      [
        'apiVersion: v1',
        'kind: List',
        'items:',
        '- apiVersion: apps/v1',
        '  kind: Deployment',
        '  metadata: {name: api, annotations: {note: !custom tagged}}',
        '  spec: &spec',
        '    template: {spec: {containers: [{name: c, image: "ghcr.io/acme/api:1.0"}]}}',
        '- apiVersion: apps/v1',
        '  kind: StatefulSet',
        '  metadata: {name: db}',
        '  spec:',
        '    <<: *spec',
        '    replicas: 2',
        '',
      ].join('\n'),
    )
    assert.deepEqual(rows(await readManifests([merged])), [
      '- Deployment/api container:c ghcr.io/acme/api:1.0',
      '- StatefulSet/db container:c ghcr.io/acme/api:1.0',
    ])
    // An alias into another document is an error the yaml package finds when it builds the document.
    const across = join(dir, 'across.yaml')
    await writeFile(across, 'base: &b {x: 1}\n---\nkind: Deployment\nspec:\n  <<: *b\n')
    await assert.rejects(
      readManifests([across]),
      (err: Error) => err instanceof UserError && err.message.startsWith(`${across}:3: `),
    )
    const deployment =
      '{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {template: {spec: {containers: [{name: c, image: "x:1"}]}}}}'
    const nine = (alias: string) => `[${Array.from({ length: 9 }, () => alias).join(', ')}]`
    const lists = [`- &l0 {kind: List, items: [&d ${deployment}, *d, *d]}`]
    for (let i = 1; i <= 10; i++) lists.push(`- &l${i} {kind: List, items: ${nine(`*l${i - 1}`)}}`)
    const bomb = join(dir, 'bomb.yaml')
    await writeFile(bomb, `kind: List\nitems:\n${lists.join('\n')}\n`)
    assert.deepEqual(rows(await readManifests([bomb])), ['- Deployment/d container:c x:1'])
  })

  test('a document that does not parse: file and line', async () => {
    const dir = join(tmp.path, 'bad')
    await mkdir(dir)
    const path = join(dir, 'app.yaml')
    const good = stringify(rendered(deployment('ns', 'fine', {})))
    await writeFile(path, `${good}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n labels: {}\n`)
    // `good` ends with a newline: its line count is length - 1; the bad line is the sixth after it.
    const line = good.split('\n').length - 1 + 6
    await assert.rejects(readManifests([path]), (err: Error) => {
      assert.ok(err instanceof UserError)
      assert.match(err.message, new RegExp(`^${path}:${line}: \\S`))
      assert.ok(!err.message.includes('\n'))
      return true
    })
    await assert.rejects(
      readManifests(['-'], { stdin: Readable.from(['a: [unclosed\n']) }),
      (err: Error) => err instanceof UserError && /^<stdin>:\d+: /.test(err.message),
    )
    const missing = join(tmp.path, 'nope.yaml')
    await assert.rejects(
      readManifests([missing]),
      (err: Error) =>
        err instanceof UserError &&
        err.message === `${missing}: no such file or directory; check the -f path`,
    )
  })
})
