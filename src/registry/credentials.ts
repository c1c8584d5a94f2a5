// Where registry credentials and per-registry TLS settings come from: KUBECTL_IMAGES_REGISTRY_* sets
// (modelled on kluctl's KLUCTL_REGISTRY_*), then docker's config.json with its credential helpers.
// See shared/reference/registry.md §4.6-4.7 and kluctl.md §4. Secrets never go into errors or sources.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { homedir as osHomedir } from 'node:os'
import { join } from 'node:path'
import { anchoredDomainAndPortRegexp } from '../reference/index.ts'
import { UserError } from '../util/errors.ts'
import { convertToHostname, dockerAuthConfigKey } from './keyring.ts'

export type RegistryCredentials = {
  username?: string
  password?: string
  /** OAuth2 refresh token (docker `identitytoken`, or a helper answering user `<token>`). */
  identityToken?: string
  /** A ready bearer token (docker `registrytoken`, or `..._TOKEN`). */
  registryToken?: string
}

export type RegistrySettings = {
  /** Plain HTTP. */
  insecure?: boolean
  skipTlsVerify?: boolean
  /** PEM file of CAs to trust for this registry. */
  caFile?: string
}

export interface RegistryAccessOptions {
  env?: NodeJS.ProcessEnv
  /** Overrides $DOCKER_CONFIG and ~/.docker. */
  dockerConfigDir?: string
  homedir?: string
  /** Credential helper time limit; 10 s unless a test shortens it. */
  helperTimeoutMs?: number
}

export interface ResolvedRegistryAccess {
  credentials?: RegistryCredentials
  insecure: boolean
  skipTlsVerify: boolean
  caFile?: string
  /** Where the credentials came from, safe to print: `env KUBECTL_IMAGES_REGISTRY_1`, `docker config auths`, `none`. */
  source: string
}

// --- KUBECTL_IMAGES_REGISTRY[_<N>]_<KEY> ---

export const ENV_PREFIX = 'KUBECTL_IMAGES_REGISTRY'
const ENV_RE = new RegExp(`^${ENV_PREFIX}(_\\d+)?_(.*)$`)
const ENV_KEYS = ['HOST', 'USERNAME', 'PASSWORD', 'TOKEN', 'INSECURE', 'SKIP_TLS_VERIFY', 'CA_FILE'] as const
type EnvKey = (typeof ENV_KEYS)[number]

export interface EnvRegistrySet {
  /** Variable prefix as the user spelled it, e.g. `KUBECTL_IMAGES_REGISTRY_01`; safe to print. */
  name: string
  /** -1 for the set without an index; sets are tried in index order. */
  index: number
  /** `*` or host[:port] as in image references. */
  host: string
  credentials?: RegistryCredentials
  settings: RegistrySettings
}

/** Go strconv.ParseBool. */
function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false
  return undefined
}

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])
const hostKey = (host: string): string => (HUB_ALIASES.has(host) ? 'docker.io' : host)

function expandHome(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path
}

/**
 * The KUBECTL_IMAGES_REGISTRY sets in `env`, sorted by index (`_01_` is `_1_`). Sets without HOST
 * are returned in `ignored` (by name) and never match. Throws a UserError naming the variable for an
 * unknown key, a bad HOST or a bad boolean; values of secrets are never echoed.
 */
