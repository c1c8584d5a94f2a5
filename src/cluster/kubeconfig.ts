// Finds and loads the kube context the way kubectl does (client-go clientcmd): --kubeconfig, else every file in
// KUBECONFIG merged, else ~/.kube/config, else the in-cluster service account. client-node's loadFromDefault
// differs from kubectl on merged files (a later file's current-context wins, a name defined twice throws, a
// missing file throws, token-file is read relative to the working directory and kept with its newline), so
// the files are merged here with kubectl's rules and client-node only gets the result.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { parseDocument } from 'yaml'
import { UserError, withoutCredentials } from '../util/errors.ts'
import { isLoopbackHost, proxyFor, proxyFromEnv } from '../util/proxy.ts'

export interface LoadKubeConfigOptions {
  /** --kubeconfig: this file only. */
  kubeconfig?: string
  /** --context, --cluster, --user overrides. */
  context?: string
  cluster?: string
  user?: string
  /** Default process.env (KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE). */
  env?: NodeJS.ProcessEnv
  /** Where the in-cluster service account files live (tests). */
  serviceAccountDir?: string
  /** Whether stdin is a terminal an exec plugin may prompt on (default: process.stdin's). */
  stdinIsTerminal?: boolean
  /** --disable-compression: as `disable-compression: true` on the cluster. */
  disableCompression?: boolean
  /** What the command offers instead of a cluster, ending the "no kubeconfig found" error (`use -f ...`). */
  withoutCluster?: string
  /** The run's deadline: an exec credential plugin still running when it passes is killed, as client-go does. */
  signal?: AbortSignal
  /** --as, --as-group, --as-uid: override the user's as, as-groups and as-uid, as in kubectl. */
  impersonate?: { user?: string; groups?: string[]; uid?: string }
}

export interface LoadedKubeConfig {
  kc: KubeConfig
  /** The context used ('in-cluster' for the service account). */
  context: string
  /** The context's namespace, or `default`. */
  namespace: string
  /** The API server URL. */
  server: string
  /**
   * Whether to ask for gzipped answers, as kubectl does: unless the cluster has `disable-compression: true`, the
   * flag says so, or the server is on this machine (kind, k3d, a port-forward), where inflating costs more time
   * than the bytes it saves.
   */
  compression: boolean
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** The user given to client-node for a context that names none (no kubeconfig name can hold a NUL). */
const NO_USER = '\u0000no-user'

type Raw = Record<string, unknown>
interface Entry {
  name: string
  body: Raw
  file: string
}

function isRecord(v: unknown): v is Raw {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function quoteList(names: Iterable<string>): string {
  const list = [...names]
  return list.length ? list.map((n) => `"${n}"`).join(', ') : 'none'
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'file not found'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'EISDIR') return 'is a directory'
  return code ?? 'cannot be read'
}

/** The first YAML error as `file:line: reason`, without the source excerpt (the line may hold a token). */
function yamlError(
  file: string,
  err: { message: string; linePos?: [{ line: number }, ...unknown[]] },
): string {
  const reason = err.message.split(/ at line \d+|\n/)[0]
  const line = err.linePos?.[0]?.line
  return `${line ? `${file}:${line}` : file}: unreadable YAML (${reason})`
}

async function readConfigFile(file: string, hint: string): Promise<Raw> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new UserError(`kubeconfig ${file}: ${fsReason(err)}; ${hint}`, { cause: err })
  }
  const doc = parseDocument(text)
  const first = doc.errors[0]
  if (first) throw new UserError(`kubeconfig ${yamlError(file, first)}; fix the file or ${hint}`)
  const obj: unknown = doc.toJS()
  // An empty file is an empty config, as for kubectl.
  if (obj === null || obj === undefined) return {}
  if (!isRecord(obj)) {
    throw new UserError(
      `kubeconfig ${file}: not a kubeconfig (expected a mapping with clusters, contexts and users)`,
    )
  }
  return obj
}

