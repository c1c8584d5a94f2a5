// Release build (docs/release.md): the esbuild bundle, one Bun single executable per krew platform, krew archives
// and the krew manifest. Everything comes from the npm registry: the `@oven/bun-*` runtime of each target is
// fetched with `npm pack` into .cache/bun/ and checked against the integrity the registry (and the lockfile) record.
// Usage: scripts/pkg [--release-url URL] [--fast] [TARGET...]   (TARGET: linux-amd64 linux-arm64 darwin-amd64
// darwin-arm64 windows-amd64; default all). Release URL: --release-url, else $KUBECTL_IMAGES_RELEASE_URL.
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { arch as hostArch, platform as hostPlatform } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { crc32, deflateRawSync, gzipSync } from 'node:zlib'
import { parseDocument } from 'yaml'
import { adhocSignFile, checkSignature } from './adhoc-sign-macho.ts'
import { bundle, DEFAULT_BUNDLE, ROOT } from './bundle.ts'
import { isMain } from './is-main.ts'

const run = promisify(execFile)

export interface Target {
  name: string
  os: 'linux' | 'darwin' | 'windows'
  arch: 'amd64' | 'arm64'
  /** npm package holding the Bun runtime for the target (its file is bin/bun or bin/bun.exe). */
  bunPackage: string
  /** `bun build --target` */
  bunTarget: string
  exe: '' | '.exe'
}

export const TARGETS: Record<string, Target> = Object.fromEntries(
  (
    [
      ['linux', 'amd64', 'linux-x64', 'linux-x64'],
      ['linux', 'arm64', 'linux-aarch64', 'linux-arm64'],
      ['darwin', 'amd64', 'darwin-x64', 'darwin-x64'],
      ['darwin', 'arm64', 'darwin-aarch64', 'darwin-arm64'],
      ['windows', 'amd64', 'windows-x64', 'windows-x64'],
    ] as const
  ).map(([os, arch, pkg, bun]) => [
    `${os}-${arch}`,
    {
      name: `${os}-${arch}`,
      os,
      arch,
      bunPackage: `@oven/bun-${pkg}`,
      bunTarget: `bun-${bun}`,
      exe: os === 'windows' ? '.exe' : '',
    },
  ]),
)

export const CACHE_DIR = join(ROOT, '.cache', 'bun')
export const DIST = join(ROOT, 'dist')
export const PLACEHOLDER_RELEASE_URL = 'https://github.com/OWNER/kubectl-images/releases/download/v{version}'
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string }

export function bunVersion(): string {
  return (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'bun', 'package.json'), 'utf8')) as { version: string }
  ).version
}

/** The Bun that runs `bun build` on this machine (the npm `bun` package's binary, or its host platform package). */
export function hostBun(): string {
  const platform = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[hostPlatform() as string]
  const cpu = { x64: 'x64', arm64: 'aarch64' }[hostArch() as string]
  const candidates = [
    // The `bun` package's postinstall puts the host binary here (named bun.exe on every OS)...
    join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe'),
    // ...from the platform package npm installed as its optional dependency (used if the postinstall did not run).
    join(
      ROOT,
      'node_modules',
      '@oven',
      `bun-${platform}-${cpu}`,
      'bin',
      hostPlatform() === 'win32' ? 'bun.exe' : 'bun',
    ),
  ]
  for (const candidate of candidates) {
    // Without its postinstall, the `bun` package's bin/bun.exe is a small placeholder, not the binary.
    if (existsSync(candidate) && statSync(candidate).size > 1_000_000) return candidate
  }
  throw new Error(
    `no Bun binary for this host under node_modules (looked at ${candidates.join(', ')}); run npm ci`,
  )
}