export function parseEnvRegistrySets(
  env: NodeJS.ProcessEnv,
  home: string = osHomedir(),
): { sets: EnvRegistrySet[]; ignored: string[] } {
  const groups = new Map<number, { vars: Map<EnvKey, { value: string; variable: string }>; prefix: string }>()
  for (const variable of Object.keys(env).sort()) {
    const value = env[variable]
    const m = ENV_RE.exec(variable)
    if (!m || value === undefined) continue
    const index = m[1] === undefined ? -1 : Number(m[1].slice(1))
    // kluctl parses the index as int32 and skips what does not fit.
    if (index > 0x7fffffff) continue
    const key = m[2] as string
    if (!(ENV_KEYS as readonly string[]).includes(key)) {
      throw new UserError(
        `unknown variable ${variable}: the keys of ${ENV_PREFIX}[_<N>]_* are ${ENV_KEYS.join(', ')}`,
      )
    }
    let group = groups.get(index)
    if (!group) {
      group = { vars: new Map(), prefix: variable.slice(0, variable.length - key.length - 1) }
      groups.set(index, group)
    }
    // Name the set as its HOST variable spells it (`_01` or `_1`).
    if (key === 'HOST') group.prefix = variable.slice(0, variable.length - key.length - 1)
    const prev = group.vars.get(key as EnvKey)
    if (prev && prev.value !== value) {
      throw new UserError(
        `${prev.variable} and ${variable} name the same setting with different values; keep one`,
      )
    }
    group.vars.set(key as EnvKey, { value, variable })
  }

  const sets: EnvRegistrySet[] = []
  const ignored: string[] = []
  for (const [index, { vars, prefix }] of [...groups].sort((a, b) => a[0] - b[0])) {
    const get = (k: EnvKey): string => vars.get(k)?.value ?? ''
    const bool = (k: EnvKey): boolean | undefined => {
      const v = vars.get(k)
      if (v === undefined || v.value === '') return undefined
      const parsed = parseGoBool(v.value)
      if (parsed === undefined) throw new UserError(`${v.variable} must be true or false (or 1/0, t/f)`)
      return parsed
    }
    // Booleans are checked even in sets that will be ignored, so a typo never goes unnoticed.
    const insecure = bool('INSECURE')
    const skip = bool('SKIP_TLS_VERIFY')
    const host = get('HOST')
    if (host === '') {
      ignored.push(prefix)
      continue
    }
    if (host !== '*' && !anchoredDomainAndPortRegexp.test(host)) {
      throw new UserError(
        `${prefix}_HOST must be * or a registry host[:port] as written in image names (e.g. ghcr.io, localhost:5000), not ${JSON.stringify(host.slice(0, 100))}`,
      )
    }
    const settings: RegistrySettings = {}
    if (insecure !== undefined) settings.insecure = insecure
    if (skip !== undefined) settings.skipTlsVerify = skip
    if (get('CA_FILE') !== '') settings.caFile = expandHome(get('CA_FILE'), home)
    const credentials: RegistryCredentials = {}
    // As kluctl: a set's user and password count only with a user name; a lone password is not credentials.
    if (get('USERNAME') !== '') {
      credentials.username = get('USERNAME')
      credentials.password = get('PASSWORD')
    }
    if (get('TOKEN') !== '') credentials.registryToken = get('TOKEN')
    const set: EnvRegistrySet = { name: prefix, index, host, settings }
    if (Object.keys(credentials).length > 0) set.credentials = credentials
    sets.push(set)
  }
  return { sets, ignored }
}

/** The set for `host`: the first (by index) whose HOST equals it, else the first `*` set. */
export function selectEnvRegistrySet(
  sets: readonly EnvRegistrySet[],
  host: string,
): EnvRegistrySet | undefined {
  const key = hostKey(host)
  return sets.find((s) => s.host !== '*' && hostKey(s.host) === key) ?? sets.find((s) => s.host === '*')
}

// --- docker config.json and credential helpers ---

const NOT_FOUND = 'credentials not found in native keychain'
const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/
const DEFAULT_HELPER_TIMEOUT_MS = 10_000
const MAX_HELPER_OUTPUT = 1 << 20

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** The docker config directory: `dockerConfigDir`, else $DOCKER_CONFIG, else ~/.docker. */
export function dockerConfigPath(opts: RegistryAccessOptions = {}): string {
  const env = opts.env ?? process.env
  const dir = opts.dockerConfigDir ?? (env.DOCKER_CONFIG || join(opts.homedir ?? osHomedir(), '.docker'))
  return join(dir, 'config.json')
}

