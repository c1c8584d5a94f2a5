// Platforms: containerd's normalisation, index parsing (attestations skipped), and picking one manifest from
// real multi-arch images in the test registry (OCI index with BuildKit attestations, Docker list, nested index).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type RegistryAccess, RegistryClient } from '../../src/registry/client.ts'
import {
  formatPlatform,
  normalizePlatform,
  parseIndex,
  parsePlatform,
  resolvePlatformManifest,
  selectPlatform,
} from '../../src/registry/platform.ts'
import { rejection } from '../support/assertions.ts'
import { MEDIA_TYPES } from '../support/images.ts'
import { startRegistry, type TestRegistry } from '../support/registry.ts'

describe('platform strings', () => {
  test('normalise like containerd/platforms', () => {
    const cases: Array<[string, string]> = [
      ['linux/amd64', 'linux/amd64'],
      ['linux/x86_64', 'linux/amd64'],
      ['linux/x86-64/v1', 'linux/amd64'],
      ['linux/amd64/v3', 'linux/amd64/v3'],
      ['linux/aarch64', 'linux/arm64'],
      ['linux/arm64/v8', 'linux/arm64'],
      ['linux/arm64/8', 'linux/arm64'],
      ['linux/aarch64/v8.0', 'linux/arm64'],
      ['linux/arm64/9', 'linux/arm64/v9'],
      ['linux/armhf', 'linux/arm/v7'],
      ['linux/armel', 'linux/arm/v6'],
      ['linux/arm', 'linux/arm/v7'],
      ['linux/arm/7', 'linux/arm/v7'],
      ['linux/arm/6', 'linux/arm/v6'],
      ['linux/i386', 'linux/386'],
      ['Linux/AMD64', 'linux/amd64'],
      ['macos/arm64', 'darwin/arm64'],
      ['windows/amd64', 'windows/amd64'],
    ]
    for (const [input, want] of cases) assert.equal(formatPlatform(parsePlatform(input)), want, input)
    for (const bad of ['linux', 'linux/', '/amd64', 'linux/arm/v7/x', 'linux amd64']) {
      assert.throws(() => parsePlatform(bad), /expected os\/arch\[\/variant\]/, bad)
    }
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }), {
      os: 'linux',
      architecture: 'arm64',
      variant: '',
    })
  })

  test('index entries: attestations skipped, first match wins, a single manifest is not an index', () => {
    const d = (c: string) => `sha256:${c.repeat(64)}`
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: d('a'),
          size: 1,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: {
            'vnd.docker.reference.type': 'attestation-manifest',
            'vnd.docker.reference.digest': d('b'),
          },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: d('b'),
          size: 1,
          platform: { os: 'linux', architecture: 'x86_64' },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: d('c'),
          size: 1,
          platform: { os: 'linux', architecture: 'amd64' },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: d('e'),
          size: 1,
          platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        },
        { mediaType: 'application/vnd.example.unknown', digest: d('f'), size: 1 },
      ],
    }
    const entries = parseIndex(JSON.stringify(index), MEDIA_TYPES.ociIndex)!
    assert.equal(entries.length, 5)
    assert.equal(entries[0]!.attestation, true)
    assert.equal(selectPlatform(entries, parsePlatform('linux/amd64'))?.digest, d('b'))
    assert.equal(selectPlatform(entries, parsePlatform('linux/armhf'))?.digest, d('e'))
    assert.equal(selectPlatform(entries, parsePlatform('linux/arm64')), undefined)
    // An index may omit mediaType: its manifests list makes it one.
    assert.equal(
      parseIndex(JSON.stringify({ schemaVersion: 2, manifests: [] }), 'application/json')?.length,
      0,
    )
    assert.equal(
      parseIndex(
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, layers: [] }),
        MEDIA_TYPES.ociManifest,
      ),
      undefined,
    )
  })
})

describe('picking a platform in the test registry', () => {
  let registry: TestRegistry
  let client: RegistryClient
  const repo = () => ({ domain: registry.host, path: 'team/multi' })
  before(async () => {
    registry = await startRegistry({ auth: 'none', storage: 'inmemory' })
    client = new RegistryClient({
      access: async (): Promise<RegistryAccess> => ({ insecure: true, skipTlsVerify: false, source: 'test' }),
      http: { retries: 0, requestTimeoutMs: 5000 },
    })
  })
  after(async () => {
    await client.close()
    await registry.stop()
  })

  test('an OCI index with attestations: the platform manifest, by tag or by index digest', async () => {
    const pushed = await registry.push('team/multi', '1.0', {
      platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'],
      attestations: true,
    })
    const arm64 = await resolvePlatformManifest(client, repo(), '1.0', parsePlatform('linux/aarch64'))
    assert.deepEqual(arm64, { digest: pushed.platformDigests['linux/arm64/v8'], fromIndex: true })
    const byDigest = await resolvePlatformManifest(client, repo(), pushed.digest, parsePlatform('linux/arm'))
    assert.equal(byDigest.digest, pushed.platformDigests['linux/arm/v7'])
    const error = await rejection(
      resolvePlatformManifest(client, repo(), '1.0', parsePlatform('linux/s390x')),
    )
    assert.equal(error.kind, 'not-found')
    // Attestations (unknown/unknown) are not offered.
    assert.match(
      error.message,
      /team\/multi:1\.0 has no linux\/s390x manifest \(it offers linux\/amd64, linux\/arm64, linux\/arm\/v7\)$/,
    )
  })

  test('a Docker manifest list, and a single manifest (returned as it is)', async () => {
    const list = await registry.push('team/multi', 'docker', {
      mediaType: 'docker',
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const amd64 = await resolvePlatformManifest(client, repo(), 'docker', parsePlatform('linux/x86_64'))
    assert.equal(amd64.digest, list.platformDigests['linux/amd64'])
    const single = await registry.push('team/multi', 'single')
    assert.deepEqual(await resolvePlatformManifest(client, repo(), 'single', parsePlatform('linux/arm64')), {
      digest: single.digest,
      fromIndex: false,
    })
  })

  test('a nested index is followed', async () => {
    const inner = await registry.push('team/multi', 'inner', { platforms: ['linux/amd64', 'linux/arm64'] })
    const outer = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: MEDIA_TYPES.ociIndex, digest: inner.digest, size: inner.size }],
    })
    const res = await fetch(`${registry.url}/v2/team/multi/manifests/nested`, {
      method: 'PUT',
      headers: { 'content-type': MEDIA_TYPES.ociIndex },
      body: outer,
    })
    assert.equal(res.status, 201, await res.text())
    const picked = await resolvePlatformManifest(client, repo(), 'nested', parsePlatform('linux/arm64'))
    assert.deepEqual(picked, { digest: inner.platformDigests['linux/arm64'], fromIndex: true })
  })
})