/** The integrity npm recorded for a package version: the registry's, cross-checked with package-lock.json. */
async function expectedIntegrity(pkg: string, version: string): Promise<string> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; integrity?: string }>
  }
  const locked = lock.packages[`node_modules/${pkg}`]
  const fromLock = locked?.version === version ? locked.integrity : undefined
  let fromRegistry: string | undefined
  try {
    const { stdout } = await run('npm', ['view', `${pkg}@${version}`, 'dist.integrity', '--json'], {
      cwd: ROOT,
      maxBuffer: 1 << 20,
    })
    fromRegistry = JSON.parse(stdout) as string
  } catch (error) {
    if (!fromLock)
      throw new Error(`cannot read ${pkg}@${version} from the npm registry: ${(error as Error).message}`)
  }
  if (fromRegistry && fromLock && fromRegistry !== fromLock) {
    throw new Error(
      `${pkg}@${version}: registry integrity ${fromRegistry} differs from package-lock.json ${fromLock}`,
    )
  }
  const integrity = fromRegistry ?? fromLock!
  if (!integrity.startsWith('sha512-'))
    throw new Error(`${pkg}@${version}: unexpected integrity ${integrity}`)
  return integrity
}

/**
 * The Bun runtime binary for a target: `npm pack` of its `@oven/bun-*` package into the cache (once), checked
 * against the registry's sha512 integrity, and only `package/bin/bun[.exe]` kept.
 */
