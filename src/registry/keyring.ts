// Registry credential matching as kubelet does it for pull secrets and node config.json
// (kubernetes pkg/credentialprovider keyring.go + config.go), plus the docker/cli key helpers.
// See shared/reference/registry.md §4.6 and §4.8.
import { goPathMatch } from '../reference/index.ts'

// --- a small Go net/url.Parse, enough for keyring keys and image names ---

interface GoUrl {
  scheme: string
  /** host[:port] as written (brackets kept), percent-decoded. */
  host: string
  /** Percent-decoded path. */
  path: string
}

function getScheme(raw: string): { scheme: string; rest: string } | null {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string
    if (/[a-zA-Z]/.test(c)) continue
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return { scheme: '', rest: raw }
      continue
    }
    if (c === ':') return i === 0 ? null : { scheme: raw.slice(0, i), rest: raw.slice(i + 1) }
    return { scheme: '', rest: raw }
  }
  return { scheme: '', rest: raw }
}

const validOptionalPort = (p: string): boolean => p === '' || /^:[0-9]*$/.test(p)

// Go url.unescape; `host` mode also rejects the ASCII characters Go refuses in hosts.
function urlUnescape(s: string, mode: 'host' | 'path'): string | null {
  if (mode === 'host' && /[^A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"%\u0080-\uffff]/.test(s)) return null
  if (!s.includes('%')) return s
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      const cp = s.codePointAt(i) as number
      if (cp > 0xffff) i++
      bytes.push(...Buffer.from(String.fromCodePoint(cp)))
      continue
    }
    const hex = s.slice(i + 1, i + 3)
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null
    const b = Number.parseInt(hex, 16)
    // Go allows only %25 or non-ASCII escapes in hosts.
    if (mode === 'host' && b < 0x80 && hex !== '25') return null
    bytes.push(b)
    i += 2
  }
  return Buffer.from(bytes).toString('utf8')
}

function parseHost(host: string): string | null {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']')
    if (i < 0 || !validOptionalPort(host.slice(i + 1))) return null
  } else {
    const i = host.lastIndexOf(':')
    if (i >= 0 && !validOptionalPort(host.slice(i))) return null
  }
  return urlUnescape(host, 'host')
}

/** Go `url.Parse` reduced to scheme, host and path; null where Go returns an error. */
function goUrlParse(raw: string): GoUrl | null {
  // Go rejects control characters anywhere in a URL.
  if (/[\u0000-\u001f\u007f]/.test(raw)) return null
  const hash = raw.indexOf('#')
  const u = hash >= 0 ? raw.slice(0, hash) : raw
  const sch = getScheme(u)
  if (sch === null) return null
  let rest = sch.rest
  const q = rest.indexOf('?')
  if (q >= 0) rest = rest.slice(0, q)
  let host = ''
  if (sch.scheme !== '' && !rest.startsWith('/'))
    return { scheme: sch.scheme.toLowerCase(), host: '', path: '' }
  if (rest.startsWith('//') && (sch.scheme !== '' || !rest.startsWith('///'))) {
    let authority = rest.slice(2)
    rest = ''
    const slash = authority.indexOf('/')
    if (slash >= 0) {
      rest = authority.slice(slash)
      authority = authority.slice(0, slash)
    }
    const at = authority.lastIndexOf('@')
    const h = parseHost(at >= 0 ? authority.slice(at + 1) : authority)
    if (h === null) return null
    host = h
  }
  const path = urlUnescape(rest, 'path')
  if (path === null) return null
  return { scheme: sch.scheme.toLowerCase(), host, path }
}

/** Go net.SplitHostPort; null on error. */
function splitHostPort(hostport: string): { host: string; port: string } | null {
  const i = hostport.lastIndexOf(':')
  if (i < 0) return null
  let host: string
  let j = 0
  let k = 0
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']')
    if (end < 0 || end + 1 !== i) return null
    host = hostport.slice(1, end)
    j = 1
    k = end + 1
  } else {
    host = hostport.slice(0, i)
    if (host.includes(':')) return null
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return null
  return { host, port: hostport.slice(i + 1) }
}

// --- kubelet keyring ---

