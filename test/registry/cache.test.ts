// The tag-list disk cache: hits, misses, TTL, corrupt and foreign files, unwritable dirs, concurrent writers.
import assert from 'node:assert/strict'
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { defaultTagCacheDir, TagCache } from '../../src/registry/cache.ts'
import { makeTempDir } from '../support/lifecycle.ts'

let tmp: { path: string; remove(): Promise<void> }
let n = 0
before(async () => {
  tmp = await makeTempDir('tag-cache')
})
after(() => tmp.remove())

const fresh = () => join(tmp.path, `c${n++}`, 'kubectl-images', 'tags')
const KEY = { domain: 'quay.io', path: 'jetstack/cert-manager-controller' }
const MINUTE = 60_000

describe('TagCache', () => {
  test('default dir: XDG_CACHE_HOME, else ~/.cache; a relative XDG_CACHE_HOME is ignored', () => {
    assert.equal(defaultTagCacheDir({ XDG_CACHE_HOME: '/xdg' }, '/home/u'), '/xdg/kubectl-images/tags')
    assert.equal(defaultTagCacheDir({}, '/home/u'), '/home/u/.cache/kubectl-images/tags')
    assert.equal(defaultTagCacheDir({ XDG_CACHE_HOME: 'x' }, '/home/u'), '/home/u/.cache/kubectl-images/tags')
    assert.equal(new TagCache({ ttlMs: 1, env: {}, homedir: '/h' }).dir, '/h/.cache/kubectl-images/tags')
  })

  test('miss, set, hit; the file is private and holds no more than the repository and its tags', async () => {
    const dir = fresh()
    const cache = new TagCache({ dir, ttlMs: 15 * MINUTE, now: () => Date.UTC(2030, 0, 1) })
    assert.equal(await cache.get(KEY), undefined)
    await cache.set(KEY, ['v1.0.0', 'v1.1.0'])
    assert.deepEqual(await cache.get(KEY), ['v1.0.0', 'v1.1.0'])
    assert.equal(await cache.get({ domain: 'quay.io', path: 'jetstack/other' }), undefined)
    assert.equal(await cache.get({ domain: 'ghcr.io', path: KEY.path }), undefined)

    const files = await readdir(dir)
    assert.equal(files.length, 1)
    assert.match(files[0]!, /^[0-9a-f]{64}\.json$/)
    assert.equal(join(dir, files[0]!), cache.fileFor(KEY))
    assert.deepEqual(JSON.parse(await readFile(join(dir, files[0]!), 'utf8')), {
      v: 1,
      repository: 'quay.io/jetstack/cert-manager-controller',
      fetchedAt: '2030-01-01T00:00:00.000Z',
      tags: ['v1.0.0', 'v1.1.0'],
    })
    assert.equal((await stat(join(dir, files[0]!))).mode & 0o777, 0o600)
    assert.equal((await stat(dir)).mode & 0o777, 0o700)
    assert.equal(cache.warning, undefined)
  })

  test('TTL is checked on read', async () => {
    let now = Date.UTC(2030, 0, 1)
    const cache = new TagCache({ dir: fresh(), ttlMs: 10 * MINUTE, now: () => now })
    await cache.set(KEY, ['a'])
    now += 10 * MINUTE
    assert.deepEqual(await cache.get(KEY), ['a'], 'exactly the TTL old is still fresh')
    now += 1
    assert.equal(await cache.get(KEY), undefined)
    // A longer TTL on the next run makes the same file fresh again.
    const longer = new TagCache({ dir: cache.dir, ttlMs: 60 * MINUTE, now: () => now })
    assert.deepEqual(await longer.get(KEY), ['a'])
    // An entry from the future (the clock went back) is not trusted.
    const past = new TagCache({ dir: cache.dir, ttlMs: 60 * MINUTE, now: () => now - 30 * MINUTE })
    assert.equal(await past.get(KEY), undefined)
  })

  test('ttlMs 0 disables: no reads, no writes, no dir', async () => {
    const dir = fresh()
    const warm = new TagCache({ dir, ttlMs: MINUTE })
    await warm.set(KEY, ['a'])
    const off = new TagCache({ dir, ttlMs: 0 })
    assert.equal(off.enabled, false)
    assert.equal(await off.get(KEY), undefined)
    const other = fresh()
    await new TagCache({ dir: other, ttlMs: 0 }).set(KEY, ['b'])
    await assert.rejects(stat(other), { code: 'ENOENT' })
  })

  test('corrupt, foreign and wrong-version files are misses, and a set repairs them', async () => {
    const cache = new TagCache({ dir: fresh(), ttlMs: MINUTE })
    await cache.set(KEY, ['a'])
    const file = cache.fileFor(KEY)
    const now = new Date().toISOString()
    for (const content of [
      '',
      '{"v":1,',
      'null',
      '[]',
      JSON.stringify({
        v: 2,
        repository: 'quay.io/jetstack/cert-manager-controller',
        fetchedAt: now,
        tags: [],
      }),
      JSON.stringify({ v: 1, repository: 'quay.io/someone/else', fetchedAt: now, tags: ['x'] }),
      JSON.stringify({
        v: 1,
        repository: 'quay.io/jetstack/cert-manager-controller',
        fetchedAt: 'soon',
        tags: ['x'],
      }),
      JSON.stringify({
        v: 1,
        repository: 'quay.io/jetstack/cert-manager-controller',
        fetchedAt: now,
        tags: [1],
      }),
      JSON.stringify({ v: 1, repository: 'quay.io/jetstack/cert-manager-controller', fetchedAt: now }),
    ]) {
      await writeFile(file, content)
      assert.equal(await cache.get(KEY), undefined, content)
    }
    await cache.set(KEY, ['b'])
    assert.deepEqual(await cache.get(KEY), ['b'])
  })

  test('an unwritable dir is a miss and one warning, never an error', async () => {
    // A regular file where a parent dir should be: fails for root too.
    const blocker = join(tmp.path, `blocker${n++}`)
    await writeFile(blocker, 'not a dir')
    const cache = new TagCache({ dir: join(blocker, 'tags'), ttlMs: MINUTE })
    assert.equal(await cache.get(KEY), undefined)
    await cache.set(KEY, ['a'])
    await cache.set({ domain: 'docker.io', path: 'library/nginx' }, ['b'])
    assert.equal(await cache.get(KEY), undefined)
    assert.match(
      cache.warning ?? '',
      /^tag cache .*blocker\d+\/tags is not writable \(ENOTDIR\); tag lists will not be cached$/,
    )
  })

  test('a dir that vanishes after creation: write fails once, warns, later sets are not attempted', async () => {
    const dir = fresh()
    const cache = new TagCache({ dir, ttlMs: MINUTE })
    await cache.set(KEY, ['a'])
    await rm(dir, { recursive: true })
    await writeFile(dir, 'now a file')
    await cache.set(KEY, ['b'])
    assert.match(cache.warning ?? '', /not writable \(ENOTDIR\)/)
    await cache.set(KEY, ['c'])
    assert.equal(await cache.get(KEY), undefined)
  })

  test('concurrent writers: readers always see a whole entry, the last rename wins, no temp files remain', async () => {
    const dir = fresh()
    const writers = Array.from({ length: 8 }, () => new TagCache({ dir, ttlMs: MINUTE }))
    const lists = writers.map((_, i) => Array.from({ length: 500 }, (_, t) => `w${i}-${t}`))
    const reader = new TagCache({ dir, ttlMs: MINUTE })
    const seen: (string[] | undefined)[] = []
    await Promise.all([
      ...writers.flatMap((w, i) => [w.set(KEY, lists[i]!), w.set(KEY, lists[i]!)]),
      ...Array.from({ length: 20 }, async () => seen.push(await reader.get(KEY))),
    ])
    for (const tags of seen) {
      if (tags !== undefined)
        assert.ok(
          lists.some((l) => l.join() === tags.join()),
          'a whole list',
        )
    }
    const final = await reader.get(KEY)
    assert.ok(final !== undefined && lists.some((l) => l.join() === final.join()))
    assert.deepEqual(await readdir(dir), [reader.fileFor(KEY).slice(dir.length + 1)])
    assert.ok(writers.every((w) => w.warning === undefined))
  })

  test('300 reads are fast', async () => {
    const cache = new TagCache({ dir: fresh(), ttlMs: MINUTE })
    const tags = Array.from({ length: 200 }, (_, i) => `1.${i}.0`)
    const keys = Array.from({ length: 300 }, (_, i) => ({
      domain: 'registry.local:5000',
      path: `team/app-${i}`,
    }))
    await Promise.all(keys.map((k) => cache.set(k, tags)))
    const start = performance.now()
    const got = await Promise.all(keys.map((k) => cache.get(k)))
    const ms = performance.now() - start
    assert.ok(got.every((t) => t?.length === 200))
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms`)
  })
})
