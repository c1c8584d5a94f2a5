// Runs the real `docker-registry` (distribution 2.8.2, Debian) on 127.0.0.1 for tests. No mocks.
// With `tls: true` it serves HTTPS with a certificate from a CA generated per run (openssl); pushes then go through
// a loopback HTTP bridge that trusts that CA, so the push helpers in images.ts need no TLS settings of their own.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Agent as UndiciAgent, request as undiciRequest } from 'undici'
import { CertFactory } from './certs.ts'
import {
  type ImageRef,
  type PushImageOptions,
  type PushTagsOptions,
  type PushTarget,
  pushImage,
  pushTags,
} from './images.ts'
import { closeServer, hostPort, listen, makeTempDir, onExit, pickFreePort, sleep } from './lifecycle.ts'
import { HOP_BY_HOP } from './proxy.ts'
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
  /**
   * Serve HTTPS with a server certificate (SAN IP:127.0.0.1, DNS:localhost) issued by a CA generated for this run;
   * `caPath` is that CA's PEM file. Default false (plain HTTP). The token server (auth 'token') stays plain HTTP, so
   * a client that only sends credentials to HTTPS realms will withhold them there.
   */
  tls?: boolean
}

export interface TestRegistry extends PushTarget {
  /** http://127.0.0.1:PORT, or https://127.0.0.1:PORT with `tls`. */
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
  /** Whether the registry serves HTTPS. */
  tls: boolean
  /** TLS only: PEM file of the CA that issued the registry's certificate (under `dir`). */
  caPath: string | undefined
  /**
   * What to hand the images.ts helpers (pushImage, pushTags, deleteManifest): the registry itself over plain HTTP;
   * with TLS a loopback HTTP bridge to it that trusts `caPath` (the helpers use the global fetch, which would not).
   */
  pushTarget: PushTarget
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
  dispatcher?: UndiciAgent,
): Promise<'ready' | 'exited' | 'timeout'> {
  let exited = false
  void running.exited.then(() => {
    exited = true
  })
  while (Date.now() < deadline) {
    if (exited) return 'exited'
    try {
      const res = await probe(url, dispatcher)
      if ((res.status === 200 || res.status === 401) && res.id === id) return 'ready'
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

interface TlsFiles {
  caPath: string
  caPem: string
  certPath: string
  keyPath: string
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it (P-256 keys, valid 2 days). */
async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const certs = await CertFactory.create(dir, 2)
  const ca = await certs.issue('/CN=kubectl-images test registry CA', 'ca_ext')
  const server = await certs.issue('/CN=127.0.0.1', 'server_ext', ca)
  return { caPath: ca.certFile, caPem: ca.certPem, certPath: server.certFile, keyPath: server.keyFile }
}

interface Bridge {
  url: string
  stop(): Promise<void>
}

/**
 * Plain HTTP on a loopback port in front of the HTTPS registry, for the push helpers: forwards every request with
 * the registry's own Host, trusting `caPem`, and points absolute Location headers back at the bridge.
 */
async function startBridge(registryHost: string, caPem: string): Promise<Bridge> {
  const target = new URL(`https://${registryHost}`)
  const agent = new HttpsAgent({ ca: caPem, keepAlive: true, maxSockets: 32 })
  let bridgeOrigin = ''
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const headers: OutgoingHttpHeaders = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v
    }
    headers.host = registryHost
    const upstream = httpsRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (up) => {
        const out: OutgoingHttpHeaders = {}
        for (const [k, v] of Object.entries(up.headers)) {
          if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v
        }
        const location = up.headers.location
        if (location?.startsWith(target.origin))
          out.location = bridgeOrigin + location.slice(target.origin.length)
        res.writeHead(up.statusCode ?? 502, out)
        up.pipe(res)
      },
    )
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy()
        return
      }
      const body = JSON.stringify({
        errors: [{ code: 'UNAVAILABLE', message: `tls bridge: ${err.message}` }],
      })
      res.writeHead(502, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      })
      res.end(body)
    })
    req.pipe(upstream)
  }
  const server: Server = createServer(handle)
  const port = await listen(server, '127.0.0.1')
  bridgeOrigin = `http://${hostPort('127.0.0.1', port)}`
  return {
    url: bridgeOrigin,
    async stop() {
      await closeServer(server)
      agent.destroy()
    },
  }
}

/** GET /v2/: status and our id header; undici with the run's CA for HTTPS, the global fetch for HTTP. */
async function probe(
  url: string,
  dispatcher: UndiciAgent | undefined,
): Promise<{ status: number; id: string | null }> {
  if (!dispatcher) {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return { status: res.status, id: res.headers.get(ID_HEADER) }
  }
  const res = await undiciRequest(`${url}/v2/`, { dispatcher, signal: AbortSignal.timeout(1000) })
  await res.body.arrayBuffer()
  const id = res.headers[ID_HEADER]
  return { status: res.statusCode, id: (Array.isArray(id) ? id[0] : id) ?? null }
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none'
  const users = auth === 'none' ? {} : (opts.users ?? { tester: 'tester-secret' })
  const firstUser = Object.entries(users)[0]
  const tmp = await makeTempDir('registry')
  let tokenServer: TokenServer | undefined
  let probeAgent: UndiciAgent | undefined
  let bridge: Bridge | undefined
  const cleanupPartial = async () => {
    await Promise.all([tokenServer?.stop(), probeAgent?.close(), bridge?.stop()])
    await tmp.remove()
  }
  try {
    const tls = opts.tls ? await makeTlsFiles(tmp.path) : undefined
    if (tls) probeAgent = new UndiciAgent({ connect: { ca: tls.caPem } })
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
      const url = `${tls ? 'https' : 'http'}://${host}`
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
          ...(tls
            ? [
                '  tls:',
                `    certificate: ${yamlString(tls.certPath)}`,
                `    key: ${yamlString(tls.keyPath)}`,
              ]
            : []),
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
      const state = await waitReady(url, id, running, deadline, probeAgent)
      if (state === 'ready') {
        pid = await running.registryPid
        let stopped: Promise<void> | undefined
        const credentials = firstUser ? { username: firstUser[0], password: firstUser[1] } : undefined
        await probeAgent?.close()
        probeAgent = undefined
        if (tls) {
          try {
            bridge = await startBridge(host, tls.caPem)
          } catch (err) {
            killHard(running, pid)
            await running.exited
            unregister()
            throw err
          }
        }
        // Stable objects: images.ts keeps its auth sessions per target object. Plain HTTP: the registry itself.
        const bridgeTarget: PushTarget | undefined = bridge ? { url: bridge.url, credentials } : undefined
        const registry: TestRegistry = {
          url,
          host,
          auth,
          users,
          credentials,
          tokenServer,
          dir: tmp.path,
          pid,
          tls: tls !== undefined,
          caPath: tls?.caPath,
          get pushTarget() {
            return bridgeTarget ?? registry
          },
          stderrTail: running.stderr,
          push: (repo, tag, o) => pushImage(registry.pushTarget, repo, tag, o),
          pushTags: (repo, tags, o) => pushTags(registry.pushTarget, repo, tags, o),
          stop() {
            stopped ??= (async () => {
              // Closing stdin makes the wrapper TERM the registry; escalate if it lingers.
              running.child.stdin?.end()
              const timer = setTimeout(() => killHard(running, pid), 3000)
              // The child is unref'd: hold the event loop open until its exit is seen, or a script
              // whose last step is stop() ends with the promise unsettled.
              const keepAlive = setInterval(() => undefined, 60_000)
              await running.exited
              clearTimeout(timer)
              clearInterval(keepAlive)
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