/** Paths inside a kubeconfig are relative to the file that holds them (clientcmd ResolvePaths). */
function absolutize(body: Raw, keys: string[], dir: string): Raw {
  const out = { ...body }
  for (const k of keys) {
    const v = out[k]
    if (typeof v === 'string' && v && !isAbsolute(v)) out[k] = join(dir, v)
  }
  return out
}

function resolvePaths(section: string, body: Raw, dir: string): Raw {
  if (section === 'clusters' && isRecord(body.cluster)) {
    return { ...body, cluster: absolutize(body.cluster, ['certificate-authority'], dir) }
  }
  if (section === 'users' && isRecord(body.user)) {
    const user = absolutize(body.user, ['client-certificate', 'client-key', 'token-file'], dir)
    // An exec command is resolved only when it is a path, not a name looked up in PATH.
    if (isRecord(user.exec) && typeof user.exec.command === 'string' && user.exec.command.includes('/')) {
      user.exec = absolutize(user.exec, ['command'], dir)
    }
    return { ...body, user }
  }
  return body
}

interface Merged {
  clusters: Map<string, Entry>
  contexts: Map<string, Entry>
  users: Map<string, Entry>
  currentContext?: { name: string; file: string }
  files: string[]
}

/** clientcmd merge rules: the first file to define a name or the current-context wins. */
async function mergeFiles(files: string[], hint: string): Promise<Merged> {
  const merged: Merged = { clusters: new Map(), contexts: new Map(), users: new Map(), files }
  const configs = await Promise.all(files.map((f) => readConfigFile(f, hint)))
  for (const [i, cfg] of configs.entries()) {
    const file = files[i] ?? ''
    const dir = dirname(resolve(file))
    for (const section of ['clusters', 'contexts', 'users'] as const) {
      const list = cfg[section]
      if (!Array.isArray(list)) continue
      for (const item of list) {
        if (!isRecord(item) || typeof item.name !== 'string' || !item.name) continue
        if (merged[section].has(item.name)) continue
        merged[section].set(item.name, { name: item.name, body: resolvePaths(section, item, dir), file })
      }
    }
    const current = cfg['current-context']
    if (!merged.currentContext && typeof current === 'string' && current) {
      merged.currentContext = { name: current, file }
    }
  }
  return merged
}

function describeFiles(files: string[]): string {
  return files.length === 1 ? (files[0] ?? '') : `KUBECONFIG (${files.join(delimiter)})`
}

async function tokenFromFile(path: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch (err) {
    throw new UserError(`${what}: token file ${path}: ${fsReason(err)}`, { cause: err })
  }
}

