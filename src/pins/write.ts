import { randomBytes } from 'node:crypto'
import { open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { UserError } from '../util/errors.ts'

/**
 * Writes a file so readers see the old content or the new, never half of it: a temp file in the same
 * directory (rename is atomic only within one file system), flushed to disk, then renamed over the target.
 * The target keeps its permissions. On any failure the temp file is removed and the old file is untouched.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let mode: number | undefined
  try {
    mode = (await stat(path)).mode & 0o7777
  } catch {
    // a new file: the default mode under the umask
  }
  try {
    const handle = await open(temp, 'wx', 0o644)
    try {
      if (mode !== undefined) await handle.chmod(mode)
      await handle.writeFile(content, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw new UserError(`cannot write ${path}: ${(error as Error).message}`, { cause: error })
  }
}
