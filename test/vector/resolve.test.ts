// Reading with lines, overwrites (files, environment, components) and the resolution of a whole vector:
// which entry won and why, and the warnings for overwrite entries that never win.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { loadVector } from '../../src/vector/load.ts'
import { readComponentOverwrite, readImageVector, VectorReadError } from '../../src/vector/read.ts'
import { flattenVector, resolveVector } from '../../src/vector/resolve.ts'
import type { VectorEntry } from '../../src/vector/types.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/vector/images.yaml', import.meta.url))

function readError(text: string, file = 'v.yaml'): VectorReadError {
  try {
    readImageVector(text, file)
  } catch (error) {
    assert.ok(error instanceof VectorReadError, String(error))
    return error
  }
  assert.fail('expected the read to fail')
}

describe('reading: positions, YAML 1.1 scalars as Gardener decodes them, what is kept', () => {
  test('validation errors name the file, the line, the field and the entry', () => {
    const error = readError(
      [
        'images:',
        '- name: etcd',
        '  repository: gcr.io/etcd',
        '  tag: ""',
        '- name: kube-proxy',
        '  ref: registry.k8s.io/kube-proxy:v1.33.0',
        '  repository: registry.k8s.io/kube-proxy',
        '- repository: quay.io/x',
        '  targetVersion: ">= 1.30,"',
        '',
      ].join('\n'),
    )
    assert.deepEqual(error.lines(), [
      'v.yaml:4: images[0].tag: Invalid value: "": image tag must not be empty if specified (entry "etcd")',
      'v.yaml:7: images[1].repository: Forbidden: cannot specify repository when ref is set (entry "kube-proxy")',
      'v.yaml:8: images[2].name: Required value: image name is required',
      'v.yaml:9: images[2].targetVersion: Invalid value: ">= 1.30,": improper constraint: ">= 1.30,"',
    ])
    assert.equal(error.message, 'v.yaml is not a valid image vector: 4 errors')
    assert.match(error.goMessage, /^\[images\[0\]\.tag: Invalid value: "": image tag must not be empty/)
  })

  test('an unquoted number in a string field fails like sigs.k8s.io/yaml, with a hint to quote it', () => {
    const error = readError(
      'images:\n- name: pause\n  repository: r\n  tag: 3.10\n- name: x\n  repository: r\n  tag: yes\n',
    )
    assert.deepEqual(error.lines(), [
      'v.yaml:4: images[0].tag: cannot unmarshal number into a string; quote it: tag: "3.10"',
      'v.yaml:7: images[1].tag: cannot unmarshal bool into a string; quote it: tag: "yes"',
    ])
  })

  test('sexagesimal and timestamp-looking plain scalars stay strings (go-yaml v2), 1e3 is a number', () => {
    const file = readImageVector(
      'images:\n- name: a\n  repository: r\n  tag: 1:20\n- name: b\n  repository: r\n  tag: 2024-01-02\n',
      'v.yaml',
    )
    assert.deepEqual(
      file.images.map((e) => e.tag),
      ['1:20', '2024-01-02'],
    )
    assert.match(
      readError('images:\n- name: a\n  repository: r\n  tag: 1e3\n').message,
      /cannot unmarshal number/,
    )
  })

  test('structure errors: a bare list, images as a mapping, an entry that is not a mapping, a syntax error', () => {
    assert.match(
      readError('- name: a\n  repository: r\n').lines()[0]!,
      /^v\.yaml:1: expected a mapping with an "images" list, got a list \(a bare list is not an image vector/,
    )
    assert.match(
      readError('images:\n  name: a\n').lines()[0]!,
      /^v\.yaml:2: images: cannot unmarshal object into a list of entries/,
    )
    assert.match(
      readError('images:\n- just-a-string\n').lines()[0]!,
      /^v\.yaml:2: images\[0\]: expected an entry .*got string/,
    )
    assert.match(readError('images:\n- name: a\n  tag: [\n').lines()[0]!, /^v\.yaml:\d+: unreadable YAML/)
    assert.match(
      readError('images:\n- name: a\n  name: b\n  repository: r\n').lines()[0]!,
      /unreadable YAML \(Map keys must be unique/,
    )
  })

  test('empty documents and empty lists are empty vectors; null fields are absent', () => {
    assert.deepEqual(readImageVector('', 'e.yaml').images, [])
    assert.deepEqual(readImageVector('images: []\n', 'e.yaml').images, [])
    assert.deepEqual(readImageVector('images:\n', 'e.yaml').images, [])
    const [entry] = readImageVector(
      'images:\n- name: a\n  repository: r\n  tag:\n  architectures: ~\n',
      'e.yaml',
    ).images
    assert.equal(entry!.tag, undefined)
    assert.equal(entry!.architectures, undefined)
  })

  test('metadata and unknown keys are kept beside the entry; keys match case-insensitively, with a warning', () => {
    const file = readImageVector(
      [
        'images:',
        '- name: a',
        '  sourceRepository: github.com/x/a',
        '  Repository: r',
        '  tag: "1.0"',
        '  labels: [{name: l, value: {k: v}}]',
        '  resourceId: {name: a}',
        '  versions: ">= 1.2"',
        '',
      ].join('\n'),
      'm.yaml',
    )
    const [entry] = file.images
    assert.equal(entry!.repository, 'r')
    assert.deepEqual(entry!.meta, {
      sourceRepository: 'github.com/x/a',
      labels: [{ name: 'l', value: { k: 'v' } }],
      resourceId: { name: 'a' },
      versions: '>= 1.2',
    })
    assert.deepEqual(
      file.warnings.map((w) => `${w.line}: ${w.message}`),
      ['4: images[0]: key "Repository" is read as "repository" (Gardener matches keys case-insensitively)'],
    )
  })

  test('anchors, aliases and merge keys are resolved', () => {
    const file = readImageVector(
      'base: &b {repository: r, tag: "1"}\nimages:\n- <<: *b\n  name: a\n- <<: *b\n  name: b\n  tag: "2"\n',
      'a.yaml',
    )
    assert.deepEqual(
      file.images.map((e) => [e.name, e.repository, e.tag]),
      [
        ['a', 'r', '1'],
        ['b', 'r', '2'],
      ],
    )
  })

  test('an alias refers to the last definition of its anchor before it', () => {
    const file = readImageVector(
      'images:\n- &e {name: a, repository: r, tag: "1"}\n- *e\n- &e {name: b, repository: r, tag: "2"}\n- *e\n',
      'a.yaml',
    )
    assert.deepEqual(
      file.images.map((e) => e.name + e.tag),
      ['a1', 'a1', 'b2', 'b2'],
    )
  })

  test('warnings for what Gardener accepts but is surely a mistake: duplicate keys, version used as a constraint', () => {
    const file = readImageVector(
      'images:\n- name: p\n  repository: r\n  tag: "1"\n- name: p\n  repository: r\n  tag: "2"\n- name: q\n  repository: r\n  version: "1.20.x"\n',
      'w.yaml',
    )
    assert.deepEqual(
      file.warnings.map((w) => `${w.line}: ${w.message.split(':')[0]}`),
      [
        '5: images[1] "p" has the same name, runtimeVersion, targetVersion and architectures as images[0] (line 2)',
        '10: images[2] "q"',
      ],
    )
    assert.match(file.warnings[1]!.message, /version "1\.20\.x" is only displayed, never matched/)
  })

  test('a component overwrite in a block scalar reports the lines of the components file', () => {
    const text = [
      'components:',
      '- name: etcd-druid',
      '  imageVectorOverwrite: |',
      '    images:',
      '    - name: etcd',
      '      repository: mirror/etcd',
      '      tag: ""',
      '- name: ""',
      '  imageVectorOverwrite: "images: []"',
      '',
    ].join('\n')
    try {
      readComponentOverwrite(text, 'components.yaml')
      assert.fail('expected a failure')
    } catch (error) {
      assert.ok(error instanceof VectorReadError)
      assert.deepEqual(error.lines(), [
        'components.yaml:2: components[etcd-druid].imageVectorOverwrite: Invalid value: "images:...": images[0].tag: Invalid value: "": image tag must not be empty if specified',
        '  components.yaml:7: images[0].tag: Invalid value: "": image tag must not be empty if specified (entry "etcd")',
        'components.yaml:8: components[].name: Required value: component name is required',
      ])
    }
  })
})

describe('resolving a whole vector', () => {
  let dir: string
  let base: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-vector-'))
    base = join(dir, 'images.yaml')
    await writeFile(
      base,
      [
        'images:',
        '- name: ca',
        '  repository: reg/ca',
        '  tag: v1.35.1',
        '  targetVersion: ">= 1.35"',
        '- name: ca',
        '  repository: reg/ca',
        '  tag: v1.34.3',
        '  targetVersion: "1.34.x"',
        '- name: kapi',
        '  repository: reg/kube-apiserver',
        '- name: pause',
        '  repository: reg/pause',
        '  tag: "3.10"',
        '  architectures: [amd64]',
        '- name: pause',
        '  repository: reg/pause',
        '  tag: "3.10-arm"',
        '  architectures: [arm64]',
        '',
      ].join('\n'),
    )
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('which entry won and why, the tag of tag-less entries, names without a match', async () => {
    const loaded = await loadVector({ file: base, env: {} })
    const r = resolveVector(loaded.vector, { targetVersion: '1.34.2', architecture: 'arm64' })
    const byName = Object.fromEntries(r.items.map((i) => [i.name, i]))
    assert.equal(byName.ca!.image, 'reg/ca:v1.34.3')
    assert.deepEqual(byName.ca!.entry!.origins, [`${base}:6`])
    assert.equal(byName.ca!.why, 'targetVersion "1.34.x"; only match of 2 entries')
    assert.equal(byName.ca!.candidates[0]!.excludedBy, 'targetVersion ">= 1.35" excludes 1.34.2')
    assert.equal(byName.kapi!.image, 'reg/kube-apiserver:v1.34.2')
    assert.equal(byName.kapi!.tagFrom, 'target-version')
    assert.equal(byName.pause!.image, 'reg/pause:3.10-arm')
    // No architectures means amd64 and arm64, not none.
    const s390x = resolveVector(loaded.vector, {
      targetVersion: '1.34.2',
      architecture: 's390x',
      names: ['kapi'],
    })
    assert.equal(
      s390x.items[0]!.candidates[0]!.excludedBy,
      'architectures (default [amd64, arm64]) exclude s390x',
    )
    assert.equal(
      resolveVector(loaded.vector, { targetVersion: '1.34.2', architecture: 's390x', names: ['pause'] })
        .items[0]!.candidates[0]!.excludedBy,
      'architectures [amd64] exclude s390x',
    )
    const old = resolveVector(loaded.vector, { targetVersion: '1.31.0', names: ['ca'] }).items[0]!
    assert.equal(old.error, 'could not find image "ca" opts target version 1.31.0 ')
    assert.match(
      old.why,
      /^no entry matches \(targetVersion ">= 1\.35" excludes 1\.31\.0; targetVersion "1\.34\.x" excludes 1\.31\.0\)$/,
    )
    const untagged = resolveVector(loaded.vector, { names: ['kapi'] }).items[0]!
    assert.equal(untagged.image, 'reg/kube-apiserver')
    assert.equal(untagged.tagFrom, 'untagged')
    // A caller can give tag-less entries another tag than the raw target version (a cluster's normalised one).
    const eks = resolveVector(loaded.vector, {
      targetVersion: 'v1.34.2-eks-1a2b',
      tagVersion: '1.34.2',
      names: ['kapi'],
    })
    assert.equal(eks.items[0]!.image, 'reg/kube-apiserver:v1.34.2')
  })

  test('an overwrite without the base targetVersion is appended and loses: a warning says so', async () => {
    const over = join(dir, 'over.yaml')
    await writeFile(
      over,
      'images:\n- name: ca\n  repository: mirror/ca\n  tag: v9.9.9\n- name: pause\n  repository: mirror/pause\n  architectures: [amd64]\n',
    )
    const loaded = await loadVector({ file: base, overwrites: [over], env: {} })
    assert.deepEqual(
      loaded.layers.map((l) => [l.via, l.entries, l.merged, l.appended]),
      [['--overwrite', 2, 1, 1]],
    )
    const r = resolveVector(loaded.vector, { targetVersion: '1.35.0' })
    const byName = Object.fromEntries(r.items.map((i) => [i.name, i]))
    assert.equal(byName.ca!.image, 'reg/ca:v1.35.1')
    // The pause overwrite repeats the key of the amd64 entry: merged in place, tag kept.
    assert.equal(byName.pause!.image, 'mirror/pause:3.10')
    assert.deepEqual(byName.pause!.entry!.origins, [`${base}:12`, `${over}:5`])
    assert.equal(r.warnings.length, 1)
    assert.equal(r.warnings[0]!.file, over)
    assert.equal(r.warnings[0]!.line, 2)
    assert.equal(
      r.warnings[0]!.message,
      `overwrite entry "ca" is not used for target version 1.35.0, architecture amd64: its key (no runtimeVersion, no targetVersion, no architectures) differs from every base entry of that name, so it was appended, and ${base}:2 (targetVersion ">= 1.35") wins with score 2 to 1; repeat the base entry's runtimeVersion, targetVersion and architectures exactly to replace it`,
    )
    // Where no base entry matches, the appended entry is the only match and wins: no warning.
    const r31 = resolveVector(loaded.vector, { targetVersion: '1.31.0', names: ['ca'] })
    assert.equal(r31.items[0]!.image, 'mirror/ca:v9.9.9')
    assert.deepEqual(r31.warnings, [])
  })

  test('an overwrite merged into a base entry that another entry beats is a warning too', async () => {
    const npd = join(dir, 'npd.yaml')
    const over = join(dir, 'npd-over.yaml')
    await writeFile(
      npd,
      'images:\n- name: npd\n  repository: r/npd\n  tag: v1.36.0\n  targetVersion: ">= 1.36"\n- name: npd\n  repository: r/npd\n  tag: v1.34.4\n  targetVersion: ">= 1.34"\n',
    )
    await writeFile(over, 'images:\n- name: npd\n  repository: mirror/npd\n  targetVersion: ">= 1.34"\n')
    const loaded = await loadVector({ file: npd, overwrites: [over], env: {} })
    const r36 = resolveVector(loaded.vector, { targetVersion: '1.36.0' })
    assert.equal(r36.items[0]!.image, 'r/npd:v1.36.0')
    assert.deepEqual(
      r36.warnings.map((w) => [w.file, w.line, w.message]),
      [
        [
          over,
          2,
          `overwrite entry "npd" replaced ${npd}:6 (targetVersion ">= 1.34"), which is not used for target version 1.36.0, architecture amd64: ${npd}:2 (targetVersion ">= 1.36") wins the tie (score 2) by coming first`,
        ],
      ],
    )
    const r34 = resolveVector(loaded.vector, { targetVersion: '1.34.1' })
    assert.equal(r34.items[0]!.image, 'mirror/npd:v1.34.4')
    assert.deepEqual(r34.warnings, [])
  })

  test('$IMAGEVECTOR_OVERWRITE, then a component of $IMAGEVECTOR_OVERWRITE_COMPONENTS, then --overwrite files', async () => {
    const envFile = join(dir, 'env.yaml')
    const components = join(dir, 'components.yaml')
    const flagFile = join(dir, 'flag.json')
    await writeFile(envFile, 'images:\n- name: kapi\n  repository: env/kube-apiserver\n')
    await writeFile(
      components,
      'components:\n- name: other\n  imageVectorOverwrite: "images: []"\n- name: druid\n  imageVectorOverwrite: |\n    images:\n    - name: kapi\n      repository: component/kube-apiserver\n',
    )
    await writeFile(
      flagFile,
      JSON.stringify({ images: [{ name: 'extra', repository: 'x/extra', tag: '1' }] }),
    )
    const env = { IMAGEVECTOR_OVERWRITE: envFile, IMAGEVECTOR_OVERWRITE_COMPONENTS: components }
    const loaded = await loadVector({ file: base, overwrites: [flagFile], component: 'druid', env })
    assert.deepEqual(
      loaded.layers.map((l) => [l.via, l.component ?? '', l.merged, l.appended]),
      [
        ['$IMAGEVECTOR_OVERWRITE', '', 1, 0],
        ['$IMAGEVECTOR_OVERWRITE_COMPONENTS', 'druid', 1, 0],
        ['--overwrite', '', 0, 1],
      ],
    )
    const r = resolveVector(loaded.vector, { targetVersion: '1.33.0', names: ['kapi', 'extra'] })
    assert.deepEqual(
      r.items.map((i) => i.image),
      ['component/kube-apiserver:v1.33.0', 'x/extra:1'],
    )
    // The component's entry is reported at its line in the components file.
    assert.deepEqual(r.items[0]!.entry!.origins, [`${base}:10`, `${envFile}:2`, `${components}:7`])
    // Without --component the components variable is not used; a components file via --overwrite needs it.
    const plain = await loadVector({ file: base, env })
    assert.deepEqual(
      plain.layers.map((l) => l.via),
      ['$IMAGEVECTOR_OVERWRITE'],
    )
    await assert.rejects(loadVector({ file: base, overwrites: [components], env: {} }), {
      message: `${components} holds component overwrites (other, druid); pick one with --component`,
      exitCode: 2,
    })
    await assert.rejects(loadVector({ file: base, overwrites: [components], component: 'nope', env: {} }), {
      message: `component "nope" is not in ${components} (it has: other, druid)`,
    })
    await assert.rejects(
      loadVector({ file: base, component: 'druid', env: {} }),
      /--component druid needs a component overwrite file/,
    )
    await assert.rejects(
      loadVector({ file: join(dir, 'missing.yaml'), env: {} }),
      /cannot read image vector .*missing\.yaml: file not found/,
    )
  })

  test('without an overwrite nothing is merged; with one, duplicate base keys fold into the first entry', async () => {
    const dup = join(dir, 'dup.yaml')
    const empty = join(dir, 'empty.yaml')
    await writeFile(
      dup,
      'images:\n- name: a\n  repository: r\n  tag: "1"\n- name: a\n  repository: r\n  tag: "2"\n',
    )
    await writeFile(empty, 'images: []\n')
    const plain = await loadVector({ file: dup, env: {} })
    assert.equal(resolveVector(plain.vector).items[0]!.image, 'r:1')
    const merged = await loadVector({ file: dup, overwrites: [empty], env: {} })
    assert.equal(merged.vector.length, 1)
    assert.equal(resolveVector(merged.vector).items[0]!.image, 'r:2')
  })
})

describe('the example vector (81 entries, Gardener-shaped)', () => {
  test('resolves for several Kubernetes versions and both architectures', () => {
    const { images } = readImageVector(readFileSync(EXAMPLE, 'utf8'), 'images.yaml')
    assert.equal(images.length, 81)
    const expect: Record<string, Record<string, string>> = {
      '1.32.5': {
        'cluster-autoscaler': ':v1.32.3',
        'metrics-server': ':v0.8.1',
        'node-problem-detector': ':v0.8.25',
        'kube-state-metrics': ':v2.17.0',
        'csi-snapshot-controller': ':v8.2.1',
      },
      '1.33.4': {
        'cluster-autoscaler': ':v1.33.1',
        'kube-state-metrics': ':v2.20.0',
        'kube-apiserver': ':v1.33.4',
      },
      '1.34.0': {
        'cluster-autoscaler': ':v1.34.3',
        'metrics-server': ':v0.9.0',
        'node-problem-detector': ':v1.34.4',
      },
      '1.35.2': { 'cluster-autoscaler': ':v1.35.1', 'node-problem-detector': ':v1.35.3' },
      '1.36.0': { 'node-problem-detector': ':v1.36.0', 'cluster-autoscaler': ':v1.35.1' },
    }
    for (const [version, names] of Object.entries(expect)) {
      for (const arch of ['amd64', 'arm64']) {
        const r = resolveVector(images, {
          targetVersion: version,
          runtimeVersion: version,
          architecture: arch,
        })
        assert.equal(r.items.length, 71)
        assert.deepEqual(
          r.items.filter((i) => i.error).map((i) => i.name),
          [],
          version,
        )
        const byName = Object.fromEntries(r.items.map((i) => [i.name, i.image!]))
        for (const [name, suffix] of Object.entries(names))
          assert.ok(byName[name]!.endsWith(suffix), `${version} ${name}: ${byName[name]}`)
        assert.ok(byName['fluent-bit']!.endsWith(arch === 'arm64' ? ':v5.1.1-arm64' : ':v5.1.1'))
        assert.ok(byName['ingress-default-backend']!.includes('@sha256:'))
        assert.ok(byName['nginx-ingress-controller']!.includes(':v1.15.1@sha256:'))
        assert.ok(byName['kubernetes-dashboard']!.endsWith('/dashboard:v2.7.0'))
      }
    }
    // 1.31 has no cluster-autoscaler (and no csi-snapshot-controller before 1.30).
    const r31 = resolveVector(images, { targetVersion: '1.31.0' })
    assert.deepEqual(
      r31.items.filter((i) => i.error).map((i) => i.name),
      ['cluster-autoscaler'],
    )
  })

  test('the example mirror and component overwrites replace entries in place, with the base tags kept', async () => {
    const dir = fileURLToPath(new URL('../../examples/vector/', import.meta.url))
    const loaded = await loadVector({
      file: join(dir, 'images.yaml'),
      overwrites: [join(dir, 'mirror.yaml'), join(dir, 'components.yaml')],
      component: 'etcd-druid',
      env: {},
    })
    assert.deepEqual(
      loaded.layers.map((l) => [l.entries, l.merged, l.appended]),
      [
        [6, 6, 0],
        [1, 1, 0],
      ],
    )
    assert.deepEqual(loaded.warnings, [])
    const r = resolveVector(loaded.vector, {
      targetVersion: '1.35.2',
      names: ['cluster-autoscaler', 'etcd', 'pause-container'],
    })
    assert.deepEqual(
      r.items.map((i) => i.image),
      [
        'registry.local/mirror/cluster-autoscaler:v1.35.1',
        'registry.local/mirror/etcd:v3.5.27',
        'registry.local/mirror/pause:3.10',
      ],
    )
    assert.deepEqual(r.warnings, [])
  })

  test('the flattened vector is itself a vector that resolves to the same images for any version', () => {
    const { images } = readImageVector(readFileSync(EXAMPLE, 'utf8'), 'images.yaml')
    const r = resolveVector(images, { targetVersion: '1.34.1', architecture: 'arm64' })
    const flat = flattenVector(images, r)
    assert.equal(flat.length, 71)
    assert.deepEqual(flat.find((e) => e.name === 'plutono')!.labels, [
      {
        name: 'gardener.cloud/cve-categorisation',
        value: {
          network_exposure: 'public',
          authentication_enforced: true,
          user_interaction: 'end-user',
          confidentiality_requirement: 'high',
          integrity_requirement: 'high',
          availability_requirement: 'low',
        },
      },
    ])
    const again = readImageVector(JSON.stringify({ images: flat }), 'flat.json').images as VectorEntry[]
    for (const version of ['1.30.0', '1.36.0']) {
      const r2 = resolveVector(again, { targetVersion: version, architecture: 'amd64' })
      assert.deepEqual(
        r2.items.map((i) => i.image),
        r.items.map((i) => i.image),
      )
    }
    assert.equal(parse(JSON.stringify(flat)).length, 71)
  })
})