/** The kubeconfig for the selected context (all entries kept), with kubectl's --context/--cluster/--user. */
async function fromFiles(merged: Merged, opts: LoadKubeConfigOptions): Promise<LoadedKubeConfig> {
  const where = describeFiles(merged.files)
  let contextName = opts.context || merged.currentContext?.name
  let ctx: Raw = {}
  if (!contextName) {
    if (!opts.cluster) {
      throw new UserError(
        `${where} has no current-context: pass --context (contexts: ${quoteList(merged.contexts.keys())}) or run kubectl config use-context NAME`,
      )
    }
    // kubectl accepts --cluster (and --user) without any context.
    contextName = opts.cluster
  } else {
    const entry = merged.contexts.get(contextName)
    if (!entry) {
      const known = `(contexts: ${quoteList(merged.contexts.keys())})`
      throw new UserError(
        opts.context
          ? `context "${contextName}" not found in ${where} ${known}; pass --context NAME`
          : `current-context "${contextName}" of ${merged.currentContext?.file} is not defined in ${where} ${known}; pass --context NAME or run kubectl config use-context NAME`,
      )
    }
    if (!isRecord(entry.body.context)) {
      throw new UserError(`kubeconfig ${entry.file}: context "${contextName}" has no context section`)
    }
    ctx = entry.body.context
  }
  const clusterName = opts.cluster || (typeof ctx.cluster === 'string' ? ctx.cluster : '')
  const userName = opts.user || (typeof ctx.user === 'string' ? ctx.user : '')
  const cluster = merged.clusters.get(clusterName)
  if (!cluster) {
    const by = opts.cluster ? 'given by --cluster' : `of context "${contextName}"`
    throw new UserError(
      `cluster "${clusterName}" ${by} not found in ${where} (clusters: ${quoteList(merged.clusters.keys())})`,
    )
  }
  const server = isRecord(cluster.body.cluster) ? cluster.body.cluster.server : undefined
  if (typeof server !== 'string' || !server) {
    throw new UserError(`kubeconfig ${cluster.file}: cluster "${clusterName}" has no server URL`)
  }
  let user: Entry | undefined
  if (userName) {
    user = merged.users.get(userName)
    if (!user) {
      const by = opts.user ? 'given by --user' : `of context "${contextName}"`
      throw new UserError(
        `user "${userName}" ${by} not found in ${where} (users: ${quoteList(merged.users.keys())})`,
      )
    }
    // kubectl reads token-file lazily and trims it; client-node reads it eagerly (relative to the working
    // directory) and keeps the newline. Read it here for the user in use and hand client-node the token.
    // With both set, the file wins, as in client-go (BearerTokenFile over BearerToken).
    if (isRecord(user.body.user) && typeof user.body.user['token-file'] === 'string') {
      const token = await tokenFromFile(user.body.user['token-file'], `user "${userName}" in ${user.file}`)
      const { 'token-file': _, ...rest } = user.body.user
      user = { ...user, body: { ...user.body, user: { ...rest, token } } }
    }
  }
  // The user's impersonation, with --as, --as-group and --as-uid over it, goes out as our headers (api.ts).
  // client-node gets the user without it: it would send `as` alone, and as UTF-16 text.
  let impersonate: Record<string, string[]> | undefined
  if (user && isRecord(user.body.user)) {
    const { as, 'as-uid': uid, 'as-groups': groups, 'as-user-extra': extra, ...credentials } = user.body.user
    impersonate = impersonationHeadersFor(
      { as, 'as-uid': uid, 'as-groups': groups, 'as-user-extra': extra, ...asFields(opts.impersonate) },
      `kubeconfig ${user.file}: user "${userName}"`,
    )
    user = { ...user, body: { ...user.body, user: credentials } }
  } else {
    impersonate = impersonationHeadersFor(asFields(opts.impersonate), 'the impersonation flags')
  }
  const namespace = typeof ctx.namespace === 'string' && ctx.namespace ? ctx.namespace : 'default'
  // A context without a user still needs one for client-node: without it, it drops the cluster's CA,
  // insecure-skip-tls-verify and tls-server-name too. An empty user sends no credentials, as kubectl does.
  const context: Raw = { cluster: clusterName, namespace, user: userName || NO_USER }
  const users = [...merged.users.values()].map((u) => (u.name === userName && user ? user.body : u.body))
  if (!userName) users.push({ name: NO_USER, user: {} })
  const contexts = [...merged.contexts.values()].filter((c) => c.name !== contextName).map((c) => c.body)
  // HTTPS_PROXY and NO_PROXY as kubectl honours them (client-node reads only the cluster's proxy-url).
  const clusters = [...merged.clusters.values()].map((c) => c.body)
  const chosen = cluster.body.cluster
  if (isRecord(chosen) && chosen['proxy-url'] === undefined) {
    const proxy = proxyFor(server, proxyFromEnv(opts.env ?? process.env))
    if (proxy)
      clusters[clusters.indexOf(cluster.body)] = {
        ...cluster.body,
        cluster: { ...chosen, 'proxy-url': proxy },
      }
  }
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters,
    contexts: [{ name: contextName, context }, ...contexts],
    users,
    'current-context': contextName,
  }
  const { KubeConfig } = await import('./k8s.ts')
  const kc = new KubeConfig()
  try {
    // JSON is YAML, and the YAML was already validated above. Entries other than the selected ones that
    // client-node cannot read are dropped instead of failing: kubectl ignores them too until they are used.
    kc.loadFromString(JSON.stringify(config), { onInvalidEntry: 'filter' })
  } catch (err) {
    // Not the parser's message: it may quote the text, credentials included.
    throw new UserError(`${where}: the kubeconfig cannot be loaded`, { cause: err })
  }
  if (!kc.getCurrentCluster())
    throw new UserError(`kubeconfig ${cluster.file}: cluster "${clusterName}" is invalid`)
  if (userName && !kc.getCurrentUser()) {
    throw new UserError(`kubeconfig ${user?.file}: user "${userName}" cannot be loaded`)
  }
  if (impersonate) impersonation.set(kc, impersonate)
  if (kc.getCurrentUser()?.exec && isRecord(cluster.body.cluster)) {
    const { runExecPluginsLikeKubectl } = await import('./exec-plugin.ts')
    runExecPluginsLikeKubectl(kc, cluster.body.cluster, opts.stdinIsTerminal, opts.signal)
  }
  const disabled = isRecord(cluster.body.cluster) && cluster.body.cluster['disable-compression'] === true
  const url = kc.getCurrentCluster()?.server ?? server
  return {
    kc,
    context: contextName,
    namespace,
    server: withoutCredentials(url),
    compression: !disabled && !opts.disableCompression && !isLoopback(url),
  }
}

