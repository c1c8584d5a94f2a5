// `kubectl images vector` as a user runs it without a cluster or a registry: output formats, overwrites from
// the environment and from a component file, invalid files and flags, and exit codes.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { runCli } from '../support/cli.ts'

const EXAMPLE = fileURLToPath(new URL('../../examples/vector/images.yaml', import.meta.url))

describe('kubectl images vector without a cluster', () => {
  let dir: string
  let env: NodeJS.ProcessEnv
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-vector-cli-'))
    // No kubeconfig anywhere: a run that tried to reach a cluster would fail.
    env = { KUBECONFIG: join(dir, 'no-such-config'), HOME: dir, XDG_CACHE_HOME: join(dir, 'cache') }
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('-o vector: the resolved, flattened vector, itself a valid vector; stdin works', async () => {
    const text = await readFile(EXAMPLE, 'utf8')
    const [run, again] = await Promise.all([
      runCli(
        ['vector', EXAMPLE, '--no-cluster', '--target-version', '1.35.0', '--arch', 'arm64', '-o', 'vector'],
        {
          env,
        },
      ),
      runCli(['vector', '-', '--no-cluster', '--target-version', '1.35.0', '--name', 'etcd', '-o', 'json'], {
        env,
        input: text,
      }),
    ])
    assert.equal(run.code, 0, run.stderr)
    assert.match(
      run.stdout,
      /^# Resolved by kubectl images vector from \S+images\.yaml\n# target version 1\.35\.0, architecture arm64\n/,
    )
    const flat = parse(run.stdout) as { images: Array<Record<string, unknown>> }
    assert.equal(flat.images.length, 71)
    const byName = Object.fromEntries(flat.images.map((e) => [e.name, e]))
    assert.deepEqual(byName['cluster-autoscaler'], {
      name: 'cluster-autoscaler',
      repository: 'europe-docker.pkg.dev/gardener-project/releases/gardener/autoscaler/cluster-autoscaler',
      tag: 'v1.35.1',
      sourceRepository: 'github.com/gardener/autoscaler',
    })
    assert.equal(byName['kube-apiserver']!.tag, 'v1.35.0')
    assert.equal(byName['fluent-bit']!.tag, 'v5.1.1-arm64')
    assert.equal(byName['ingress-default-backend']!.version, '0.27.0')
    assert.match(String(byName['kubernetes-dashboard-metrics-scraper']!.ref), /@sha256:/)
    assert.match(
      run.stderr,
      /^81 entries, 71 names; target version 1\.35\.0, architecture arm64: 71 resolved$/m,
    )

    assert.equal(again.code, 0, again.stderr)
    const doc = JSON.parse(again.stdout) as { file: string; items: Array<{ image: string }> }
    assert.equal(doc.file, '<stdin>')
    assert.deepEqual(
      doc.items.map((i) => i.image),
      ['gcr.io/etcd-development/etcd:v3.5.27'],
    )
  })

  test('-o vector quotes what go-yaml v2 (Gardener) would read as booleans; stdin is read once', async () => {
    const odd = ['images:', '- name: "on"', '  repository: reg/on', '  tag: "yes"', ''].join('\n')
    const [run, twice] = await Promise.all([
      runCli(['vector', '-', '--no-cluster', '--target-version', '1.30.0', '-o', 'vector'], {
        env,
        input: odd,
      }),
      runCli(['vector', '-', '--overwrite', '-', '--no-cluster', '--target-version', '1.30.0'], {
        env,
        input: odd,
      }),
    ])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /\n {2}- name: "on"\n|\n- name: "on"\n/)
    assert.match(run.stdout, /\n {2,4}tag: "yes"\n/)
    assert.equal(twice.code, 2)
    assert.equal(twice.stderr, 'error: stdin (-) can be given once, as the vector or as one --overwrite\n')
  })

  test('overwrites: $IMAGEVECTOR_OVERWRITE and a component file; an overwrite entry that never wins is a warning', async () => {
    const mirror = join(dir, 'mirror.yaml')
    const components = join(dir, 'components.yaml')
    await writeFile(
      mirror,
      [
        'images:',
        '# repeats the key of the base entry: replaced in place, tag kept',
        '- name: pause-container',
        '  repository: mirror.example.com/pause',
        '# no targetVersion: a new key, appended, and the base entry still wins for 1.35',
        '- name: cluster-autoscaler',
        '  repository: mirror.example.com/ca',
        '  tag: v9.9.9',
        '',
      ].join('\n'),
    )
    await writeFile(
      components,
      [
        'components:',
        '- name: etcd-druid',
        '  imageVectorOverwrite: |',
        '    images:',
        '    - name: etcd',
        '      ref: mirror.example.com/etcd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        '',
      ].join('\n'),
    )
    const run = await runCli(
      [
        'vector',
        EXAMPLE,
        '--no-cluster',
        '--target-version',
        '1.35.0',
        '--overwrite',
        components,
        '--component',
        'etcd-druid',
        '--name',
        'pause-container',
        '--name',
        'cluster-autoscaler',
        '--name',
        'etcd',
      ],
      { env: { ...env, IMAGEVECTOR_OVERWRITE: mirror } },
    )
    assert.equal(run.code, 0, run.stderr)
    assert.match(
      run.stdout,
      /^pause-container\s+mirror\.example\.com\/pause:3\.10\s+\S+images\.yaml:62 \+ \S+mirror\.yaml:3\s+only entry$/m,
    )
    assert.match(
      run.stdout,
      /^cluster-autoscaler\s+europe-docker\S+:v1\.35\.1\s+\S+images\.yaml:137\s+targetVersion ">= 1\.35"; score 2 beats 1 \(1 other match\)$/m,
    )
    assert.match(
      run.stdout,
      /^etcd\s+mirror\.example\.com\/etcd@sha256:0123\S+\s+\S+images\.yaml:75 \+ \S+components\.yaml:5\s+only entry$/m,
    )
    assert.match(
      run.stderr,
      /^warning: \S+mirror\.yaml:6: overwrite entry "cluster-autoscaler" is not used for target version 1\.35\.0, architecture amd64: its key \(no runtimeVersion, no targetVersion, no architectures\) differs from every base entry of that name, so it was appended, and \S+images\.yaml:137 \(targetVersion ">= 1\.35"\) wins with score 2 to 1; repeat/m,
    )
    assert.match(
      run.stderr,
      /^overwrite \S+mirror\.yaml \(\$IMAGEVECTOR_OVERWRITE\): 2 entries, 1 merged in place, 1 appended$/m,
    )
    assert.match(
      run.stderr,
      /^overwrite \S+components\.yaml \(--overwrite, component etcd-druid\): 1 entry, 1 merged in place, 0 appended$/m,
    )
  })

  test('an invalid vector: every problem with file, line, field and entry, exit 1; a bad flag: exit 2', async () => {
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'images:\n- name: kube-proxy\n  targetVersion: "~> 1.x, latest"\n')
    const [run, flag] = await Promise.all([
      runCli(['vector', bad, '--no-cluster'], { env }),
      runCli(['vector', EXAMPLE, '--no-cluster', '--target-version', 'latest'], { env }),
    ])
    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.equal(
      run.stderr,
      [
        `error: ${bad}:2: images[0].ref/repository: Required value: either image ref or repository+tag is required (entry "kube-proxy")`,
        `error: ${bad}:3: images[0].targetVersion: Invalid value: "~> 1.x, latest": improper constraint: "~> 1.x, latest" (entry "kube-proxy")`,
        `error: ${bad} is not a valid image vector (2 errors)`,
        '',
      ].join('\n'),
    )
    assert.equal(flag.code, 2)
    assert.equal(
      flag.stderr,
      'error: invalid --target-version "latest": not a semantic version (e.g. 1.33.4 or v1.33)\n',
    )
  })

  test('unresolved names with --fail-on unresolved exit 3; without a target version tag-less entries are untagged', async () => {
    const [old, none] = await Promise.all([
      runCli(
        [
          'vector',
          EXAMPLE,
          '--no-cluster',
          '--target-version',
          '1.31.0',
          '--fail-on',
          'unresolved',
          '-o',
          'json',
        ],
        {
          env,
        },
      ),
      runCli(
        ['vector', EXAMPLE, '--no-cluster', '--name', 'kube-apiserver', '--name', 'node-problem-detector'],
        { env },
      ),
    ])
    assert.equal(old.code, 3)
    assert.match(old.stderr, /^error: 1 name without a tagged image \(--fail-on unresolved\)$/m)
    const doc = JSON.parse(old.stdout) as { items: Array<{ name: string; error?: string; why: string }> }
    const ca = doc.items.find((i) => i.name === 'cluster-autoscaler')!
    assert.equal(
      ca.error,
      'could not find image "cluster-autoscaler" opts target version 1.31.0 architecture amd64',
    )
    assert.match(ca.why, /^no entry matches \(targetVersion ">= 1\.35" excludes 1\.31\.0; /)

    assert.equal(none.code, 0, none.stderr)
    assert.match(
      none.stdout,
      /^kube-apiserver\s+registry\.k8s\.io\/kube-apiserver\s+\S+\s+only entry; no tag and no target version: untagged$/m,
    )
    assert.match(
      none.stdout,
      /^node-problem-detector\s+\S+:v1\.36\.0\s+\S+\s+targetVersion ">= 1\.36" \(not checked\); first of 4 matches with score 1$/m,
    )
    assert.match(
      none.stderr,
      /^warning: no target version: the targetVersion constraints of 4 entries are not checked, so each name takes its first entry \(pass --target-version\)$/m,
    )
    assert.match(none.stderr, /: 1 resolved, 1 untagged$/m)
  })
})
