// Proves the registry test harness (test/support/**) against the real docker-registry with raw fetch.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { deleteManifest, FULL_ACCEPT, MEDIA_TYPES, pushImage, sha256 } from './support/images.ts'
import { type EchoHost, type FaultProxy, startEchoHost, startFaultProxy } from './support/proxy.ts'
import { startRegistry, type TestRegistry } from './support/registry.ts'

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

function challengeParams(header: string | null): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of (header ?? '').matchAll(/(\w+)="([^"]*)"/g)) out[m[1] ?? ''] = m[2] ?? ''
  return out
}

async function getJson<T>(url: string, init?: RequestInit): Promise<{ res: Response; body: T }> {
  const res = await fetch(url, init)
  return { res, body: (await res.json()) as T }
}

const TAGS = Array.from({ length: 200 }, (_, i) => `v1.${i}.0`)

let plain: TestRegistry
let basicReg: TestRegistry
let tokenReg: TestRegistry
let manyDigests: Record<string, string> = {}

let pushTagsMs = 0

before(async () => {
  ;[plain, basicReg, tokenReg] = await Promise.all([
    startRegistry({ auth: 'none' }),
    startRegistry({ auth: 'htpasswd', users: { alice: 'alice-pw', bob: 'b:o"b pw' } }),
    startRegistry({ auth: 'token', users: { alice: 'alice-pw' }, tokenTtlSeconds: 120 }),
  ])
  // Used by the pushTags test and the proxy suite.
  const start = performance.now()
  manyDigests = await plain.pushTags('library/many', TAGS)
  pushTagsMs = performance.now() - start
})

after(async () => {
  await Promise.all([plain?.stop(), basicReg?.stop(), tokenReg?.stop()])
})