/** Where kubelet keeps Docker Hub credentials: the key `https://index.docker.io/v1/` normalises to this. */
export const DEFAULT_REGISTRY_HOST = 'index.docker.io'
/** docker/cli's config key for Docker Hub. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

/**
 * BasicDockerKeyring.Add's key normalisation: `https://quay.io/v1/` -> `quay.io`,
 * `https://host/v2/foo` -> `host/foo`. Returns undefined for keys Go's url.Parse rejects.
 */
export function normalizeKeyringKey(key: string): string | undefined {
  const value = key.startsWith('https://') || key.startsWith('http://') ? key : `https://${key}`
  const parsed = goUrlParse(value)
  if (parsed === null) return undefined
  let path = parsed.path
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3)
  return path.length > 0 && path !== '/' ? parsed.host + path : parsed.host
}

function splitUrl(u: GoUrl): { parts: string[]; port: string } {
  const hp = splitHostPort(u.host)
  return hp ? { parts: hp.host.split('.'), port: hp.port } : { parts: u.host.split('.'), port: '' }
}

/**
 * URLsMatchStr(pattern, image): same port, same number of host labels, each label matched with
 * filepath.Match, and the pattern's path a string prefix of the image's. A bad pattern is no match.
 */
export function urlsMatch(pattern: string, image: string): boolean {
  const g = goUrlParse(`https://${pattern}`)
  const t = goUrlParse(`https://${image}`)
  if (g === null || t === null) return false
  const gs = splitUrl(g)
  const ts = splitUrl(t)
  if (gs.port !== ts.port || gs.parts.length !== ts.parts.length) return false
  if (!t.path.startsWith(g.path)) return false
  try {
    return gs.parts.every((label, i) => goPathMatch(label, ts.parts[i] as string))
  } catch {
    return false
  }
}

/** Whether kubelet treats an image as a Docker Hub image (for the `index.docker.io` fallback). */
export function isDefaultRegistryMatch(image: string): boolean {
  const slash = image.indexOf('/')
  const first = slash >= 0 ? image.slice(0, slash) : image
  if (first === '') return false
  if (slash < 0) return true
  if (first === 'docker.io' || first === 'index.docker.io') return true
  return !/[.:]/.test(first)
}

export interface KeyringCredentials {
  username: string
  password: string
  email?: string
}

export interface KeyringMatch {
  /** The normalised key that matched (`index.docker.io` for the Hub fallback). */
  key: string
  credentials: KeyringCredentials
}

const AUTH_FIELD_ERROR = 'unable to parse auth field, must be formatted as base64(username:password)'

/** Go base64.StdEncoding / RawStdEncoding DecodeString (non-strict; \r and \n ignored). */
function goBase64(s: string, padded: boolean): Buffer | null {
  const t = s.replace(/[\r\n]/g, '')
  if (padded ? !/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0 : !/^[A-Za-z0-9+/]*$/.test(t)) {
    return null
  }
  if (!padded && t.length % 4 === 1) return null
  return Buffer.from(t, 'base64')
}

/**
 * kubelet's decodeDockerConfigFieldAuth: base64 (padded if it ends in `=`, else unpadded) of
 * `user:pass`, split at the first colon. The error never includes the value.
 */