/**
 * The Impersonate-* headers of a loaded kubeconfig, sent by api.ts. client-node would send `as` only
 * (Impersonate-User, as UTF-16 text that undici refuses past U+00FF) and drop as-uid, as-groups and as-user-extra.
 */
const impersonation = new WeakMap<KubeConfig, Record<string, string[]>>()

export function impersonationHeaders(kc: KubeConfig): Record<string, string[]> | undefined {
  return impersonation.get(kc)
}

/** client-go's headerKeyEscape: bytes outside an HTTP token, and '%', as %XX (UTF-8). */
function headerKeyEscape(key: string): string {
  let out = ''
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /^[A-Za-z0-9!#$&'*+\-.^_`|~]$/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** --as, --as-group and --as-uid as the kubeconfig user fields they replace. */
function asFields(flags: LoadKubeConfigOptions['impersonate']): Raw {
  return {
    ...(flags?.user ? { as: flags.user } : {}),
    ...(flags?.groups?.length ? { 'as-groups': flags.groups } : {}),
    ...(flags?.uid ? { 'as-uid': flags.uid } : {}),
  }
}

/** A header value as Go sends a string: its UTF-8 bytes (undici writes header values as latin1). */
function utf8Bytes(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1')
}

/** A user's as, as-uid, as-groups and as-user-extra as request headers, with client-go's names and checks. */
function impersonationHeadersFor(user: Raw, where: string): Record<string, string[]> | undefined {
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
  const as = user.as ?? ''
  if (typeof as !== 'string') throw new UserError(`${where}: as must be a string`)
  const uid = user['as-uid'] ?? ''
  if (typeof uid !== 'string') throw new UserError(`${where}: as-uid must be a string`)
  const groups = user['as-groups'] ?? []
  if (!strings(groups)) throw new UserError(`${where}: as-groups must be a list of strings`)
  const extra = user['as-user-extra'] ?? {}
  if (!isRecord(extra) || !Object.values(extra).every((v) => v === null || strings(v)))
    throw new UserError(`${where}: as-user-extra must map names to lists of strings`)
  const extras = Object.entries(extra as Record<string, string[] | null>).filter(([, v]) => v?.length)
  if (!as) {
    // client-go refuses these without a user to impersonate, and the API server would too.
    if (uid || groups.length || extras.length) {
      throw new UserError(
        `${where}: requesting uid, groups or user-extra without impersonating a user; set as in the kubeconfig user or pass --as`,
      )
    }
    return undefined
  }
  const headers: Record<string, string[]> = { 'impersonate-user': [utf8Bytes(as)] }
  if (uid) headers['impersonate-uid'] = [utf8Bytes(uid)]
  if (groups.length) headers['impersonate-group'] = groups.map(utf8Bytes)
  for (const [key, values] of extras)
    headers[`impersonate-extra-${headerKeyEscape(key)}`] = (values as string[]).map(utf8Bytes)
  return headers
}

/** Whether a server URL names this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(server: string): boolean {
  try {
    return isLoopbackHost(new URL(server).hostname)
  } catch {
    return false
  }
}

/** The service account of the pod we run in (client-go InClusterConfig). */
async function inCluster(
  env: NodeJS.ProcessEnv,
  dir: string,
  opts: LoadKubeConfigOptions,
): Promise<LoadedKubeConfig> {
  const host = env.KUBERNETES_SERVICE_HOST ?? ''
  const port = env.KUBERNETES_SERVICE_PORT ?? ''
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`
  const token = await tokenFromFile(join(dir, 'token'), 'in-cluster service account')
  let namespace = env.POD_NAMESPACE?.trim() || ''
  if (!namespace) {
    try {
      namespace = (await readFile(join(dir, 'namespace'), 'utf8')).trim()
    } catch {
      // client-go falls back to default as well.
    }
  }
  namespace ||= 'default'
  const { KubeConfig } = await import('./k8s.ts')
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'in-cluster', token }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace }],
    currentContext: 'in-cluster',
  })
  const headers = impersonationHeadersFor(asFields(opts.impersonate), 'the impersonation flags')
  if (headers) impersonation.set(kc, headers)
  return { kc, context: 'in-cluster', namespace, server, compression: !opts.disableCompression }
}

function inClusterAvailable(env: NodeJS.ProcessEnv, dir: string): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(join(dir, 'token')))
}

/**
 * Loads the kube context like kubectl: `--kubeconfig`, else `KUBECONFIG` (files joined by ':' merged, the first
 * to define a name or current-context wins, missing files skipped), else `~/.kube/config`, else the in-cluster
 * service account. Every failure is a one-line UserError naming the file; credentials never appear in messages.
 */
export async function loadKubeConfig(opts: LoadKubeConfigOptions = {}): Promise<LoadedKubeConfig> {
  const env = opts.env ?? process.env
  const saDir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR
  const orInstead = opts.withoutCluster ? `, or ${opts.withoutCluster}` : ''
  let files: string[]
  let hint: string
  if (opts.kubeconfig) {
    files = [opts.kubeconfig]
    hint = 'check the path given to --kubeconfig'
  } else if (env.KUBECONFIG) {
    const listed = [...new Set(env.KUBECONFIG.split(delimiter).filter(Boolean))]
    files = listed.filter((f) => existsSync(f))
    hint = 'check KUBECONFIG or pass --kubeconfig'
    if (!files.length) {
      if (inClusterAvailable(env, saDir)) return inCluster(env, saDir, opts)
      const what = listed.length === 1 ? 'a file that does not exist' : 'files that do not exist'
      throw new UserError(
        `no kubeconfig found: KUBECONFIG names ${what} (${listed.join(delimiter)}); ${hint}${orInstead}`,
      )
    }
  } else {
    const home = env.HOME || homedir()
    const file = join(home, '.kube', 'config')
    if (!existsSync(file)) {
      if (inClusterAvailable(env, saDir)) return inCluster(env, saDir, opts)
      throw new UserError(`no kubeconfig found: set KUBECONFIG, pass --kubeconfig${orInstead}`)
    }
    files = [file]
    hint = 'set KUBECONFIG or pass --kubeconfig'
  }
  return fromFiles(await mergeFiles(files, hint), opts)
}
