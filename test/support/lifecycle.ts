// Process-level bookkeeping for test fixtures: synchronous cleanup on exit, free ports, temp dirs.
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type SyncCleanup = () => void

const pending = new Set<SyncCleanup>()
let hooked = false

function runAll(): void {
  for (const fn of [...pending]) {
    pending.delete(fn)
    try {
      fn()
    } catch {
      // best effort at exit
    }
  }
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.on('exit', runAll)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      runAll()
      // Re-raise with the default disposition so the exit status stays "killed by signal".
      process.kill(process.pid, sig)
    })
  }
}

/** Register a synchronous cleanup that runs at process exit (or on SIGINT/SIGTERM/SIGHUP). Returns an unregister function. */
export function onExit(fn: SyncCleanup): () => void {
  hook()
  pending.add(fn)
  return () => {
    pending.delete(fn)
  }
}

/** A fresh temp dir under os.tmpdir(); removed by `remove()` or at process exit, whichever is first. */
export async function makeTempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `kubectl-images-${prefix}-`))
  const unregister = onExit(() => rmSync(path, { recursive: true, force: true }))
  return {
    path,
    async remove() {
      unregister()
      await rm(path, { recursive: true, force: true, maxRetries: 3 })
    },
  }
}

/** Bind port 0 on `host`, read the port, release it. Racy by nature: callers must retry on EADDRINUSE. */
export function pickFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port)
        else reject(new Error('could not determine a free port'))
      })
    })
  })
}

/** Listen on host:0 and resolve the bound port. The server is unref'd so a forgotten stop() never keeps a test process alive. */
export function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen(0, host, () => {
      server.off('error', onError)
      server.unref()
      const addr = server.address()
      if (addr && typeof addr === 'object') resolve(addr.port)
      else reject(new Error('could not determine the listening port'))
    })
  })
}

/** Close a server and drop its keep-alive connections so close() does not hang. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve()
      return
    }
    server.close(() => resolve())
    server.closeAllConnections?.()
  })
}

/** Format a host for a URL authority (brackets IPv6 literals). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