export function decodeKeyringAuth(field: string): { username: string; password: string } {
  const decoded = goBase64(field, field.trim().endsWith('='))
  const text = decoded?.toString('utf8')
  const colon = text === undefined ? -1 : text.indexOf(':')
  if (text === undefined || colon < 0) throw new Error(AUTH_FIELD_ERROR)
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The entries of a `.dockerconfigjson` (`{"auths": {...}}`) or legacy `.dockercfg` (bare map);
 * `format` 'auto' picks by the presence of `auths`. `auth` wins over username/password;
 * identitytoken/registrytoken are not read (as kubelet). `what` names the source in errors
 * (e.g. `secret default/regcred`); errors never include values.
 */
export function parseKeyringConfig(
  json: unknown,
  what = 'docker config',
  format: 'auto' | 'dockerconfigjson' | 'dockercfg' = 'auto',
): Record<string, KeyringCredentials> {
  if (!isObject(json)) throw new Error(`${what}: not a JSON object`)
  const wrapped = format === 'dockerconfigjson' || (format === 'auto' && 'auths' in json)
  const map = wrapped ? (json.auths ?? {}) : json
  if (!isObject(map)) throw new Error(`${what}: auths is not a JSON object`)
  const out: Record<string, KeyringCredentials> = {}
  for (const [key, entry] of Object.entries(map)) {
    if (!isObject(entry)) throw new Error(`${what}: entry ${JSON.stringify(key)} is not an object`)
    const field = (name: string): string => {
      const v = entry[name]
      if (v === undefined || v === null) return ''
      if (typeof v !== 'string')
        throw new Error(`${what}: entry ${JSON.stringify(key)}: ${name} is not a string`)
      return v
    }
    let username = field('username')
    let password = field('password')
    const email = field('email')
    const auth = field('auth')
    if (auth !== '') {
      try {
        ;({ username, password } = decodeKeyringAuth(auth))
      } catch (err) {
        throw new Error(`${what}: entry ${JSON.stringify(key)}: ${(err as Error).message}`)
      }
    }
    out[key] = email ? { username, password, email } : { username, password }
  }
  return out
}

const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** kubelet's BasicDockerKeyring. */
export class Keyring {
  #index: string[] = []
  readonly #creds = new Map<string, KeyringCredentials[]>()
  /** Keys that Go's url.Parse would reject; kubelet logs and skips them. */
  readonly ignoredKeys: string[] = []

  constructor(entries: Record<string, KeyringCredentials> = {}) {
    this.add(entries)
  }

  /** A keyring from `.dockerconfigjson` / `.dockercfg` JSON (object or text). */
  static fromDockerConfig(json: unknown, what = 'docker config'): Keyring {
    let value = json
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json)
      } catch {
        // JSON.parse's message quotes the text, which holds credentials.
        throw new Error(`${what}: not valid JSON`)
      }
    }
    return new Keyring(parseKeyringConfig(value, what))
  }

  add(entries: Record<string, KeyringCredentials>): void {
    for (const [loc, creds] of Object.entries(entries)) {
      const key = normalizeKeyringKey(loc)
      if (key === undefined) {
        this.ignoredKeys.push(loc)
        continue
      }
      const list = this.#creds.get(key)
      if (list) list.push(creds)
      else this.#creds.set(key, [creds])
    }
    // Reverse-sorted so more specific keys come first (quay.io/coreos before quay.io).
    this.#index = [...this.#creds.keys()].sort((a, b) => byteCompare(b, a))
  }

  /** Normalised keys, most specific first. */
  get keys(): readonly string[] {
    return this.#index
  }

  /**
   * Every matching credential, most specific first; kubelet tries them in order. Pass the
   * repository as kubelet does: `parseImageReference(image).name` (no tag or digest).
   * Only when nothing matches does a Hub image fall back to the `index.docker.io` entry.
   */
  lookup(image: string): KeyringMatch[] {
    const out: KeyringMatch[] = []
    for (const key of this.#index) {
      if (urlsMatch(key, image))
        for (const credentials of this.#creds.get(key) ?? []) out.push({ key, credentials })
    }
    if (out.length > 0 || !isDefaultRegistryMatch(image)) return out
    return (this.#creds.get(DEFAULT_REGISTRY_HOST) ?? []).map((credentials) => ({
      key: DEFAULT_REGISTRY_HOST,
      credentials,
    }))
  }
}

// --- docker/cli ---

/**
 * docker/cli credentials.ConvertToHostname: reduces an `auths` key to host[:port]
 * (`https://example.com:6555/v2/` -> `example.com:6555`).
 */
export function convertToHostname(key: string): string {
  if (key.includes('://')) {
    const u = goUrlParse(key)
    if (u !== null && u.host !== '') {
      let host = u.host
      let port = ''
      const colon = host.lastIndexOf(':')
      if (colon >= 0 && validOptionalPort(host.slice(colon))) {
        port = host.slice(colon + 1)
        host = host.slice(0, colon)
      }
      if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
      if (host !== '') {
        if (port === '') return host
        return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
      }
    }
  }
  const slash = key.indexOf('/')
  return slash >= 0 ? key.slice(0, slash) : key
}

/** docker/cli getAuthConfigKey: the config.json / credential-helper key for a registry domain. */
export function dockerAuthConfigKey(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? DOCKER_HUB_AUTH_KEY : host
}
