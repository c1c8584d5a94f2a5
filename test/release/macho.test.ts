// The Mach-O ad-hoc signer and its checker (scripts/adhoc-sign-macho.ts) on a synthetic executable, and, when
// scripts/pkg has cached them, on the real npm Bun runtimes for macOS (Apple-made signatures must check out).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { adhocSign, checkSignature } from '../../scripts/adhoc-sign-macho.ts'
import { bunRuntime, bunVersion, CACHE_DIR, TARGETS } from '../../scripts/pkg.ts'

/** mach_header_64 + __TEXT + __LINKEDIT + LC_CODE_SIGNATURE, with `signature` as the (stale) signature bytes. */
function machO(signature: Buffer, textPages = 3): Buffer {
  const textSize = textPages * 0x1000
  const linkeditData = 700
  const file = Buffer.alloc(textSize + linkeditData + signature.length)
  randomBytes(file.length - 0x400).copy(file, 0x400)
  const sizeofcmds = 72 * 2 + 16
  file.writeUInt32LE(0xfeedfacf, 0)
  file.writeUInt32LE(0x01000007, 4) // x86_64
  file.writeUInt32LE(3, 8)
  file.writeUInt32LE(2, 12) // MH_EXECUTE
  file.writeUInt32LE(3, 16)
  file.writeUInt32LE(sizeofcmds, 20)
  file.fill(0, 32, 32 + sizeofcmds)
  const segment = (at: number, name: string, vmaddr: bigint, fileoff: number, filesize: number) => {
    file.writeUInt32LE(0x19, at)
    file.writeUInt32LE(72, at + 4)
    file.write(name, at + 8, 16, 'latin1')
    file.writeBigUInt64LE(vmaddr, at + 24)
    file.writeBigUInt64LE(BigInt(Math.ceil(filesize / 0x1000) * 0x1000), at + 32)
    file.writeBigUInt64LE(BigInt(fileoff), at + 40)
    file.writeBigUInt64LE(BigInt(filesize), at + 48)
  }
  segment(32, '__TEXT', 0x100000000n, 0, textSize)
  segment(104, '__LINKEDIT', 0x100000000n + BigInt(textSize), textSize, linkeditData + signature.length)
  file.writeUInt32LE(0x1d, 176)
  file.writeUInt32LE(16, 180)
  file.writeUInt32LE(textSize + linkeditData, 184)
  file.writeUInt32LE(signature.length, 188)
  signature.copy(file, textSize + linkeditData)
  return file
}

describe('Mach-O ad-hoc signing', () => {
  test('a stale signature is reported; the re-signed file has every page hash right', () => {
    const stale = adhocSign(machO(Buffer.alloc(4096)), 'kubectl-images')
    // The code changes after signing (what bun --compile does to darwin-x64 when it embeds the bundle).
    stale[0x1800] = stale[0x1800]! ^ 0xff
    const before = checkSignature(stale)
    assert.equal(before.badPages, 1)
    assert.match(before.problems.join(), /1 of 4 page hashes do not match/)

    const signed = adhocSign(stale, 'kubectl-images')
    const report = checkSignature(signed)
    assert.deepEqual(report.problems, [])
    assert.equal(report.cpu, 'x86_64')
    assert.equal(report.identifier, 'kubectl-images')
    assert.equal(report.flags, 0x20002, 'adhoc | linker-signed')
    assert.equal(report.version, 0x20400)
    assert.equal(report.pages, 4)
    // The code before the signature is unchanged.
    const codeLimit = report.codeLimit
    assert.ok(signed.subarray(0x200, codeLimit).equals(stale.subarray(0x200, codeLimit)))
  })

  test('the checker finds a changed byte on any page, the header page included', () => {
    const signed = adhocSign(machO(Buffer.alloc(64 * 1024), 5), 'x')
    assert.deepEqual(checkSignature(signed).problems, [])
    for (const offset of [8, 0x1000, 0x4fff, 0x5010]) {
      const copy = Buffer.from(signed)
      copy[offset] = copy[offset]! ^ 1
      assert.ok(checkSignature(copy).problems.length > 0, `change at ${offset} detected`)
    }
  })

  test('no signature at all, and non-Mach-O input, are errors', () => {
    assert.match(checkSignature(machO(Buffer.alloc(16))).problems.join(), /no embedded-signature SuperBlob/)
    assert.throws(
      () => checkSignature(Buffer.from('\x7fELF not a mach-o file................')),
      /not a thin 64-bit/,
    )
  })

  // darwin-amd64 is the target Bun leaves with a stale signature and we re-sign, so its runtime is fetched
  // from the npm registry when missing (like the smoke test's linux runtime); darwin-arm64 runs when cached.
  for (const [target, pkg, cpu, fetch] of [
    ['darwin-arm64', 'bun-darwin-aarch64', 'arm64', false],
    ['darwin-amd64', 'bun-darwin-x64', 'x86_64', true],
  ] as const) {
    const cached = join(CACHE_DIR, `${pkg}-${bunVersion()}`, 'bun')
    test(`Apple's signature on the npm ${pkg} runtime checks out, and so does ours after re-signing`, {
      skip:
        fetch || existsSync(cached)
          ? false
          : `${pkg} is not cached (scripts/pkg ${target} fetches it into .cache/bun)`,
    }, async (t) => {
      let bin = cached
      if (!existsSync(bin)) {
        try {
          bin = await bunRuntime(TARGETS[target]!)
        } catch (error) {
          return t.skip(
            `the ${pkg} package could not be fetched from the npm registry: ${(error as Error).message}`,
          )
        }
      }
      const original = await readFile(bin)
      const apple = checkSignature(original)
      assert.equal(apple.cpu, cpu)
      assert.deepEqual(apple.problems, [])
      const ours = checkSignature(adhocSign(original, 'bun'))
      assert.deepEqual(ours.problems, [])
      assert.equal(ours.codeLimit, apple.codeLimit)
    })
  }
})
