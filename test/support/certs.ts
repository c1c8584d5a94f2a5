// Test certificates made with openssl per run (never committed): a CA, and server and client
// certificates it signs, for the HTTPS Kubernetes test API server and the TLS test registry.
import { execFile } from 'node:child_process'
import { generateKeyPair, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const genKeyPair = promisify(generateKeyPair)

const OPENSSL_CONFIG = `[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ client_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`

async function newKey(): Promise<string> {
  const { privateKey } = await genKeyPair('ec', { namedCurve: 'P-256' })
  return (privateKey as KeyObject).export({ type: 'pkcs8', format: 'pem' }).toString()
}

export function subjectPart(s: string): string {
  return s.replace(/[/\\+=,]/g, (c) => `\\${c}`)
}

export class CertFactory {
  private seq = 0
  readonly dir: string
  readonly days: number
  private constructor(dir: string, days: number) {
    this.dir = dir
    this.days = days
  }

  /** A factory writing into `dir` (the caller owns and removes it), certificates valid `days`. */
  static async create(dir: string, days: number): Promise<CertFactory> {
    await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG)
    return new CertFactory(dir, days)
  }

  /** Issues a certificate; signed by `ca` when given, else self-signed CA. */
  async issue(
    subject: string,
    ext: 'ca_ext' | 'server_ext' | 'client_ext',
    ca?: { certFile: string; keyFile: string },
  ): Promise<{ certPem: string; keyPem: string; certFile: string; keyFile: string }> {
    const id = this.seq++
    const keyPem = await newKey()
    const keyFile = join(this.dir, `${id}.key`)
    const certFile = join(this.dir, `${id}.crt`)
    await writeFile(keyFile, keyPem, { mode: 0o600 })
    const args = [
      'req',
      '-x509',
      '-config',
      join(this.dir, 'openssl.cnf'),
      '-extensions',
      ext,
      '-key',
      keyFile,
    ]
    if (ca) args.push('-CA', ca.certFile, '-CAkey', ca.keyFile)
    args.push('-subj', subject, '-days', String(this.days), '-out', certFile)
    await run('openssl', args, { timeout: 10_000 })
    return { certPem: await readFile(certFile, 'utf8'), keyPem, certFile, keyFile }
  }
}
