/** One `WWW-Authenticate` challenge: scheme lower-cased, parameter names lower-cased. */
export interface AuthChallenge {
  scheme: string
  params: Record<string, string>
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/

/**
 * Parses a `WWW-Authenticate` header value as distribution's parseAuthHeader does:
 * token or quoted-string values (backslash escapes), several challenges separated by commas
 * when a new scheme starts. Never throws; returns what it could read.
 */
export function parseChallenges(header: string): AuthChallenge[] {
  const out: AuthChallenge[] = []
  let i = 0
  const n = header.length
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++
  }
  const readToken = () => {
    const start = i
    while (i < n && TOKEN_CHAR.test(header[i]!)) i++
    return header.slice(start, i)
  }
  while (i < n) {
    const loopStart = i
    skipSpace()
    while (i < n && header[i] === ',') i++
    skipSpace()
    const scheme = readToken()
    if (!scheme) break
    const challenge: AuthChallenge = { scheme: scheme.toLowerCase(), params: {} }
    out.push(challenge)
    for (;;) {
      skipSpace()
      const save = i
      const name = readToken()
      skipSpace()
      if (!name || header[i] !== '=') {
        // Not a parameter: the start of the next challenge (or junk).
        i = save
        break
      }
      i++
      skipSpace()
      let value = ''
      if (header[i] === '"') {
        i++
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++
          value += header[i]
          i++
        }
        i++
      } else {
        value = readToken()
      }
      challenge.params[name.toLowerCase()] = value
      skipSpace()
      if (header[i] === ',') i++
      else break
    }
    // A parameter without a scheme after it would loop forever: skip one character.
    if (i === loopStart) i++
  }
  return out
}
