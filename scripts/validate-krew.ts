// Checks a krew plugin manifest the way krew's validate-krew-manifest does (internal/index/validation/validate.go,
// cmd/validate-krew-manifest/main.go; see shared/reference/packaging.md §5), with the archives from disk instead of
// the network: structure, platform selectors (supported, none overlapping), then per platform what
// `kubectl krew install --manifest M --archive A` does: sha256 of the archive, MIME sniffing (gzip or zip only),
// extraction (regular files and directories only), the `files` moves, `bin` present, and a LICENSE-like file.
// Usage: node scripts/validate-krew.ts MANIFEST [--archives DIR] [--skip-install]
//        (archives are looked up by the file name of each uri, in DIR, default the manifest's directory)
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { basename, dirname, extname, join, posix } from 'node:path'
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib'
import { parse } from 'yaml'
import { isMain } from './is-main.ts'

const API_VERSION = 'krew.googlecontainertools.github.com/v1alpha2'
const SUPPORTED = [
  'windows/386',
  'windows/amd64',
  'windows/arm64',
  'linux/386',
  'linux/amd64',
  'linux/arm',
  'linux/arm64',
  'linux/ppc64le',
  'darwin/386',
  'darwin/amd64',
  'darwin/arm64',
]
const WINDOWS_FORBIDDEN = new Set(
  ['CON', 'PRN', 'AUX', 'NUL'].concat(
    Array.from({ length: 9 }, (_, i) => [`COM${i + 1}`, `LPT${i + 1}`]).flat(),
  ),
)
const LICENSE_FILES = new Set([
  'license',
  'license.txt',
  'license.md',
  'licenses',
  'licenses.txt',
  'licenses.md',
  'copying',
  'copying.txt',
])
// k8s.io/apimachinery ParseSemantic (strict semver) after krew's required "v".
const SEMVER =
  /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

interface Selector {
  matchLabels?: Record<string, string> | null
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> | null
}
interface FileOperation {
  from?: string
  to?: string
}
interface Platform {
  selector?: Selector | null
  uri?: string
  sha256?: string
  files?: FileOperation[] | null
  bin?: string
}
interface Plugin {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string }
  spec?: {
    version?: string
    shortDescription?: string
    description?: string
    caveats?: string
    homepage?: string
    platforms?: Platform[]
  }
}

export interface ValidationResult {
  errors: string[]
  warnings: string[]
  /** What each platform installs: file name -> mode. */
  installed: Array<{ platform: string; files: Record<string, number> }>
}

function selectorMatches(selector: Selector, os: string, arch: string): boolean {
  const labels: Record<string, string> = { os, arch }
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false
  for (const expr of selector.matchExpressions ?? []) {
    const has = expr.key in labels
    const value = labels[expr.key]
    const values = expr.values ?? []
    const ok = {
      In: has && values.includes(value!),
      NotIn: !has || !values.includes(value!),
      Exists: has,
      DoesNotExist: !has,
    }[expr.operator]
    if (!ok) return false
  }
  return true
}

function lineLengthOk(text: string | undefined, max: number): boolean {
  return (text ?? '').split('\n').every((line) => line.length <= max || !line.trim().includes(' '))
}

