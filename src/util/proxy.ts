// Which proxy a URL goes through, the way Go's ProxyFromEnvironment decides (kubectl, docker and skopeo use it),
// so the cluster and the registries are reached as those tools reach them.
import { isIP } from 'node:net'

/** Proxies as HTTP_PROXY, HTTPS_PROXY and NO_PROXY give them. */
export interface ProxySettings {
  httpProxy?: string
  httpsProxy?: string
  noProxy?: string
}

/** The proxy variables, upper case first as Go reads them; undefined when neither proxy is set. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): ProxySettings | undefined {
  const pick = (name: string) => env[name] || env[name.toLowerCase()] || undefined
  const settings: ProxySettings = {}
  const httpProxy = pick('HTTP_PROXY')
  const httpsProxy = pick('HTTPS_PROXY')
  const noProxy = pick('NO_PROXY')
  if (httpProxy) settings.httpProxy = httpProxy
  if (httpsProxy) settings.httpsProxy = httpsProxy
  if (noProxy) settings.noProxy = noProxy
  return httpProxy || httpsProxy ? settings : undefined
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0)
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string]
  if (isIP(ip) !== 4 || isIP(base) !== 4) return ip === base
  const size = Number(bits)
  if (!Number.isInteger(size) || size < 0 || size > 32) return false
  const mask = size === 0 ? 0 : (0xffffffff << (32 - size)) >>> 0
  return (ipv4ToNumber(ip) & mask) >>> 0 === (ipv4ToNumber(base) & mask) >>> 0
}

/** Whether NO_PROXY exempts this host and port: `*`, an IP or CIDR, a domain with its subdomains, `.domain` for subdomains only, each optionally `:port`. */
function exempt(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(',')) {
    let entry = raw.trim().toLowerCase()
    if (!entry) continue
    if (entry === '*') return true
    if (entry.includes('/')) {
      if (inCidr(host, entry)) return true
      continue
    }
    let entryPort = ''
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry)
    if (bracketed) {
      entry = bracketed[1]!
      entryPort = bracketed[2] ?? ''
    } else if (isIP(entry) !== 6) {
      const colon = entry.lastIndexOf(':')
      if (colon > 0) {
        entryPort = entry.slice(colon + 1)
        entry = entry.slice(0, colon)
      }
    }
    if (entryPort && entryPort !== port) continue
    if (isIP(entry)) {
      if (entry === host) return true
      continue
    }
    if (entry.startsWith('*.')) entry = entry.slice(1)
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return true
    } else if (host === entry || host.endsWith(`.${entry}`)) return true
  }
  return false
}

/** Whether a URL's hostname names this machine: localhost, 127.0.0.0/8 or ::1 (bracketed or not). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** The proxy URL for a request to `target`, or undefined to connect directly (always for this machine). */
export function proxyFor(target: URL | string, settings: ProxySettings | undefined): string | undefined {
  if (!settings) return undefined
  let url: URL
  try {
    url = typeof target === 'string' ? new URL(target) : target
  } catch {
    // Not a URL: connecting will say what is wrong with it.
    return undefined
  }
  const proxy =
    url.protocol === 'https:'
      ? settings.httpsProxy
      : url.protocol === 'http:'
        ? settings.httpProxy
        : undefined
  if (!proxy) return undefined
  if (isLoopbackHost(url.hostname)) return undefined
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  if (settings.noProxy && exempt(host, port, settings.noProxy)) return undefined
  return proxy
}