async function readDockerConfig(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UserError(
      `cannot read docker config ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    )
  }
  if (text.trim() === '') return {}
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text, which may hold credentials.
    throw new UserError(`docker config ${path} is not valid JSON`)
  }
  if (!isObject(json)) throw new UserError(`docker config ${path} is not a JSON object`)
  return json
}

/** docker/cli decodeAuth: std base64 of `user:pass`, non-empty user, NULs trimmed from the password. */
function decodeDockerAuth(auth: string): { username: string; password: string } | undefined {
  const t = auth.replace(/[\r\n]/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined
  const text = Buffer.from(t, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  // docker trims NUL padding from the password.
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/^\x00+|\x00+$/g, '') }
}

/** An `auths` entry for `key`: exact, then any whose ConvertToHostname equals it (sorted, for determinism). */
function findAuthsEntry(
  auths: unknown,
  key: string,
): { key: string; entry: Record<string, unknown> } | undefined {
  if (!isObject(auths)) return undefined
  const exact = auths[key]
  if (isObject(exact)) return { key, entry: exact }
  for (const k of Object.keys(auths).sort()) {
    const entry = auths[k]
    if (isObject(entry) && convertToHostname(k) === key) return { key: k, entry }
  }
  return undefined
}

function authsCredentials(entry: Record<string, unknown>, what: string): RegistryCredentials | undefined {
  const c: RegistryCredentials = {}
  const auth = str(entry.auth)
  if (auth !== '') {
    const decoded = decodeDockerAuth(auth)
    if (!decoded)
      throw new UserError(`${what} has an invalid auth field (must be base64 of username:password)`)
    // `user:` is a user with an empty password, which docker sends as such.
    c.username = decoded.username
    c.password = decoded.password
  } else {
    if (str(entry.username) !== '') {
      c.username = str(entry.username)
      c.password = str(entry.password)
    } else if (str(entry.password) !== '') c.password = str(entry.password)
  }
  if (str(entry.identitytoken) !== '') c.identityToken = str(entry.identitytoken)
  if (str(entry.registrytoken) !== '') c.registryToken = str(entry.registrytoken)
  return Object.keys(c).length > 0 ? c : undefined
}

/**
 * Runs `docker-credential-<name> get` with `serverUrl` on stdin. Resolves undefined when the helper
 * has nothing for it. Errors name the helper and the registry, never the helper's output.
 */
export function runCredentialHelper(
  name: string,
  serverUrl: string,
  registry: string,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RegistryCredentials | undefined> {
  const program = `docker-credential-${name}`
  if (!HELPER_NAME_RE.test(name)) {
    return Promise.reject(
      new UserError(`docker config names an invalid credential helper ${JSON.stringify(name)}`),
    )
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    let done = false
    const chunks: Buffer[] = []
    let size = 0
    // stderr is dropped: only stdout is the protocol, and neither is shown to users.
    const child = spawn(program, ['get'], {
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'ignore'],
      windowsHide: true,
    })
    const finish = (why: string | undefined, value?: RegistryCredentials): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (why === undefined) {
        resolve(value)
        return
      }
      // Do not wait for stdout to close: a grandchild may hold it open.
      child.stdout?.destroy()
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      reject(new UserError(`credential helper ${program} ${why} for registry ${registry}`))
    }
    const timer = setTimeout(() => finish(`timed out after ${timeoutMs / 1000} s`), timeoutMs)
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') finish('was not found on PATH; install it or fix the docker config')
      else if (err.code === 'EACCES') finish('is not executable')
      else finish(`could not be started (${err.code ?? 'error'})`)
    })
    child.stdout?.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_HELPER_OUTPUT) finish('sent too much output')
      else chunks.push(chunk)
    })
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(chunks).toString('utf8')
      if (code !== 0) {
        if (code !== null && stdout.trim() === NOT_FOUND) return finish(undefined)
        return finish(code !== null ? `failed (exit status ${code})` : `was killed (${signal})`)
      }
      let answer: unknown
      try {
        answer = JSON.parse(stdout)
      } catch {
        return finish('sent an unreadable answer (not JSON)')
      }
      if (!isObject(answer)) return finish('sent an unreadable answer (not a JSON object)')
      const username = str(answer.Username)
      const secret = str(answer.Secret)
      if (username === '' && secret === '') return finish(undefined)
      // Helpers store identity tokens under the user name `<token>`.
      if (username === '<token>') return finish(undefined, { identityToken: secret })
      finish(undefined, { username, password: secret })
    })
    // A helper may exit before reading stdin; that surfaces through its exit status instead.
    child.stdin?.on('error', () => {})
    child.stdin?.end(serverUrl)
  })
}

/**
 * docker's lookup for one registry: DOCKER_AUTH_CONFIG, then credHelpers[key] > credsStore > auths
 * (exact key, then ConvertToHostname). A helper's "not found" means no credentials, even if auths has some.
 */
export async function dockerConfigCredentials(
  host: string,
  opts: RegistryAccessOptions = {},
): Promise<{ credentials?: RegistryCredentials; source: string }> {
  const env = opts.env ?? process.env
  const key = dockerAuthConfigKey(host)

  // docker/cli >= 28.3: a JSON config in the environment, consulted before every store (auth only).
  const inline = env.DOCKER_AUTH_CONFIG
  if (inline) {
    let json: unknown
    try {
      json = JSON.parse(inline)
    } catch {
      throw new UserError('DOCKER_AUTH_CONFIG is not valid JSON')
    }
    const found = isObject(json) ? findAuthsEntry(json.auths, key) : undefined
    if (found && str(found.entry.auth) !== '') {
      const decoded = decodeDockerAuth(str(found.entry.auth))
      if (!decoded) {
        throw new UserError(`DOCKER_AUTH_CONFIG entry ${JSON.stringify(found.key)} has an invalid auth field`)
      }
      const credentials: RegistryCredentials = { username: decoded.username, password: decoded.password }
      return { credentials, source: 'env DOCKER_AUTH_CONFIG' }
    }
  }

  const path = dockerConfigPath(opts)
  const config = await readDockerConfig(path)
  if (!config) return { source: 'none' }
  const helperOpts = { env, timeoutMs: opts.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS }

  const helpers = config.credHelpers
  const helper = isObject(helpers) ? str(helpers[key]) : ''
  if (helper !== '') {
    const source = `docker config credHelpers (${helper})`
    const credentials = await runCredentialHelper(helper, key, host, helperOpts)
    return credentials ? { credentials, source } : { source: `${source}: not found` }
  }
  // As docker: an entry that names no helper still decides, and means the file's auths, not credsStore.
  const storeOff = isObject(helpers) && Object.hasOwn(helpers, key)
  const store = storeOff ? '' : str(config.credsStore)
  if (store !== '') {
    const source = `docker config credsStore (${store})`
    const credentials = await runCredentialHelper(store, key, host, helperOpts)
    return credentials ? { credentials, source } : { source: `${source}: not found` }
  }
  const found = findAuthsEntry(config.auths, key)
  if (!found) return { source: 'none' }
  const credentials = authsCredentials(
    found.entry,
    `docker config ${path}: auths entry ${JSON.stringify(found.key)}`,
  )
  return credentials ? { credentials, source: 'docker config auths' } : { source: 'none' }
}

/**
 * How to reach registry `host` (the reference domain, e.g. `docker.io`, `localhost:5000`): the
 * matching KUBECTL_IMAGES_REGISTRY set gives the TLS settings and, if it has any, the credentials;
 * otherwise credentials come from docker's config. `credentials` undefined means anonymous.
 */
export async function resolveRegistryAccess(
  host: string,
  opts: RegistryAccessOptions = {},
): Promise<ResolvedRegistryAccess> {
  const env = opts.env ?? process.env
  const home = opts.homedir ?? osHomedir()
  const set = selectEnvRegistrySet(parseEnvRegistrySets(env, home).sets, host)
  const settings = set?.settings ?? {}
  const base = {
    insecure: settings.insecure ?? false,
    skipTlsVerify: settings.skipTlsVerify ?? false,
    ...(settings.caFile ? { caFile: settings.caFile } : {}),
  }
  if (set?.credentials) return { ...base, credentials: set.credentials, source: `env ${set.name}` }
  const docker = await dockerConfigCredentials(host, { ...opts, env, homedir: home })
  return docker.credentials
    ? { ...base, credentials: docker.credentials, source: docker.source }
    : { ...base, source: docker.source }
}