/** Structural rules (krew's ValidatePlugin + the platform checks of validate-krew-manifest). */
export function validateStructure(manifestPath: string, plugin: Plugin): ValidationResult {
  const errors: string[] = []
  const warnings: string[] = []
  const file = basename(manifestPath)
  if (extname(file) !== '.yaml')
    errors.push(`expected manifest extension ".yaml" but found "${extname(file)}"`)
  const name = basename(file, '.yaml')
  if (plugin.apiVersion !== API_VERSION)
    errors.push(`apiVersion is "${plugin.apiVersion}", not ${API_VERSION}`)
  if (plugin.kind !== 'Plugin') errors.push(`kind is "${plugin.kind}", only "Plugin" is supported`)
  if (!/^[\w-]+$/.test(name) || WINDOWS_FORBIDDEN.has(name.toUpperCase())) {
    errors.push(`the plugin name "${name}" is not allowed, must match ^[\\w-]+$`)
  }
  if (plugin.metadata?.name !== name) {
    errors.push(`plugin should be named "${name}" (the file name), not "${plugin.metadata?.name}"`)
  }
  const spec = plugin.spec ?? {}
  if (!spec.shortDescription) errors.push('should have a short description')
  else if (/[\r\n]/.test(spec.shortDescription))
    errors.push('should not have line breaks in short description')
  const platforms = spec.platforms ?? []
  if (platforms.length === 0) errors.push('should have a platform specified')
  if (!spec.version) errors.push('should have a version specified')
  else if (!SEMVER.test(spec.version)) errors.push(`version "${spec.version}" is not v-prefixed semver`)
  platforms.forEach((p, i) => {
    const at = `spec.platforms[${i}]`
    if (!p.uri) errors.push(`${at}: \`uri\` has to be set`)
    if (!p.sha256) errors.push(`${at}: \`sha256\` sum has to be set`)
    else if (!/^[a-f0-9]{64}$/.test(p.sha256)) errors.push(`${at}: \`sha256\` ${p.sha256} is not valid`)
    if (!p.bin) errors.push(`${at}: \`bin\` has to be set`)
    if (p.files !== undefined && p.files !== null) {
      if (!Array.isArray(p.files) || p.files.length === 0) {
        errors.push(`${at}: \`files\` has to be unspecified or non-empty`)
      } else {
        for (const op of p.files) {
          if (!op.from) errors.push(`${at}: \`from\` field has to be set`)
          else if (!op.to) errors.push(`${at}: \`to\` field has to be set`)
        }
      }
    }
    const sel = p.selector
    if (!sel) errors.push(`${at}: nil selector is not supported`)
    else if (!sel.matchLabels && !sel.matchExpressions?.length)
      errors.push(`${at}: empty selector is not supported`)
    else {
      const keys = [...Object.keys(sel.matchLabels ?? {}), ...(sel.matchExpressions ?? []).map((e) => e.key)]
      for (const key of keys)
        if (key !== 'os' && key !== 'arch') errors.push(`${at}: selector key "${key}" not supported`)
      if (sel.matchLabels && Object.keys(sel.matchLabels).length === 0)
        errors.push(`${at}: \`matchLabels\` specified but empty`)
      if (Array.isArray(sel.matchExpressions) && sel.matchExpressions.length === 0) {
        errors.push(`${at}: \`matchExpressions\` specified but empty`)
      }
      if (!SUPPORTED.some((pair) => selectorMatches(sel, ...(pair.split('/') as [string, string])))) {
        errors.push(`${at}: selector doesn't match any supported platform`)
      }
    }
  })
  for (const pair of SUPPORTED) {
    const [os, arch] = pair.split('/') as [string, string]
    const matching = platforms.flatMap((p, i) =>
      p.selector && selectorMatches(p.selector, os, arch) ? [i] : [],
    )
    if (matching.length > 1)
      errors.push(`spec.platforms at indexes ${matching.join(', ')} overlap: both select ${pair}`)
  }
  if (!lineLengthOk(spec.description, 80)) warnings.push('line length in `description` exceeds 80 characters')
  if (!lineLengthOk(spec.shortDescription, 70))
    warnings.push('line length in `shortDescription` exceeds 70 characters')
  if (!lineLengthOk(spec.caveats, 80)) warnings.push('line length in `caveats` exceeds 80 characters')
  return { errors, warnings, installed: [] }
}

interface Extracted {
  path: string
  mode: number
  dir: boolean
  data: Buffer
}

function suspicious(path: string): string | undefined {
  if (path.includes('..')) return `refusing to unpack archive with suspicious entry "${path}"`
  if (path.startsWith('/') || path.startsWith('\\'))
    return `refusing to unpack archive with absolute entry "${path}"`
  return undefined
}

