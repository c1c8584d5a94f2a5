// Tag-list disk cache: one JSON file per repository, so a second scan inside the TTL sends no tag-list
// requests. It never fails a scan: anything it cannot read is a miss, anything it cannot write is a warning.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { homedir as osHomedir } from 'node:os'
import { isAbsolute, join } from 'node:path'

export interface TagCacheKey {
  /** Reference domain, e.g. `docker.io`, `quay.io`, `localhost:5000`. */
  domain: string
  path: string
}

export interface TagCacheOptions {
  /** Defaults to `$XDG_CACHE_HOME/kubectl-images/tags`, else `~/.cache/kubectl-images/tags`. */
  dir?: string | undefined
  /** Entries older than this are misses; 0 disables the cache (no reads, no writes). */
  ttlMs: number
  env?: NodeJS.ProcessEnv
  homedir?: string
  /** Clock, for tests. */
  now?: () => number
}

interface Entry {
  v: 1
  repository: string
  fetchedAt: string
  tags: string[]
}

// A clock that went backwards must not make entries fresh for a long time.
const MAX_CLOCK_SKEW_MS = 60_000

/** `$XDG_CACHE_HOME/kubectl-images/tags`, else `~/.cache/kubectl-images/tags`. */
export function defaultTagCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = osHomedir()): string {
  // The XDG spec says to ignore a relative XDG_CACHE_HOME.
  const xdg = env.XDG_CACHE_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.cache')
  return join(base, 'kubectl-images', 'tags')
}

/**
 * Tag lists on disk, keyed by repository only (`domain/path`): credentials are never part of the key or the
 * file. Tags of private repositories land in the user's own cache dir, created 0700, files 0600.
 */
export class TagCache {
  readonly dir: string
  readonly ttlMs: number
  /** Set when the cache could not be written (shown once by the scan); reads keep working. */
  warning: string | undefined
  private readonly now: () => number
  private ready: Promise<boolean> | undefined

  constructor(opts: TagCacheOptions) {
    this.dir = opts.dir ?? defaultTagCacheDir(opts.env ?? process.env, opts.homedir ?? osHomedir())
    this.ttlMs = Math.max(0, opts.ttlMs)
    this.now = opts.now ?? Date.now
  }

  get enabled(): boolean {
    return this.ttlMs > 0
  }

  /** The file holding a repository's tags. */
  fileFor(key: TagCacheKey): string {
    const repository = `${key.domain}/${key.path}`
    return join(this.dir, `${createHash('sha256').update(repository).digest('hex')}.json`)
  }

  /** The cached tags, or undefined when missing, expired, unreadable, corrupt or someone else's file. */
  async get(key: TagCacheKey): Promise<string[] | undefined> {
    if (!this.enabled) return undefined
    let text: string
    try {
      text = await readFile(this.fileFor(key), 'utf8')
    } catch {
      return undefined
    }
    let entry: unknown
    try {
      entry = JSON.parse(text)
    } catch {
      return undefined
    }
    if (!isEntry(entry) || entry.repository !== `${key.domain}/${key.path}`) return undefined
    const age = this.now() - Date.parse(entry.fetchedAt)
    if (!(age <= this.ttlMs && age >= -MAX_CLOCK_SKEW_MS)) return undefined
    return entry.tags
  }

  /**
   * Stores a tag list: written to a temp file in the same dir, then renamed over the entry, so readers never
   * see half a file and concurrent writers simply race (the last rename wins). Never throws.
   */
  async set(key: TagCacheKey, tags: readonly string[]): Promise<void> {
    if (!this.enabled || !(await this.prepare())) return
    const file = this.fileFor(key)
    const entry: Entry = {
      v: 1,
      repository: `${key.domain}/${key.path}`,
      fetchedAt: new Date(this.now()).toISOString(),
      tags: [...tags],
    }
    const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    try {
      await writeFile(temp, JSON.stringify(entry), { mode: 0o600, flag: 'wx' })
      await rename(temp, file)
    } catch (error) {
      this.warn(error)
      // One failure is enough to know: later entries are not attempted (each would fail the same way).
      this.ready = Promise.resolve(false)
      await unlink(temp).catch(() => {})
    }
  }

  /** Creates the dir once; false (with a warning) when it cannot be created. */
  private prepare(): Promise<boolean> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(
      () => true,
      (error: unknown) => {
        this.warn(error)
        return false
      },
    )
    return this.ready
  }

  private warn(error: unknown): void {
    if (this.warning !== undefined) return
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error)
    this.warning = `tag cache ${this.dir} is not writable (${reason}); tag lists will not be cached`
  }
}

function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false
  const e = value as Record<string, unknown>
  return (
    e.v === 1 &&
    typeof e.repository === 'string' &&
    typeof e.fetchedAt === 'string' &&
    Array.isArray(e.tags) &&
    e.tags.every((tag) => typeof tag === 'string')
  )
}
