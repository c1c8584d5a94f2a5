// The krew archives and manifest scripts/pkg writes, and scripts/validate-krew.ts rejecting what krew rejects.
// Stand-in binaries keep this fast; the real linux-amd64 archive is validated in smoke.test.ts.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse, stringify } from 'yaml'
import { archive, type Built, TARGETS, tarGz, writeManifest } from '../../scripts/pkg.ts'
import { readTarGz, readZip, validateManifest } from '../../scripts/validate-krew.ts'

const run = promisify(execFile)

interface Manifest {
  apiVersion: string
  kind: string
  metadata: { name: string }
  spec: {
    version: string
    shortDescription: string
    platforms: Array<{
      selector: { matchLabels: Record<string, string> }
      uri: string
      sha256: string
      bin: string
      files?: Array<{ from: string; to: string }>
    }>
  }
}

describe('krew archives, manifest and validation', () => {
  let dir: string
  let krewDir: string
  let built: Built[]
  let manifest: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-krew-'))
    krewDir = join(dir, 'krew')
    built = []
    for (const target of Object.values(TARGETS)) {
      const binary = join(dir, 'bin', target.name, `kubectl-images${target.exe}`)
      await mkdir(join(dir, 'bin', target.name), { recursive: true })
      await writeFile(binary, `stand-in executable for ${target.name}\n`.repeat(1000), { mode: 0o755 })
      built.push(await archive(target, binary, krewDir, 1))
    }
    manifest = await writeManifest(built, krewDir, 'https://example.invalid/releases/v{version}/')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  /** Writes a changed copy of the manifest (as `name`) next to the archives and validates it. */
  async function validateVariant(change: (doc: Manifest) => void, name = 'images.yaml') {
    const doc = parse(await readFile(manifest, 'utf8')) as Manifest
    change(doc)
    const variantDir = await mkdtemp(join(krewDir, 'variant-'))
    const path = join(variantDir, name)
    await writeFile(path, stringify(doc))
    return (await validateManifest(path, { archiveDir: krewDir })).errors.join('\n')
  }

  test('the generated manifest has one platform per target and passes every check', async () => {
    const doc = parse(await readFile(manifest, 'utf8')) as Manifest
    assert.equal(doc.apiVersion, 'krew.googlecontainertools.github.com/v1alpha2')
    assert.equal(doc.metadata.name, 'images')
    assert.match(doc.spec.version, /^v\d+\.\d+\.\d+$/)
    assert.deepEqual(
      doc.spec.platforms.map((p) => [p.selector.matchLabels.os, p.selector.matchLabels.arch, p.bin]),
      [
        ['linux', 'amd64', 'kubectl-images'],
        ['linux', 'arm64', 'kubectl-images'],
        ['darwin', 'amd64', 'kubectl-images'],
        ['darwin', 'arm64', 'kubectl-images'],
        ['windows', 'amd64', 'kubectl-images.exe'],
      ],
    )
    assert.equal(
      doc.spec.platforms[4]!.uri,
      `https://example.invalid/releases/v${doc.spec.version.slice(1)}/kubectl-images_windows-amd64.zip`,
    )
    const result = await validateManifest(manifest)
    assert.deepEqual(result.errors, [])
    assert.deepEqual(result.warnings, [])
    assert.deepEqual(result.installed.at(-1), {
      platform: 'windows/amd64',
      files: { 'kubectl-images.exe': 0o755, 'kubectl_complete-images.cmd': 0o644, LICENSE: 0o644 },
    })
  })

  test('the archives read the same with GNU tar and our readers', async () => {
    const tgz = built.find((b) => b.target.name === 'darwin-arm64')!.archive
    const listing = (await run('tar', ['-tzvf', tgz], { encoding: 'utf8' })).stdout
    assert.match(listing, /^-rwxr-xr-x root\/root +\d+ .* kubectl-images$/m)
    assert.match(listing, /^-rwxr-xr-x root\/root +\d+ .* kubectl_complete-images$/m)
    assert.match(listing, /^-rw-r--r-- root\/root +11357 .* LICENSE$/m)
    const entries = readTarGz(await readFile(tgz))
    assert.deepEqual(
      entries.map((e) => e.path),
      ['kubectl-images', 'kubectl_complete-images', 'LICENSE'],
    )
    assert.equal(
      entries[2]!.data.toString(),
      await readFile(new URL('../../LICENSE', import.meta.url), 'utf8'),
    )
    const zip = readZip(await readFile(built.at(-1)!.archive))
    assert.equal(zip[0]!.data.toString(), `stand-in executable for windows-amd64\n`.repeat(1000))
  })

  test('rejects what krew rejects', async () => {
    assert.match(await validateVariant((d) => (d.spec.version = '0.1.0')), /not v-prefixed semver/)
    assert.match(await validateVariant(() => {}, 'kubectl-images.yaml'), /should be named "kubectl-images"/)
    assert.match(await validateVariant((d) => (d.kind = 'Plug')), /only "Plugin" is supported/)
    assert.match(await validateVariant((d) => (d.spec.shortDescription = 'two\nlines')), /line breaks/)
    assert.match(
      await validateVariant((d) => d.spec.platforms.push(d.spec.platforms[0]!)),
      /overlap: both select linux\/amd64/,
    )
    assert.match(
      await validateVariant(
        (d) => (d.spec.platforms[1]!.selector.matchLabels = { os: 'linux', cpu: 'arm64' }),
      ),
      /selector key "cpu" not supported/,
    )
    assert.match(await validateVariant((d) => (d.spec.platforms[2]!.sha256 = 'ABC')), /is not valid/)
    assert.match(await validateVariant((d) => (d.spec.platforms[2]!.files = [])), /unspecified or non-empty/)
    assert.match(
      await validateVariant((d) => (d.spec.platforms[0]!.sha256 = built[1]!.sha256)),
      /spec.platforms\[0\] \(linux\/amd64\) failed to install: .*sha256/,
    )
    assert.match(
      await validateVariant((d) => (d.spec.platforms[3]!.bin = 'kubectl-imagez')),
      /bin kubectl-imagez is not among the installed files/,
    )
    assert.match(
      await validateVariant((d) => (d.spec.platforms[3]!.files = [{ from: 'kubectl-images', to: '.' }])),
      /could not find license file among \[kubectl-images\]/,
    )
    assert.match(
      await validateVariant((d) => d.spec.platforms[3]!.files!.push({ from: 'README*', to: '.' })),
      /no files in the plugin archive matched the glob pattern=README\*/,
    )
  })

  test('a bare binary or an archive without a LICENSE does not install', async () => {
    const target = TARGETS['linux-amd64']!
    const noLicense = tarGz([{ name: 'kubectl-images', mode: 0o755, data: Buffer.from('x') }], 1)
    const bare = Buffer.from('\x7fELF bare executable')
    for (const [data, pattern] of [
      [noLicense, /could not find license file/],
      [bare, /neither application\/x-gzip nor application\/zip/],
    ] as const) {
      const variantDir = await mkdtemp(join(dir, 'bad-'))
      await writeFile(join(variantDir, 'kubectl-images_linux-amd64.tar.gz'), data)
      const path = await writeManifest(
        [
          {
            target,
            binary: '',
            archive: '',
            sha256: createHash('sha256').update(data).digest('hex'),
          },
        ],
        variantDir,
        'https://example.invalid',
      )
      const doc = parse(await readFile(path, 'utf8')) as Manifest
      delete doc.spec.platforms[0]!.files
      await writeFile(path, stringify(doc))
      assert.match((await validateManifest(path)).errors.join('\n'), pattern)
    }
  })
})

test('the scripts run when started through a symlink or from a path with a space', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubectl images scripts '))
  try {
    const link = join(dir, 'validate krew.ts')
    await symlink(fileURLToPath(new URL('../../scripts/validate-krew.ts', import.meta.url)), link)
    const garbage = join(dir, 'garbage.yaml')
    await writeFile(garbage, 'kind: Plugin\n')
    // It must validate (and fail on) the file, not exit 0 having done nothing.
    await assert.rejects(
      run(process.execPath, [link, garbage]),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 1)
        assert.ok(error.stderr?.length, 'says what is wrong')
        return true
      },
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