describe('registry, auth none', () => {
  test('GET /v2/ is 200 anonymously', async () => {
    const res = await fetch(`${plain.url}/v2/`)
    assert.equal(res.status, 200)
    assert.equal(plain.host, new URL(plain.url).host)
    await res.arrayBuffer()
  })

  test('multi-arch OCI push: HEAD by tag with the full Accept gives the index digest', async () => {
    const img = await pushImage(plain, 'library/multi', '1.0', {
      platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
      attestations: true,
    })
    assert.equal(img.mediaType, MEDIA_TYPES.ociIndex)
    const head = await fetch(`${plain.url}/v2/library/multi/manifests/1.0`, {
      method: 'HEAD',
      headers: { accept: FULL_ACCEPT },
    })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('docker-content-digest'), img.digest)
    assert.equal(head.headers.get('content-type'), MEDIA_TYPES.ociIndex)
    const { res, body } = await getJson<{
      manifests: { digest: string; platform: { os: string; architecture: string; variant?: string } }[]
    }>(`${plain.url}/v2/library/multi/manifests/${img.digest}`, { headers: { accept: FULL_ACCEPT } })
    assert.equal(res.status, 200)
    assert.deepEqual(
      body.manifests.map((m) => [m.platform.os, m.platform.architecture, m.platform.variant ?? '', m.digest]),
      [
        ['linux', 'amd64', '', img.platformDigests['linux/amd64']],
        ['linux', 'arm64', '', img.platformDigests['linux/arm64']],
        ['linux', 'arm', 'v7', img.platformDigests['linux/arm/v7']],
        ['unknown', 'unknown', '', img.attestationDigests[0]],
        ['unknown', 'unknown', '', img.attestationDigests[1]],
        ['unknown', 'unknown', '', img.attestationDigests[2]],
      ],
    )
    // Same seed, same bytes: a re-push is idempotent; another seed moves the tag.
    assert.equal(
      (
        await pushImage(plain, 'library/multi', '1.0', {
          platforms: ['linux/amd64', 'linux/arm64', 'linux/arm/v7'],
          attestations: true,
        })
      ).digest,
      img.digest,
    )
    const moved = await pushImage(plain, 'library/multi', '1.0', {
      seed: 'other',
      platforms: ['linux/amd64'],
    })
    assert.notEqual(moved.digest, img.digest)
  })

  test('docker manifest list and schema2 single manifest; 2.8 quirks hold', async () => {
    const list = await pushImage(plain, 'library/dock', 'multi', {
      mediaType: 'docker',
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const single = await pushImage(plain, 'library/dock', 'single', { mediaType: 'docker' })
    assert.equal(list.mediaType, MEDIA_TYPES.dockerList)
    const h1 = await fetch(`${plain.url}/v2/library/dock/manifests/multi`, {
      method: 'HEAD',
      headers: { accept: FULL_ACCEPT },
    })
    assert.equal(h1.headers.get('docker-content-digest'), list.digest)
    const g = await fetch(`${plain.url}/v2/library/dock/manifests/single`, {
      headers: { accept: FULL_ACCEPT },
    })
    const bytes = Buffer.from(await g.arrayBuffer())
    assert.equal(g.headers.get('content-type'), MEDIA_TYPES.dockerManifest)
    assert.equal(sha256(bytes), single.digest)
    // With a well-formed config, 2.8 down-converts schema2 to a signed schema1 when Accept lacks schema2: a 200
    // with a different digest. (registry.md §3.1 saw 400 MANIFEST_INVALID when the config could not be converted.)
    const noAccept = await fetch(`${plain.url}/v2/library/dock/manifests/single`)
    assert.equal(noAccept.status, 200)
    assert.equal(
      noAccept.headers.get('content-type'),
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
    )
    assert.notEqual(noAccept.headers.get('docker-content-digest'), single.digest)
    await noAccept.arrayBuffer()
    // OCI content by digest still needs its type in Accept on 2.8 (404 MANIFEST_UNKNOWN otherwise).
    const oci = await pushImage(plain, 'library/dock', 'oci')
    const ociByDigest = await fetch(`${plain.url}/v2/library/dock/manifests/${oci.digest}`)
    assert.equal(ociByDigest.status, 404)
    assert.equal(
      ((await ociByDigest.json()) as { errors: { code: string }[] }).errors[0]?.code,
      'MANIFEST_UNKNOWN',
    )
    await deleteManifest(plain, 'library/dock', single.digest)
    const gone = await fetch(`${plain.url}/v2/library/dock/manifests/${single.digest}`, { method: 'HEAD' })
    assert.equal(gone.status, 404)
  })

  test('pushTags: 200 tags, distinct digests', async (t) => {
    t.diagnostic(`200 tags pushed in ${Math.round(pushTagsMs)} ms`)
    assert.equal(Object.keys(manyDigests).length, 200)
    assert.equal(new Set(Object.values(manyDigests)).size, 200)
    const { body } = await getJson<{ tags: string[] }>(`${plain.url}/v2/library/many/tags/list`)
    assert.deepEqual([...body.tags].sort(), [...TAGS].sort())
  })
})

describe('registry, auth htpasswd', () => {
  test('401 with Basic realm without credentials, 200 with them', async () => {
    const anon = await fetch(`${basicReg.url}/v2/`)
    assert.equal(anon.status, 401)
    assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="test-realm"')
    await anon.arrayBuffer()
    const wrong = await fetch(`${basicReg.url}/v2/`, { headers: { authorization: basic('alice', 'nope') } })
    assert.equal(wrong.status, 401)
    await wrong.arrayBuffer()
    for (const [user, pass] of Object.entries(basicReg.users)) {
      const ok = await fetch(`${basicReg.url}/v2/`, { headers: { authorization: basic(user, pass) } })
      assert.equal(ok.status, 200, user)
      await ok.arrayBuffer()
    }
  })

  test('push with credentials, list tags with Basic', async () => {
    assert.deepEqual(basicReg.credentials, { username: 'alice', password: 'alice-pw' })
    await basicReg.push('team/app', '2.0')
    const { res, body } = await getJson<{ name: string; tags: string[] }>(
      `${basicReg.url}/v2/team/app/tags/list`,
      {
        headers: { authorization: basic('bob', 'b:o"b pw') },
      },
    )
    assert.equal(res.status, 200)
    assert.deepEqual(body, { name: 'team/app', tags: ['2.0'] })
    await assert.rejects(pushImage({ url: basicReg.url }, 'team/app', 'x'), /no credentials/)
  })
})

describe('registry, auth token', () => {
  test('401 Bearer challenge, token fetch, then 200 with the tag list', async () => {
    const pushed = await tokenReg.push('library/tok', 'latest', { platforms: ['linux/amd64', 'linux/arm64'] })
    const ts = tokenReg.tokenServer!
    ts.clear()
    const ping = await fetch(`${tokenReg.url}/v2/`)
    assert.equal(ping.status, 401)
    await ping.arrayBuffer()
    const pingCh = challengeParams(ping.headers.get('www-authenticate'))
    assert.match(ping.headers.get('www-authenticate') ?? '', /^Bearer /)
    assert.equal(pingCh.realm, ts.realm)
    assert.equal(pingCh.service, ts.service)

    const denied = await fetch(`${tokenReg.url}/v2/library/tok/tags/list`)
    assert.equal(denied.status, 401)
    await denied.arrayBuffer()
    const ch = challengeParams(denied.headers.get('www-authenticate'))
    assert.equal(ch.scope, 'repository:library/tok:pull')

    const tokenUrl = new URL(ch.realm ?? '')
    tokenUrl.searchParams.set('service', ch.service ?? '')
    tokenUrl.searchParams.set('scope', ch.scope ?? '')
    const tok = await getJson<{ token: string; access_token: string; expires_in: number; issued_at: string }>(
      tokenUrl.href,
      { headers: { authorization: basic('alice', 'alice-pw') } },
    )
    assert.equal(tok.res.status, 200)
    assert.equal(tok.body.expires_in, 120)
    assert.equal(tok.body.token, tok.body.access_token)
    assert.ok(!Number.isNaN(Date.parse(tok.body.issued_at)))
    const jwtHeader = JSON.parse(Buffer.from(tok.body.token.split('.')[0] ?? '', 'base64url').toString())
    assert.equal(jwtHeader.alg, 'ES256')
    assert.equal(jwtHeader.x5c.length, 1)

    const list = await getJson<{ tags: string[] }>(`${tokenReg.url}/v2/library/tok/tags/list`, {
      headers: { authorization: `Bearer ${tok.body.token}` },
    })
    assert.equal(list.res.status, 200)
    assert.deepEqual(list.body.tags, ['latest'])
    const head = await fetch(`${tokenReg.url}/v2/library/tok/manifests/latest`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${tok.body.token}`, accept: FULL_ACCEPT },
    })
    assert.equal(head.headers.get('docker-content-digest'), pushed.digest)

    assert.equal(ts.count(), 1)
    assert.deepEqual(ts.requests[0]?.scopes, ['repository:library/tok:pull'])
    assert.equal(ts.requests[0]?.user, 'alice')
    assert.equal(ts.requests[0]?.authScheme, 'Basic')
    assert.equal(ts.count('repository:library/tok:pull'), 1)
  })

  test('anonymous and bad credentials; insufficient_scope; expired tokens are refused', async () => {
    const ts = tokenReg.tokenServer!
    const realm = `${ts.realm}?service=${ts.service}&scope=repository:library/tok:pull`
    const bad = await fetch(realm, { headers: { authorization: basic('alice', 'wrong') } })
    assert.equal(bad.status, 401)
    await bad.arrayBuffer()

    const anon = await getJson<{ token: string }>(realm)
    assert.equal(anon.res.status, 200)
    const r1 = await fetch(`${tokenReg.url}/v2/library/tok/tags/list`, {
      headers: { authorization: `Bearer ${anon.body.token}` },
    })
    assert.equal(r1.status, 401)
    assert.match(r1.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/)
    await r1.arrayBuffer()

    ts.settings.anonymousPull = true
    const anon2 = await getJson<{ token: string }>(realm)
    ts.settings.anonymousPull = false
    const r2 = await fetch(`${tokenReg.url}/v2/library/tok/tags/list`, {
      headers: { authorization: `Bearer ${anon2.body.token}` },
    })
    assert.equal(r2.status, 200)
    await r2.arrayBuffer()

    ts.settings.issueExpired = true
    const stale = await getJson<{ token: string }>(realm, {
      headers: { authorization: basic('alice', 'alice-pw') },
    })
    ts.settings.issueExpired = false
    const r3 = await fetch(`${tokenReg.url}/v2/library/tok/tags/list`, {
      headers: { authorization: `Bearer ${stale.body.token}` },
    })
    assert.equal(r3.status, 401)
    assert.match(r3.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
    await r3.arrayBuffer()

    ts.failNext({ status: 429, times: 1, headers: { 'retry-after': '1' } })
    const limited = await fetch(realm)
    assert.equal(limited.status, 429)
    assert.equal(limited.headers.get('retry-after'), '1')
    await limited.arrayBuffer()
  })
})

describe('fault proxy', () => {
  let proxy: FaultProxy
  let echo: EchoHost
  let tokenProxy: FaultProxy

  before(async () => {
    ;[proxy, echo, tokenProxy] = await Promise.all([
      startFaultProxy(plain.url),
      startEchoHost(),
      startFaultProxy(tokenReg.url),
    ])
  })
  after(async () => {
    await Promise.all([proxy?.stop(), echo?.stop(), tokenProxy?.stop()])
  })

  async function walk(start: string, init?: RequestInit): Promise<{ tags: string[]; urls: string[] }> {
    const tags: string[] = []
    const urls: string[] = []
    let next: string | undefined = start
    while (next) {
      urls.push(next)
      const res = await fetch(next, init)
      assert.equal(res.status, 200, next)
      tags.push(...((await res.json()) as { tags: string[] }).tags)
      const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1]
      next = link ? new URL(link, next).href : undefined
    }
    return { tags, urls }
  }

  test('pagination: relative Link, n and last honoured, every tag exactly once', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /\/tags\/list/ }])
    proxy.clear()
    const { tags, urls } = await walk(`${proxy.url}/v2/library/many/tags/list?n=60`)
    assert.deepEqual(tags, [...TAGS].sort())
    assert.equal(urls.length, 4)
    assert.equal(proxy.count(/\/tags\/list/, 'GET'), 4)
    const first = await fetch(`${proxy.url}/v2/library/many/tags/list?n=2`)
    assert.equal(first.headers.get('link'), '</v2/library/many/tags/list?last=v1.1.0&n=2>; rel="next"')
    assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ['v1.0.0', 'v1.1.0'])
    const zero = await fetch(`${proxy.url}/v2/library/many/tags/list?n=0`)
    assert.equal(zero.headers.get('link'), null)
    assert.deepEqual(await zero.json(), { name: 'library/many', tags: [] })
    const bad = await fetch(`${proxy.url}/v2/library/many/tags/list?n=abc`)
    assert.equal(bad.status, 400)
    assert.equal(
      ((await bad.json()) as { errors: { code: string }[] }).errors[0]?.code,
      'PAGINATION_NUMBER_INVALID',
    )
    const missing = await fetch(`${proxy.url}/v2/nope/x/tags/list?n=5`)
    assert.equal(missing.status, 404)
    await missing.arrayBuffer()
  })

  test('pagination: clamp, default page size, short pages, shuffled, absolute and opaque Links', async () => {
    proxy.setFaults([{ kind: 'paginate', match: /\/tags\/list/, maxPageSize: 50, defaultPageSize: 30 }])
    let r = await walk(`${proxy.url}/v2/library/many/tags/list?n=1000`)
    assert.equal(r.urls.length, 4)
    assert.equal(r.tags.length, 200)
    r = await walk(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(r.urls.length, 7)

    proxy.setFaults([
      { kind: 'paginate', match: /\/tags\/list/, shortPages: true, order: 'shuffled', link: 'absolute' },
    ])
    r = await walk(`${proxy.url}/v2/library/many/tags/list?n=40`)
    assert.equal(r.urls.length, 10)
    assert.ok(r.urls.slice(1).every((u) => u.startsWith(`${proxy.url}/v2/`)))
    assert.notDeepEqual(r.tags, [...TAGS].sort())
    assert.deepEqual([...r.tags].sort(), [...TAGS].sort())

    proxy.setFaults([
      {
        kind: 'paginate',
        match: /\/tags\/list/,
        linkStyle: 'opaque',
        linkIncludesN: false,
        defaultPageSize: 100,
      },
    ])
    r = await walk(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(r.urls.length, 2)
    assert.match(r.urls[1] ?? '', /\?next_page=[^&]+$/)
    assert.equal(r.tags.length, 200)
  })

  test('pagination: Link to a foreign host; the echo host records what it got', async () => {
    const foreign = await startEchoHost({ forwardTo: proxy.url })
    try {
      proxy.setFaults([{ kind: 'paginate', match: /\/tags\/list/, link: { base: foreign.url } }])
      const r = await walk(`${proxy.url}/v2/library/many/tags/list?n=100`)
      assert.equal(r.tags.length, 200)
      assert.ok(r.urls[1]?.startsWith(`${foreign.url}/v2/library/many/tags/list?last=`))
      assert.notEqual(new URL(foreign.url).hostname, '127.0.0.1')
      assert.equal(foreign.count(/tags\/list/), 1)
      assert.deepEqual(foreign.requests[0]?.authorization, { present: false, scheme: null })
    } finally {
      await foreign.stop()
    }
    const res = await fetch(`${echo.url}/v2/x/tags/list`, { headers: { authorization: 'Bearer sekrit' } })
    assert.equal(res.status, 404)
    await res.arrayBuffer()
    assert.deepEqual(echo.requests.at(-1)?.authorization, { present: true, scheme: 'Bearer' })
    assert.equal(echo.requests.at(-1)?.headers.authorization, 'Bearer <redacted>')
    assert.ok(!JSON.stringify(echo.requests).includes('sekrit'))
  })

  test('429 with Retry-After for the first K requests, then success', async () => {
    const date = new Date(Date.now() + 2000)
    proxy.setFaults([
      { kind: 'status', status: 429, match: /tags\/list/, times: 1, retryAfter: 3 },
      { kind: 'status', status: 429, match: /tags\/list/, times: 1, retryAfter: date },
      { kind: 'status', status: 429, match: /manifests/, times: 1, retryAfter: '1e9' },
    ])
    const seen: (string | null)[] = []
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${proxy.url}/v2/library/many/tags/list`)
      assert.equal(res.status, 429)
      assert.equal(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code, 'TOOMANYREQUESTS')
      seen.push(res.headers.get('retry-after'))
    }
    assert.deepEqual(seen, ['3', date.toUTCString()])
    const ok = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(ok.status, 200)
    await ok.arrayBuffer()
    const m = await fetch(`${proxy.url}/v2/library/many/manifests/v1.0.0`, { method: 'HEAD' })
    assert.equal(m.headers.get('retry-after'), '1e9')
    assert.deepEqual(proxy.faultHits(), [1, 1, 1])
  })

  test('503 for the first K, then success; delays', async () => {
    proxy.setFaults([
      { kind: 'status', status: 503, match: '^/v2/$', times: 2 },
      { kind: 'delay', match: /tags\/list/, headersMs: 150, times: 1 },
      { kind: 'delay', match: /tags\/list/, bodyMs: 150, times: 1 },
    ])
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${proxy.url}/v2/`)
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    assert.deepEqual(statuses, [503, 503, 200])
    let t0 = performance.now()
    const slow = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    assert.ok(performance.now() - t0 >= 140)
    await slow.arrayBuffer()
    t0 = performance.now()
    const slowBody = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    const headersAt = performance.now() - t0
    await slowBody.arrayBuffer()
    assert.ok(headersAt < 140 && performance.now() - t0 >= 140)
  })

  test('connection reset for the first K, then success', async () => {
    proxy.setFaults([{ kind: 'reset', match: /tags\/list/, times: 1 }])
    proxy.clear()
    await assert.rejects(fetch(`${proxy.url}/v2/library/many/tags/list`), TypeError)
    const ok = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(ok.status, 200)
    await ok.arrayBuffer()
    assert.deepEqual(
      proxy.requests.map((r) => [r.status, r.faults]),
      [
        [0, ['reset']],
        [200, []],
      ],
    )
  })

  test('truncated body: Content-Length declared, connection closed early', async () => {
    proxy.setFaults([{ kind: 'truncate', match: /tags\/list/, times: 1 }])
    const res = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(res.status, 200)
    assert.ok(Number(res.headers.get('content-length')) > 100)
    await assert.rejects(res.text())
    const ok = await fetch(`${proxy.url}/v2/library/many/tags/list`)
    assert.equal(((await ok.json()) as { tags: string[] }).tags.length, 200)
  })

  test('token registry behind the proxy: 401 challenge passes through, push through the proxy works', async () => {
    tokenProxy.clear()
    const res = await fetch(`${tokenProxy.url}/v2/library/tok/tags/list`)
    assert.equal(res.status, 401)
    await res.arrayBuffer()
    const ch = challengeParams(res.headers.get('www-authenticate'))
    assert.equal(ch.realm, tokenReg.tokenServer?.realm)
    const via = { url: tokenProxy.url, credentials: tokenReg.credentials }
    const img = await pushImage(via, 'library/viaproxy', 'x')
    const head = await fetch(`${tokenReg.url}/v2/library/viaproxy/manifests/${img.digest}`, {
      method: 'HEAD',
      headers: {
        accept: FULL_ACCEPT,
        authorization: `Bearer ${tokenReg.tokenServer!.mint('alice', [{ type: 'repository', name: 'library/viaproxy', actions: ['pull'] }])}`,
      },
    })
    assert.equal(head.status, 200)
    const schemes = new Set(tokenProxy.requests.map((r) => r.authorization.scheme))
    assert.deepEqual(schemes, new Set([null, 'Bearer']))
    assert.ok(
      tokenProxy.requests.every(
        (r) => !r.headers.authorization || r.headers.authorization === 'Bearer <redacted>',
      ),
    )
  })
})

describe('lifecycle', () => {
  test('stop() kills the registry and removes its temp dir', async () => {
    const r = await startRegistry({ auth: 'htpasswd' })
    assert.ok(existsSync(r.dir))
    assert.ok(r.pid)
    await r.stop()
    assert.ok(!existsSync(r.dir))
    assert.throws(() => process.kill(r.pid!, 0))
    await r.stop()
  })
})
