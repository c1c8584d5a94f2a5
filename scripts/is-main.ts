// Whether a module is the script node was started with. Comparing import.meta.url with `file://${argv[1]}`
// fails through a symlink or for a path with a space (URL-encoded), and the script then silently does nothing.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export function isMain(moduleUrl: string): boolean {
  const started = process.argv[1]
  if (!started) return false
  try {
    return realpathSync(started) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}