/** Reads a tar.gz as Go's archive/tar + krew's extractTARGZ would: regular files and directories only. */
export function readTarGz(archive: Buffer): Extracted[] {
  const tar = gunzipSync(archive)
  const out: Extracted[] = []
  let paxPath: string | undefined
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512)
    if (header.every((b) => b === 0)) break
    const text = (from: number, length: number) =>
      header.toString('latin1', from, from + length).replace(/\0.*$/s, '')
    const octal = (from: number, length: number) => Number.parseInt(text(from, length).trim() || '0', 8)
    let sum = 0
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!
    if (sum !== octal(148, 8)) throw new Error(`tar: bad header checksum at offset ${at}`)
    const size = octal(124, 12)
    const type = text(156, 1) || '0'
    const prefix = text(257, 6) === 'ustar' ? text(345, 155) : ''
    let name = paxPath ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100))
    paxPath = undefined
    const data = tar.subarray(at + 512, at + 512 + size)
    at += 512 + Math.ceil(size / 512) * 512
    if (type === 'x') {
      const match = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'))
      paxPath = match?.[1]
      continue
    }
    if (type === 'g' || name === 'pax_global_header') continue
    const problem = suspicious(name)
    if (problem) throw new Error(problem)
    name = name.replace(/\/$/, '')
    if (type === '5') out.push({ path: name, mode: octal(100, 8), dir: true, data: Buffer.alloc(0) })
    else if (type === '0') out.push({ path: name, mode: octal(100, 8), dir: false, data: Buffer.from(data) })
    else throw new Error(`unable to handle file type ${type} for "${name}" in tar`)
  }
  return out
}

/** Reads a zip from its central directory, inflating and CRC-checking every file. */
export function readZip(archive: Buffer): Extracted[] {
  const eocd = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('zip: no end of central directory record')
  const count = archive.readUInt16LE(eocd + 10)
  let at = archive.readUInt32LE(eocd + 16)
  const out: Extracted[] = []
  for (let i = 0; i < count; i++) {
    if (archive.readUInt32LE(at) !== 0x02014b50) throw new Error('zip: bad central directory entry')
    const method = archive.readUInt16LE(at + 10)
    const crc = archive.readUInt32LE(at + 16)
    const csize = archive.readUInt32LE(at + 20)
    const usize = archive.readUInt32LE(at + 24)
    const nameLength = archive.readUInt16LE(at + 28)
    const extraLength = archive.readUInt16LE(at + 30)
    const commentLength = archive.readUInt16LE(at + 32)
    const madeBy = archive.readUInt16LE(at + 4) >> 8
    const external = archive.readUInt32LE(at + 38)
    const local = archive.readUInt32LE(at + 42)
    const name = archive.toString('utf8', at + 46, at + 46 + nameLength)
    at += 46 + nameLength + extraLength + commentLength
    const problem = suspicious(name)
    if (problem) throw new Error(problem)
    if (archive.readUInt32LE(local) !== 0x04034b50) throw new Error(`zip: bad local header for ${name}`)
    const start = local + 30 + archive.readUInt16LE(local + 26) + archive.readUInt16LE(local + 28)
    const raw = archive.subarray(start, start + csize)
    const dir = name.endsWith('/')
    const data = dir
      ? Buffer.alloc(0)
      : method === 0
        ? Buffer.from(raw)
        : method === 8
          ? inflateRawSync(raw)
          : undefined
    if (!data) throw new Error(`zip: ${name} uses compression method ${method}`)
    if (!dir && (data.length !== usize || crc32(data) !== crc))
      throw new Error(`zip: ${name} fails its CRC/size check`)
    const mode = madeBy === 3 ? (external >>> 16) & 0o7777 : dir ? 0o755 : 0o644
    out.push({ path: name.replace(/\/$/, ''), mode, dir, data })
  }
  return out
}

