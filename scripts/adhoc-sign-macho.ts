// Ad-hoc code signature for a thin 64-bit Mach-O executable, and a checker, without Apple tools.
// Bun's cross-compiled darwin-x64 output keeps the stale Developer-ID signature of the bun binary it started
// from (75 page hashes wrong: packaging.md §3), which macOS rejects. `adhocSign` replaces it with what `ld -adhoc`
// / `codesign -s -` produce for a linker-signed binary: a SuperBlob holding one CodeDirectory (version 0x20400,
// SHA-256 page hashes of 4 KiB pages, flags adhoc|linker-signed, exec segment = __TEXT), no requirements and no CMS.
// `checkSignature` recomputes every page hash and checks the layout rules the kernel applies.
// Usage: node scripts/adhoc-sign-macho.ts [--check] FILE [IDENTIFIER]
import { createHash } from 'node:crypto'
import { readFile, rename, stat, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { isMain } from './is-main.ts'

const MH_MAGIC_64 = 0xfeedfacf
const LC_SEGMENT_64 = 0x19
const LC_CODE_SIGNATURE = 0x1d
const CPU_TYPE_X86_64 = 0x01000007
const CPU_TYPE_ARM64 = 0x0100000c
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0
const CSMAGIC_CODEDIRECTORY = 0xfade0c02
const CSSLOT_CODEDIRECTORY = 0
const CS_ADHOC = 0x2
const CS_LINKER_SIGNED = 0x20000
const CS_HASHTYPE_SHA256 = 2
const CS_EXECSEG_MAIN_BINARY = 0x1
const PAGE_SHIFT = 12
const PAGE_SIZE = 1 << PAGE_SHIFT
const CD_VERSION = 0x20400
const CD_HEADER_SIZE = 88 // through execSegFlags (version 0x20400)

interface Segment {
  name: string
  /** Offset of the segment_command_64 in the file. */
  at: number
  vmaddr: bigint
  vmsize: bigint
  fileoff: bigint
  filesize: bigint
}

interface MachO {
  cputype: number
  segments: Segment[]
  /** Offset of the linkedit_data_command, and its dataoff/datasize. */
  codeSignature: { at: number; dataoff: number; datasize: number } | undefined
}

function parseMachO(file: Buffer): MachO {
  if (file.length < 32 || file.readUInt32LE(0) !== MH_MAGIC_64) {
    throw new Error('not a thin 64-bit little-endian Mach-O file (fat/universal files are not handled)')
  }
  const cputype = file.readUInt32LE(4)
  const ncmds = file.readUInt32LE(16)
  const segments: Segment[] = []
  let codeSignature: MachO['codeSignature']
  let at = 32
  for (let i = 0; i < ncmds; i++) {
    const cmd = file.readUInt32LE(at)
    const cmdsize = file.readUInt32LE(at + 4)
    if (cmd === LC_SEGMENT_64) {
      segments.push({
        name: file.toString('latin1', at + 8, at + 24).replace(/\0+$/, ''),
        at,
        vmaddr: file.readBigUInt64LE(at + 24),
        vmsize: file.readBigUInt64LE(at + 32),
        fileoff: file.readBigUInt64LE(at + 40),
        filesize: file.readBigUInt64LE(at + 48),
      })
    } else if (cmd === LC_CODE_SIGNATURE) {
      codeSignature = { at, dataoff: file.readUInt32LE(at + 8), datasize: file.readUInt32LE(at + 12) }
    }
    at += cmdsize
  }
  return { cputype, segments, codeSignature }
}

function segment(macho: MachO, name: string): Segment {
  const found = macho.segments.find((s) => s.name === name)
  if (!found) throw new Error(`no ${name} segment`)
  return found
}

function pageHashes(file: Buffer, codeLimit: number, pageSize = PAGE_SIZE): Buffer[] {
  const hashes: Buffer[] = []
  for (let offset = 0; offset < codeLimit; offset += pageSize) {
    hashes.push(
      createHash('sha256')
        .update(file.subarray(offset, Math.min(offset + pageSize, codeLimit)))
        .digest(),
    )
  }
  return hashes
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to
}

/**
 * Returns a copy of `input` whose signature is a fresh ad-hoc one. The new signature replaces the old one at the
 * same file offset (everything before it is the signed code); __LINKEDIT and LC_CODE_SIGNATURE are resized to it.
 */
export function adhocSign(input: Buffer, identifier: string): Buffer {
  const macho = parseMachO(input)
  if (!macho.codeSignature) {
    throw new Error(
      'no LC_CODE_SIGNATURE load command (adding one is not supported; bun output always has one)',
    )
  }
  const linkedit = segment(macho, '__LINKEDIT')
  const text = segment(macho, '__TEXT')
  const codeLimit = macho.codeSignature.dataoff
  if (BigInt(codeLimit) < linkedit.fileoff) throw new Error('code signature is not inside __LINKEDIT')

  const ident = Buffer.from(`${identifier}\0`, 'utf8')
  const nCodeSlots = Math.ceil(codeLimit / PAGE_SIZE)
  const hashOffset = CD_HEADER_SIZE + ident.length
  const cdLength = hashOffset + nCodeSlots * 32
  const superLength = 12 + 8 + cdLength
  const datasize = align(superLength, 16)

  // Load commands first: the header page is hashed too.
  const file = Buffer.alloc(codeLimit + datasize)
  input.copy(file, 0, 0, codeLimit)
  file.writeUInt32LE(datasize, macho.codeSignature.at + 12)
  const linkeditSize = BigInt(codeLimit + datasize) - linkedit.fileoff
  const segAlign = macho.cputype === CPU_TYPE_ARM64 ? 0x4000n : 0x1000n
  const vmsize = ((linkeditSize + segAlign - 1n) / segAlign) * segAlign
  file.writeBigUInt64LE(vmsize, linkedit.at + 32)
  file.writeBigUInt64LE(linkeditSize, linkedit.at + 48)

  const sig = file.subarray(codeLimit)
  sig.writeUInt32BE(CSMAGIC_EMBEDDED_SIGNATURE, 0)
  sig.writeUInt32BE(superLength, 4)
  sig.writeUInt32BE(1, 8)
  sig.writeUInt32BE(CSSLOT_CODEDIRECTORY, 12)
  sig.writeUInt32BE(20, 16)
  const cd = sig.subarray(20, 20 + cdLength)
  cd.writeUInt32BE(CSMAGIC_CODEDIRECTORY, 0)
  cd.writeUInt32BE(cdLength, 4)
  cd.writeUInt32BE(CD_VERSION, 8)
  cd.writeUInt32BE(CS_ADHOC | CS_LINKER_SIGNED, 12)
  cd.writeUInt32BE(hashOffset, 16)
  cd.writeUInt32BE(CD_HEADER_SIZE, 20) // identOffset
  cd.writeUInt32BE(0, 24) // nSpecialSlots
  cd.writeUInt32BE(nCodeSlots, 28)
  cd.writeUInt32BE(codeLimit, 32)
  cd.writeUInt8(32, 36) // hashSize
  cd.writeUInt8(CS_HASHTYPE_SHA256, 37)
  cd.writeUInt8(0, 38) // platform
  cd.writeUInt8(PAGE_SHIFT, 39)
  // spare2, scatterOffset, teamOffset, spare3, codeLimit64: zero
  cd.writeBigUInt64BE(text.fileoff, 64) // execSegBase
  cd.writeBigUInt64BE(text.filesize, 72) // execSegLimit
  cd.writeBigUInt64BE(BigInt(CS_EXECSEG_MAIN_BINARY), 80)
  ident.copy(cd, CD_HEADER_SIZE)
  pageHashes(file, codeLimit).forEach((hash, i) => {
    hash.copy(cd, hashOffset + i * 32)
  })
  return file
}

export interface SignatureReport {
  cpu: 'x86_64' | 'arm64' | 'other'
  identifier: string
  flags: number
  version: number
  codeLimit: number
  pages: number
  badPages: number
  /** Rules broken (empty: the signature is consistent). */
  problems: string[]
}

/** Recomputes the CodeDirectory's page hashes and checks where the signature sits. */
export function checkSignature(file: Buffer): SignatureReport {
  const macho = parseMachO(file)
  const cpu =
    macho.cputype === CPU_TYPE_X86_64 ? 'x86_64' : macho.cputype === CPU_TYPE_ARM64 ? 'arm64' : 'other'
  const problems: string[] = []
  const report: SignatureReport = {
    cpu,
    identifier: '',
    flags: 0,
    version: 0,
    codeLimit: 0,
    pages: 0,
    badPages: 0,
    problems,
  }
  const cs = macho.codeSignature
  if (!cs) {
    problems.push('no LC_CODE_SIGNATURE')
    return report
  }
  const linkedit = segment(macho, '__LINKEDIT')
  const text = segment(macho, '__TEXT')
  if (cs.dataoff + cs.datasize > file.length) problems.push('signature runs past the end of the file')
  if (BigInt(cs.dataoff + cs.datasize) !== linkedit.fileoff + linkedit.filesize) {
    problems.push('signature does not end __LINKEDIT')
  }
  if (linkedit.fileoff + linkedit.filesize !== BigInt(file.length)) {
    problems.push('__LINKEDIT does not end at the end of the file')
  }
  if (linkedit.vmsize < linkedit.filesize) problems.push('__LINKEDIT vmsize < filesize')
  const sig = file.subarray(cs.dataoff, cs.dataoff + cs.datasize)
  if (sig.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) {
    problems.push('no embedded-signature SuperBlob')
    return report
  }
  const count = sig.readUInt32BE(8)
  let cd: Buffer | undefined
  for (let i = 0; i < count; i++) {
    const type = sig.readUInt32BE(12 + i * 8)
    const offset = sig.readUInt32BE(16 + i * 8)
    if (type === CSSLOT_CODEDIRECTORY) cd = sig.subarray(offset, offset + sig.readUInt32BE(offset + 4))
  }
  if (!cd || cd.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) {
    problems.push('no CodeDirectory')
    return report
  }
  report.version = cd.readUInt32BE(8)
  report.flags = cd.readUInt32BE(12)
  const hashOffset = cd.readUInt32BE(16)
  const identOffset = cd.readUInt32BE(20)
  const nSpecialSlots = cd.readUInt32BE(24)
  const nCodeSlots = cd.readUInt32BE(28)
  report.codeLimit = cd.readUInt32BE(32)
  const hashSize = cd.readUInt8(36)
  const hashType = cd.readUInt8(37)
  const pageShift = cd.readUInt8(39)
  report.identifier = cd.toString('utf8', identOffset, cd.indexOf(0, identOffset))
  report.pages = nCodeSlots
  if (hashType !== CS_HASHTYPE_SHA256 || hashSize !== 32) problems.push(`hash type ${hashType}, not SHA-256`)
  // ld and codesign use 4 KiB pages; Apple's own arm64 binaries use 16 KiB.
  if (pageShift !== 12 && pageShift !== 14) problems.push(`unexpected page size 2^${pageShift}`)
  const pageSize = 1 << pageShift
  if (report.codeLimit !== cs.dataoff) {
    problems.push(`codeLimit ${report.codeLimit} is not the signature offset ${cs.dataoff}`)
  }
  if (nCodeSlots !== Math.ceil(report.codeLimit / pageSize))
    problems.push('nCodeSlots does not cover codeLimit')
  if (report.version >= 0x20400) {
    const base = cd.readBigUInt64BE(64)
    const limit = cd.readBigUInt64BE(72)
    if (base !== text.fileoff || limit !== text.filesize) problems.push('exec segment is not __TEXT')
  }
  if (nSpecialSlots > 0 && hashOffset < nSpecialSlots * hashSize) problems.push('special slots out of range')
  const limit = Math.min(report.codeLimit, file.length)
  pageHashes(file, limit, pageSize).forEach((hash, i) => {
    if (i >= nCodeSlots || !hash.equals(cd.subarray(hashOffset + i * 32, hashOffset + i * 32 + 32))) {
      report.badPages++
    }
  })
  if (report.badPages) problems.push(`${report.badPages} of ${nCodeSlots} page hashes do not match`)
  return report
}

/** Re-signs FILE in place (written next to it, then renamed; the mode is kept). */
export async function adhocSignFile(path: string, identifier = basename(path)): Promise<SignatureReport> {
  const signed = adhocSign(await readFile(path), identifier)
  const report = checkSignature(signed)
  if (report.problems.length) throw new Error(`${path}: re-signing failed: ${report.problems.join('; ')}`)
  const tmp = `${path}.signing`
  await writeFile(tmp, signed, { mode: (await stat(path)).mode })
  await rename(tmp, path)
  return report
}

if (isMain(import.meta.url)) {
  const args = process.argv.slice(2)
  const check = args[0] === '--check'
  const [path, identifier] = check ? args.slice(1) : args
  if (!path) {
    process.stderr.write('usage: node scripts/adhoc-sign-macho.ts [--check] FILE [IDENTIFIER]\n')
    process.exit(2)
  }
  const report = check ? checkSignature(await readFile(path)) : await adhocSignFile(path, identifier)
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  if (report.problems.length) process.exitCode = 1
}
