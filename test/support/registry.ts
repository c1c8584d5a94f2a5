// Runs the real `docker-registry` (distribution 2.8.2, Debian) on 127.0.0.1 for tests. No mocks.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  type ImageRef,
  type PushImageOptions,
  type PushTagsOptions,
  type PushTarget,
  pushImage,
  pushTags,
} from './images.ts'
import { makeTempDir, onExit, pickFreePort, sleep } from './lifecycle.ts'
import { startTokenServer, type TokenAclRequest, type TokenServer } from './token-server.ts'

const run = promisify(execFile)

export type RegistryAuth = 'none' | 'htpasswd' | 'token'

export interface StartRegistryOptions {
  auth?: RegistryAuth
  /** user -> password. Default `{ tester: 'tester-secret' }` when auth is not 'none'. */
  users?: Record<string, string>
  /** Token mode: `expires_in` of issued tokens. Default 300. (The registry itself accepts a token until exp + 60 s.) */
  tokenTtlSeconds?: number
  /** Token mode: anonymous token requests get `pull`. Default false. */
  anonymousPull?: boolean
  /** Token mode: custom grant policy (default: any authenticated user gets all requested actions). */
  tokenAcl?: (req: TokenAclRequest) => string[]
  /** Token mode: loopback address of the token server, e.g. '127.0.0.2' to put the realm on another host. */
  tokenHost?: string
  /** htpasswd mode realm. Default 'test-realm' (as in the observed vectors). */
  realm?: string
  /**
   * 'filesystem' (default): data under the temp dir. 'inmemory': distribution's in-memory driver, about twice as fast
   * for bulk manifest PUTs; contents vanish with the process.
   */
  storage?: 'filesystem' | 'inmemory'
  /** Startup deadline. Default 15000 ms. */
  startTimeoutMs?: number
}

export interface TestRegistry extends PushTarget {
  /** http://127.0.0.1:PORT */
  url: string
  /** 127.0.0.1:PORT (what goes in an image reference) */
  host: string
  auth: RegistryAuth
  users: Record<string, string>
  /** A user allowed to push (the first of `users`); undefined when auth is 'none'. */
  credentials: { username: string; password: string } | undefined
  /** Token mode only. */
  tokenServer: TokenServer | undefined
  /** Temp dir holding config.yml, data/, htpasswd, certs. */
  dir: string
  /** pid of the docker-registry process. */
  pid: number | undefined
  /** Last ~8 KiB of the registry's stderr. */
  stderrTail(): string
  push(repo: string, tag: string, opts?: PushImageOptions): Promise<ImageRef>
  pushTags(repo: string, tags: readonly string[], opts?: PushTagsOptions): Promise<Record<string, string>>
  stop(): Promise<void>
}

const REGISTRY_BIN = process.env.KUBECTL_IMAGES_TEST_REGISTRY_BIN ?? 'docker-registry'
const STDERR_KEEP = 8192

// The shell wrapper kills the registry when its stdin closes, so the registry dies with the test process even if
// that process is SIGKILLed (no exit hook runs then); in that case it also removes the temp dir ($2). It prints the
// registry pid first, then detaches its own stdout/stderr (a shell message into a dead pipe would SIGPIPE it).
// A registry that exits on its own (EADDRINUSE) leaves the dir for the retry.
const WRAPPER = `
exec 3<&0
"$0" serve "$1" >&2 &
pid=$!
echo "$pid"
exec >/dev/null 2>&1
( read -r _ <&3; : > "$2/.stopping"; kill -TERM "$pid" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$pid"
code=$?
kill "$watcher" 2>/dev/null
if [ -e "$2/.stopping" ]; then rm -rf "$2"; fi
exit "$code"
`

function yamlString(s: string): string {
  return JSON.stringify(s)
}

async function htpasswdFile(users: Record<string, string>): Promise<string> {
  const lines = await Promise.all(
    Object.entries(users).map(async ([user, pass]) => {
      // bcrypt is the only scheme distribution accepts; cost 4 (the minimum) keeps each request cheap.
      const { stdout } = await run('htpasswd', ['-Bbn', '-C', '4', user, pass])
      return stdout.trim()
    }),
  )
  return `${lines.join('\n')}\n`
}

interface Running {
  child: ChildProcess
  registryPid: Promise<number | undefined>
  exited: Promise<number | null>
  stderr: () => string
}

function spawnRegistry(configPath: string, dir: string): Running {
  const child = spawn('sh', ['-c', WRAPPER, REGISTRY_BIN, configPath, dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_'))),
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP)
  })
  const registryPid = new Promise<number | undefined>((resolve) => {
    let out = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      out += chunk
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(Number.parseInt(out.slice(0, nl), 10) || undefined)
    })
    child.once('exit', () => resolve(undefined))
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code))
    child.once('error', (err) => {
      stderr += `\nspawn error: ${err.message}`
      resolve(-1)
    })
  })
  // A forgotten stop() must not keep the test process alive; the exit hook and the wrapper clean up.
  child.unref()
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as { unref?: () => void } | null)?.unref?.()
  return { child, registryPid, exited, stderr: () => stderr }
}