function globToRegExp(glob: string): RegExp {
  let source = ''
  for (const ch of glob) {
    if (ch === '*') source += '[^/]*'
    else if (ch === '?') source += '[^/]'
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}

/** What `krew install` puts in the plugin's directory: the `files` moves (default `* -> .`) over the archive. */
export function installFiles(
  entries: Extracted[],
  files: FileOperation[] | null | undefined,
): Map<string, Extracted> {
  const ops = files ?? [{ from: '*', to: '.' }]
  const tree = new Map(entries.map((e) => [e.path, e]))
  const installed = new Map<string, Extracted>()
  const moveTree = (from: string, to: string) => {
    for (const [path, entry] of tree) {
      if (path === from || path.startsWith(`${from}/`)) {
        if (!entry.dir) installed.set(posix.join(to, path.slice(from.length)), entry)
        tree.delete(path)
      }
    }
  }
  for (const op of ops) {
    const from = posix.normalize(op.from ?? '')
    const to = op.to ?? '.'
    if (to !== posix.normalize(to))
      throw new Error(`the provided path is not clean, "${to}" should be "${posix.normalize(to)}"`)
    if (from.startsWith('..') || to.startsWith('..') || posix.isAbsolute(to)) {
      throw new Error(`can't move ${op.from} -> ${op.to}: out of bounds`)
    }
    if (tree.has(from)) {
      // A direct move of one file (or directory) to `to` (its own name when `to` is ".").
      moveTree(from, to === '.' ? posix.basename(from) : to)
      continue
    }
    const pattern = globToRegExp(from)
    const matches = [
      ...new Set([...tree.keys()].map((p) => p.split('/').slice(0, from.split('/').length).join('/'))),
    ].filter((p) => pattern.test(p))
    if (matches.length === 0)
      throw new Error(`no files in the plugin archive matched the glob pattern=${op.from}`)
    for (const match of matches) moveTree(match, posix.join(to, posix.basename(match)))
  }
  return installed
}

/** Every rule, with the archives read from `archiveDir` (matched by the file name of each uri). */
export async function validateManifest(
  manifestPath: string,
  options: { archiveDir?: string; skipInstall?: boolean } = {},
): Promise<ValidationResult> {
  let plugin: Plugin
  try {
    plugin = parse(await readFile(manifestPath, 'utf8')) as Plugin
  } catch (error) {
    return {
      errors: [`failed to read plugin file: ${(error as Error).message}`],
      warnings: [],
      installed: [],
    }
  }
  const result = validateStructure(manifestPath, plugin)
  if (result.errors.length || options.skipInstall) return result
  const archiveDir = options.archiveDir ?? dirname(manifestPath)
  for (const [i, p] of (plugin.spec?.platforms ?? []).entries()) {
    const pair = SUPPORTED.find((s) => selectorMatches(p.selector!, ...(s.split('/') as [string, string])))!
    const at = `spec.platforms[${i}] (${pair})`
    try {
      const file = join(archiveDir, basename(new URL(p.uri!).pathname))
      const archive = await readFile(file)
      const sum = createHash('sha256').update(archive).digest('hex')
      if (sum !== p.sha256) throw new Error(`${basename(file)}: sha256 ${sum}, manifest says ${p.sha256}`)
      const gzip = archive[0] === 0x1f && archive[1] === 0x8b && archive[2] === 0x08
      const zip = archive.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
      if (!gzip && !zip)
        throw new Error(`${basename(file)} is neither application/x-gzip nor application/zip`)
      const installed = installFiles(gzip ? readTarGz(archive) : readZip(archive), p.files)
      const bin = posix.normalize(p.bin!)
      if (bin.startsWith('..') || posix.isAbsolute(bin))
        throw new Error(`bin ${p.bin} is outside the plugin directory`)
      const binary = installed.get(bin)
      if (!binary)
        throw new Error(`bin ${p.bin} is not among the installed files [${[...installed.keys()].join(', ')}]`)
      if (!pair.startsWith('windows/') && (binary.mode & 0o111) === 0) {
        throw new Error(`bin ${p.bin} is not executable (mode ${binary.mode.toString(8)})`)
      }
      if (![...installed.keys()].some((path) => LICENSE_FILES.has(posix.basename(path).toLowerCase()))) {
        throw new Error(`could not find license file among [${[...installed.keys()].join(', ')}]`)
      }
      result.installed.push({
        platform: pair,
        files: Object.fromEntries([...installed].map(([path, entry]) => [path, entry.mode])),
      })
    } catch (error) {
      result.errors.push(`${at} failed to install: ${(error as Error).message}`)
    }
  }
  return result
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--archives')
  const manifest = args.find((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1))
  if (!manifest) {
    process.stderr.write('usage: node scripts/validate-krew.ts MANIFEST [--archives DIR] [--skip-install]\n')
    process.exit(2)
  }
  const result = await validateManifest(manifest, {
    skipInstall: args.includes('--skip-install'),
    ...(at >= 0 && args[at + 1] ? { archiveDir: args[at + 1] } : {}),
  })
  for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`)
  for (const error of result.errors) process.stderr.write(`error: ${error}\n`)
  for (const { platform, files } of result.installed) {
    process.stdout.write(`${platform}: installs ${Object.keys(files).join(', ')}\n`)
  }
  if (result.errors.length) process.exitCode = 1
  else process.stdout.write(`${manifest}: valid\n`)
}