export async function bunRuntime(
  target: Target,
  options: { cacheDir?: string; version?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const version = options.version ?? bunVersion()
  const cacheDir = options.cacheDir ?? CACHE_DIR
  const dir = join(cacheDir, `${basename(target.bunPackage)}-${version}`)
  const bin = join(dir, `bun${target.exe}`)
  if (existsSync(join(dir, 'integrity')) && existsSync(bin)) return bin
  await mkdir(cacheDir, { recursive: true })
  const expected = await expectedIntegrity(target.bunPackage, version)
  const tmp = await mkdtemp(join(cacheDir, '.fetch-'))
  try {
    options.log?.(`fetching ${target.bunPackage}@${version} (npm pack)`)
    const { stdout } = await run(
      'npm',
      ['pack', `${target.bunPackage}@${version}`, '--json', '--pack-destination', tmp, '--loglevel=error'],
      { cwd: tmp, maxBuffer: 16 << 20 },
    )
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>
    const tgz = join(tmp, packed!.filename)
    const actual = `sha512-${createHash('sha512')
      .update(await readFile(tgz))
      .digest('base64')}`
    if (actual !== expected) {
      throw new Error(
        `${target.bunPackage}@${version}: tarball integrity ${actual}, registry says ${expected}`,
      )
    }
    const member = `package/bin/bun${target.exe}`
    await run('tar', ['-xzf', tgz, '-C', tmp, member])
    const staged = join(tmp, 'runtime')
    await mkdir(staged)
    await rename(join(tmp, member), join(staged, `bun${target.exe}`))
    await writeFile(join(staged, 'integrity'), `${target.bunPackage}@${version} ${actual}\n`)
    try {
      await rename(staged, dir)
    } catch (error) {
      // Another build fetched it meanwhile; keep theirs.
      if (!existsSync(join(dir, 'integrity'))) throw error
    }
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
  return bin
}

/** `bun build --compile` of the bundle for one target (Bun's .env/bunfig autoload off). */
export async function compile(
  target: Target,
  bundleFile: string,
  outfile: string,
  runtime: string,
): Promise<void> {
  await mkdir(resolve(outfile, '..'), { recursive: true })
  await rm(outfile, { force: true })
  const args = [
    'build',
    bundleFile,
    '--compile',
    '--bytecode',
    '--no-compile-autoload-dotenv',
    '--no-compile-autoload-bunfig',
    `--target=${target.bunTarget}`,
    `--compile-executable-path=${runtime}`,
    '--outfile',
    outfile,
  ]
  await new Promise<void>((done, fail) => {
    const child = spawn(hostBun(), args, { cwd: resolve(outfile, '..'), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.on('error', fail)
    child.on('close', (code) =>
      code === 0 ? done() : fail(new Error(`bun build for ${target.name} failed (${code}):\n${output}`)),
    )
  })
  if (!existsSync(outfile)) throw new Error(`bun build for ${target.name} wrote no ${outfile}`)
}

/** kubectl (1.26+) runs this for `kubectl images <TAB>`; it asks kubectl-images, preferring the one next to it. */
export const COMPLETE_SH = `#!/bin/sh
# kubectl (1.26 or later) runs kubectl_complete-images for \`kubectl images <TAB>\` when it is on PATH.
self=$0
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in /*) self=$link ;; *) self=$(dirname "$self")/$link ;; esac
done
bin=$(dirname "$self")/kubectl-images
[ -x "$bin" ] || bin=kubectl-images
exec "$bin" completion __complete -- "$@"
`
export const COMPLETE_CMD =
  '@echo off\r\nrem kubectl (1.26 or later) runs kubectl_complete-images for `kubectl images <TAB>` when it is on PATH.\r\n"%~dp0kubectl-images.exe" completion __complete -- %*\r\n'

interface Entry {
  name: string
  mode: number
  data: Buffer
}

function archiveEntries(target: Target, binary: Buffer, license: Buffer): Entry[] {
  return [
    { name: `kubectl-images${target.exe}`, mode: 0o755, data: binary },
    target.os === 'windows'
      ? { name: 'kubectl_complete-images.cmd', mode: 0o644, data: Buffer.from(COMPLETE_CMD) }
      : { name: 'kubectl_complete-images', mode: 0o755, data: Buffer.from(COMPLETE_SH) },
    { name: 'LICENSE', mode: 0o644, data: license },
  ]
}

function mtime(): number {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH)
  return Number.isFinite(epoch) && epoch > 0 ? epoch : Math.floor(Date.now() / 1000)
}

/** A ustar archive of regular files (all krew's tar extractor needs), gzipped. */
export function tarGz(entries: Entry[], level = 9): Buffer {
  const time = mtime()
  const parts: Buffer[] = []
  for (const entry of entries) {
    const header = Buffer.alloc(512)
    const field = (value: string, at: number, length: number) => {
      header.write(value, at, length, 'latin1')
    }
    const octal = (value: number, at: number, length: number) => {
      field(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length)
    }
    field(entry.name, 0, 100)
    octal(entry.mode, 100, 8)
    octal(0, 108, 8)
    octal(0, 116, 8)
    octal(entry.data.length, 124, 12)
    octal(time, 136, 12)
    field('        ', 148, 8)
    field('0', 156, 1)
    field('ustar\x0000', 257, 8)
    field('root', 265, 32)
    field('root', 297, 32)
    let sum = 0
    for (const byte of header) sum += byte
    field(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
    parts.push(header, entry.data, Buffer.alloc((512 - (entry.data.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return gzipSync(Buffer.concat(parts), { level })
}

/** A zip archive (deflate), with Unix modes in the external attributes. */
export function zip(entries: Entry[], level = 9): Buffer {
  const date = new Date(mtime() * 1000)
  const dosTime = (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1)
  const dosDate = ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate()
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8')
    const data = deflateRawSync(entry.data, { level })
    const crc = crc32(entry.data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(8, 8)
    local.writeUInt16LE(dosTime, 10)
    local.writeUInt16LE(dosDate, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4) // made by Unix
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(8, 10)
    central.writeUInt16LE(dosTime, 12)
    central.writeUInt16LE(dosDate, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(((0o100000 | entry.mode) << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    locals.push(local, name, data)
    centrals.push(central, name)
    offset += local.length + name.length + data.length
  }
  const cd = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(cd.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}

export function archiveName(target: Target): string {
  return `kubectl-images_${target.name}${target.os === 'windows' ? '.zip' : '.tar.gz'}`
}

export interface Built {
  target: Target
  binary: string
  archive: string
  sha256: string
}

/** The krew archive of a built target (binary + kubectl_complete-images + LICENSE). */
export async function archive(target: Target, binary: string, krewDir: string, level = 9): Promise<Built> {
  const entries = archiveEntries(target, await readFile(binary), await readFile(join(ROOT, 'LICENSE')))
  const data = target.os === 'windows' ? zip(entries, level) : tarGz(entries, level)
  await mkdir(krewDir, { recursive: true })
  const path = join(krewDir, archiveName(target))
  await writeFile(path, data)
  return { target, binary, archive: path, sha256: createHash('sha256').update(data).digest('hex') }
}

/** The krew manifest: plugin.yaml (the template in the repository) with the version and one platform per archive. */
export async function writeManifest(built: Built[], krewDir: string, releaseUrl: string): Promise<string> {
  const doc = parseDocument(await readFile(join(ROOT, 'plugin.yaml'), 'utf8'))
  const name = String(doc.getIn(['metadata', 'name']))
  const base = releaseUrl.replaceAll('{version}', PKG.version).replace(/\/+$/, '')
  doc.setIn(['spec', 'version'], `v${PKG.version}`)
  doc.setIn(
    ['spec', 'platforms'],
    doc.createNode(
      built.map(({ target, sha256 }) => {
        const bin = `kubectl-images${target.exe}`
        const complete = target.os === 'windows' ? 'kubectl_complete-images.cmd' : 'kubectl_complete-images'
        return {
          selector: { matchLabels: { os: target.os, arch: target.arch } },
          uri: `${base}/${archiveName(target)}`,
          sha256,
          files: [bin, complete, 'LICENSE'].map((from) => ({ from, to: '.' })),
          bin,
        }
      }),
    ),
  )
  doc.commentBefore = ` Generated by scripts/pkg from plugin.yaml for kubectl-images v${PKG.version}: do not edit.`
  const path = join(krewDir, `${name}.yaml`)
  await writeFile(path, doc.toString({ lineWidth: 0 }))
  return path
}

async function main(argv: string[]): Promise<void> {
  let releaseUrl = process.env.KUBECTL_IMAGES_RELEASE_URL || PLACEHOLDER_RELEASE_URL
  let level = 9
  const names: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--release-url') releaseUrl = argv[++i] ?? ''
    else if (arg.startsWith('--release-url=')) releaseUrl = arg.slice('--release-url='.length)
    else if (arg === '--fast') level = 1
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(
        `usage: scripts/pkg [--release-url URL] [--fast] [TARGET...]\ntargets: ${Object.keys(TARGETS).join(' ')}\n`,
      )
      return
    } else if (TARGETS[arg]) names.push(arg)
    else throw new Error(`unknown target ${arg}; known: ${Object.keys(TARGETS).join(', ')}`)
  }
  const targets = (names.length ? [...new Set(names)] : Object.keys(TARGETS)).map((n) => TARGETS[n]!)
  const log = (line: string) => process.stderr.write(`${line}\n`)
  const clock = () => {
    const start = performance.now()
    return () => `${((performance.now() - start) / 1000).toFixed(1)} s`
  }

  let lap = clock()
  const { bytes } = await bundle({ outfile: DEFAULT_BUNDLE })
  log(`bundle  ${DEFAULT_BUNDLE} ${(bytes / 1e6).toFixed(2)} MB (${lap()})`)
  const krewDir = join(DIST, 'krew')
  await rm(krewDir, { recursive: true, force: true })
  const built: Built[] = []
  for (const target of targets) {
    lap = clock()
    const runtime = await bunRuntime(target, { log })
    const fetched = lap()
    lap = clock()
    const binary = join(DIST, 'bin', target.name, `kubectl-images${target.exe}`)
    await compile(target, DEFAULT_BUNDLE, binary, runtime)
    let signed = ''
    if (target.os === 'darwin') {
      const before = checkSignature(await readFile(binary))
      if (before.problems.length) {
        await adhocSignFile(binary, 'kubectl-images')
        signed = `, re-signed ad hoc (bun's signature: ${before.problems.join('; ')})`
      } else signed = ", bun's ad-hoc signature verified"
    }
    await chmod(binary, 0o755)
    const compiled = lap()
    lap = clock()
    const result = await archive(target, binary, krewDir, level)
    built.push(result)
    const size = (path: string) => stat(path).then((s) => `${(s.size / 1e6).toFixed(1)} MB`)
    log(
      `${target.name.padEnd(14)} ${await size(binary)} (runtime ${fetched}, compile ${compiled}${signed}); ` +
        `${basename(result.archive)} ${await size(result.archive)} (${lap()})`,
    )
  }
  await writeFile(
    join(krewDir, 'SHA256SUMS'),
    built.map((b) => `${b.sha256}  ${basename(b.archive)}\n`).join(''),
  )
  const manifest = await writeManifest(built, krewDir, releaseUrl)
  log(`manifest ${manifest}`)
  if ((await readFile(manifest, 'utf8')).includes('OWNER')) {
    log(
      'note: the manifest still has OWNER placeholders (release URL: set KUBECTL_IMAGES_RELEASE_URL or ' +
        '--release-url; homepage: plugin.yaml): fine for testing, not for publishing',
    )
  }
}

if (isMain(import.meta.url)) {
  try {
    await main(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`scripts/pkg: ${(error as Error).message}\n`)
    process.exitCode = 1
  }
}