const ID_HEADER = 'x-kubectl-images-test-registry'

// Ready = /v2/ answers with OUR id header: after a lost port race, another test's server may own the port.
async function waitReady(
  url: string,
  id: string,
  running: Running,
  deadline: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  let exited = false
  void running.exited.then(() => {
    exited = true
  })
  while (Date.now() < deadline) {
    if (exited) return 'exited'
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if ((res.status === 200 || res.status === 401) && res.headers.get(ID_HEADER) === id) return 'ready'
    } catch {
      // not listening yet
    }
    await sleep(exited ? 0 : 25)
  }
  return exited ? 'exited' : 'timeout'
}

function killHard(running: Running, pid: number | undefined): void {
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  try {
    running.child.kill('SIGKILL')
  } catch {
    // already gone
  }
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none'
  const users = auth === 'none' ? {} : (opts.users ?? { tester: 'tester-secret' })
  const firstUser = Object.entries(users)[0]
  const tmp = await makeTempDir('registry')
  let tokenServer: TokenServer | undefined
  const cleanupPartial = async () => {
    await tokenServer?.stop()
    await tmp.remove()
  }
  try {
    let authYaml = ''
    if (auth === 'htpasswd') {
      const path = join(tmp.path, 'htpasswd')
      await writeFile(path, await htpasswdFile(users))
      authYaml = `auth:\n  htpasswd:\n    realm: ${yamlString(opts.realm ?? 'test-realm')}\n    path: ${yamlString(path)}\n`
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({
        users,
        dir: tmp.path,
        host: opts.tokenHost,
        ttlSeconds: opts.tokenTtlSeconds,
        anonymousPull: opts.anonymousPull,
        acl: opts.tokenAcl,
      })
      authYaml =
        `auth:\n  token:\n` +
        `    realm: ${yamlString(tokenServer.realm)}\n` +
        `    service: ${yamlString(tokenServer.service)}\n` +
        `    issuer: ${yamlString(tokenServer.issuer)}\n` +
        `    rootcertbundle: ${yamlString(tokenServer.certPath)}\n`
    }

    const deadline = Date.now() + (opts.startTimeoutMs ?? 15000)
    let lastError = ''
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await pickFreePort()
      const host = `127.0.0.1:${port}`
      const url = `http://${host}`
      const configPath = join(tmp.path, 'config.yml')
      const id = randomBytes(8).toString('hex')
      await writeFile(
        configPath,
        [
          'version: 0.1',
          'log:',
          '  level: error',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          ...(opts.storage === 'inmemory'
            ? ['  inmemory: {}']
            : ['  filesystem:', `    rootdirectory: ${yamlString(join(tmp.path, 'data'))}`]),
          '  delete:',
          '    enabled: true',
          '  maintenance:',
          '    uploadpurging:',
          '      enabled: false',
          'http:',
          `  addr: ${yamlString(host)}`,
          `  secret: ${yamlString(randomBytes(16).toString('hex'))}`,
          '  headers:',
          `    ${ID_HEADER}: [${yamlString(id)}]`,
          'health:',
          '  storagedriver:',
          '    enabled: false',
          authYaml,
        ].join('\n'),
      )
      const running = spawnRegistry(configPath, tmp.path)
      let pid: number | undefined
      const unregister = onExit(() => killHard(running, pid))
      void running.registryPid.then((p) => {
        pid = p
      })
      const state = await waitReady(url, id, running, deadline)
      if (state === 'ready') {
        pid = await running.registryPid
        let stopped: Promise<void> | undefined
        const registry: TestRegistry = {
          url,
          host,
          auth,
          users,
          credentials: firstUser ? { username: firstUser[0], password: firstUser[1] } : undefined,
          tokenServer,
          dir: tmp.path,
          pid,
          stderrTail: running.stderr,
          push: (repo, tag, o) => pushImage(registry, repo, tag, o),
          pushTags: (repo, tags, o) => pushTags(registry, repo, tags, o),
          stop() {
            stopped ??= (async () => {
              // Closing stdin makes the wrapper TERM the registry; escalate if it lingers.
              running.child.stdin?.end()
              const timer = setTimeout(() => killHard(running, pid), 3000)
              await running.exited
              clearTimeout(timer)
              unregister()
              await cleanupPartial()
            })()
            return stopped
          },
        }
        return registry
      }
      killHard(running, pid)
      await running.exited
      unregister()
      const tail = running.stderr().trim()
      lastError = tail
      if (state === 'exited' && /address already in use/i.test(tail) && Date.now() < deadline) continue
      throw new Error(
        `docker-registry (${REGISTRY_BIN}) did not come up on ${url} ` +
          `(${state === 'timeout' ? `no answer on /v2/ within ${opts.startTimeoutMs ?? 15000} ms` : 'process exited'}, ` +
          `attempt ${attempt}). stderr tail:\n${tail || '(empty)'}`,
      )
    }
    throw new Error(`docker-registry kept hitting EADDRINUSE. stderr tail:\n${lastError}`)
  } catch (err) {
    await cleanupPartial()
    throw err
  }
}
