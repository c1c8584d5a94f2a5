// `auto`: the running tag's shape decides the candidates (docs/policies.md).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { auto } from '../../src/policy/auto.ts'
import { latestTag } from '../../src/policy/index.ts'
import { parsePolicy } from '../../src/policy/parse.ts'
import { PolicyError } from '../../src/policy/types.ts'

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/kluctl.json', import.meta.url), 'utf8'),
)

const latest = (current: string | undefined, tags: string[]) => latestTag(auto(current), tags)

describe('kluctl check-image-updates heuristic (derived vectors)', () => {
  // kluctl's deprecated heuristic keeps the letter prefix, a letter-only suffix and the dot shape. auto keeps
  // more (the count of numeric parts, the variant template) and never moves a release to a prerelease, yet it
  // picks the same latest tag in all six cases; the candidate lists differ where noted.
  for (const c of vectors.derived_not_from_tests.check_image_updates_heuristic.cases) {
    test(`${c.currentTag} → ${c.expectedLatest}`, () => {
      const policy = auto(c.currentTag)
      assert.equal(latestTag(policy, c.tags), c.expectedLatest)
      assert.equal(latestTag(policy, c.tags) !== c.currentTag, c.reportedAsUpdate)
      const candidates = policy.rank(c.tags).reverse()
      if (c.currentTag === 'v1.2.3') {
        // kluctl lists v1.3.0-rc1 too; auto never offers a prerelease to a release.
        assert.deepEqual(candidates, ['v1.2.3', 'v1.3.0'])
      } else if (c.currentTag === '1.2.3-rc1') {
        // kluctl takes any dotted tag (1.2.4-alpine too); auto keeps the variant-less shape.
        assert.deepEqual(candidates, ['1.2.3-rc1', '1.2.3', '1.3.0-rc2'])
      } else if (c.currentTag === '1.2.3') {
        assert.deepEqual(candidates, ['1.2.3'])
      } else if (c.currentTag === '42') {
        assert.deepEqual(candidates, ['42', '43', '100'], "'latest' has no number: not a candidate")
      } else if (c.currentTag === 'release-1.2') {
        assert.deepEqual(candidates, ['release-1.2', 'release-1.10'], '-hotfix is another variant')
      } else {
        assert.deepEqual(candidates, c.candidatesSorted)
      }
    })
  }
})

describe('shape', () => {
  const nginx = [
    '1',
    '1-alpine',
    '1.25',
    '1.25-alpine',
    '1.25-alpine-slim',
    '1.25-alpine3.18',
    '1.25.3',
    '1.25.3-alpine',
    '1.26',
    '1.26-alpine',
    '1.27-alpine',
    '1.27.0-alpine',
    '1.27-bookworm',
    'alpine',
    'latest',
    'mainline-alpine',
  ]
  test('same count of numeric parts and the same variant', () => {
    assert.equal(latest('1.25-alpine', nginx), '1.27-alpine')
    assert.equal(latest('1.25.3-alpine', nginx), '1.27.0-alpine')
    assert.equal(latest('1.25', nginx), '1.26')
    assert.equal(latest('1-alpine', nginx), '1-alpine')
    assert.equal(latest('1.25-alpine-slim', nginx), '1.25-alpine-slim')
  })
  test('digits inside a variant are its version and may move', () => {
    const tags = [
      '3.12-alpine3.18',
      '3.12-alpine3.19',
      '3.12.1-alpine3.19',
      '3.13-alpine3.18',
      '3.13-alpine',
      '3.11-alpine3.20',
    ]
    assert.equal(latest('3.12-alpine3.18', tags), '3.13-alpine3.18', 'the main numbers come first')
    assert.deepEqual(auto('3.12-alpine3.18').rank(tags), [
      '3.13-alpine3.18',
      '3.12-alpine3.19',
      '3.12-alpine3.18',
      '3.11-alpine3.20',
    ])
  })
  test('bitnami revisions', () => {
    const tags = [
      '1.25.3-debian-12-r3',
      '1.25.3-debian-12-r4',
      '1.25.4-debian-12-r0',
      '1.25.4-debian-11-r9',
      '1.25.4',
      '1.25.5-debian-12',
    ]
    assert.deepEqual(auto('1.25.3-debian-12-r3').rank(tags), [
      '1.25.4-debian-12-r0',
      '1.25.4-debian-11-r9',
      '1.25.3-debian-12-r4',
      '1.25.3-debian-12-r3',
    ])
  })
  test('the prefix must match: v, release-', () => {
    const tags = ['v1.2.3', 'v1.3.0', '1.4.0', 'release-1.5.0', 'vlatest']
    assert.equal(latest('v1.2.3', tags), 'v1.3.0')
    assert.equal(latest('1.2.3', tags), '1.4.0')
    assert.equal(latest('release-1.0.0', tags), 'release-1.5.0')
  })
  test('a number-only tag stays number-only', () => {
    assert.equal(latest('20230105', ['20230105', '20240101', '2024.01.01', 'latest']), '20240101')
  })
})

describe('prereleases', () => {
  const tags = [
    '1.2.3',
    '1.2.4',
    '1.3.0-alpha',
    '1.3.0-beta.2',
    '1.3.0-rc.1',
    '1.3.0-rc.9',
    '1.3.0-rc.10',
    '1.3.0-RC11',
    '1.4.0-preview1',
    '1.3.0-SNAPSHOT',
    '1.3.0-dev',
    '1.3.0-devel',
  ]
  test('never from a release to a prerelease', () => {
    assert.equal(latest('1.2.3', tags), '1.2.4')
    assert.equal(auto('1.2.3').matches('1.3.0-rc.1'), false)
    assert.equal(auto('1.2.3').matches('1.3.0-devel'), false, '-devel is a variant, not a prerelease')
  })
  test('from a prerelease: newer prereleases of the same shape, or releases', () => {
    assert.equal(latest('1.3.0-alpha', tags), '1.4.0-preview1')
    assert.equal(latest('1.3.0-alpha', [...tags, '1.3.0']), '1.4.0-preview1')
    assert.equal(latest('1.3.0-rc.1', ['1.3.0-rc.1', '1.3.0-rc.2', '1.3.0']), '1.3.0')
  })
  test('labels order dev/snapshot < alpha < beta < pre/preview < rc < release, numbers numerically', () => {
    const ranked = auto('1.3.0-rc.1').rank(tags.filter((t) => t.startsWith('1.3.0')))
    assert.deepEqual(ranked, [
      '1.3.0-RC11',
      '1.3.0-rc.10',
      '1.3.0-rc.9',
      '1.3.0-rc.1',
      '1.3.0-beta.2',
      '1.3.0-alpha',
      '1.3.0-dev',
      '1.3.0-SNAPSHOT',
    ])
  })
  test('a prerelease with a variant keeps the variant', () => {
    const t = ['2.0.0-rc1-alpine', '2.0.0-rc2-alpine', '2.0.0-alpine', '2.0.0-rc3', '2.0.1']
    assert.equal(latest('2.0.0-rc1-alpine', t), '2.0.0-alpine')
  })
})

describe('no usable running tag', () => {
  const tags = ['1.2.3', 'v1.10.0', '1.10.0-rc1', '2.0', '2.0.0-alpine', '3', 'latest', '1.9.9']
  test('plain X.Y.Z releases, with or without v', () => {
    assert.equal(latest(undefined, tags), 'v1.10.0')
    assert.equal(latest('latest', tags), 'v1.10.0')
    assert.equal(latest('', tags), 'v1.10.0')
    assert.deepEqual(auto().rank(tags), ['v1.10.0', '1.9.9', '1.2.3'])
  })
  test('equal versions: the later tag in input order first', () => {
    assert.deepEqual(auto().rank(['1.0.0', 'v1.0.0']), ['v1.0.0', '1.0.0'])
  })
  test('nothing matches', () => {
    assert.throws(
      () => latestTag(auto(), ['latest', 'main']),
      (e) => e instanceof PolicyError && e.message === 'no tag matches policy auto() (2 tags seen)',
    )
  })
})

describe('expr', () => {
  test('records the running tag so that it re-parses to the same policy', () => {
    const p = parsePolicy('auto', { currentTag: '1.25-alpine' })
    assert.equal(p.expr, 'auto(current="1.25-alpine")')
    assert.deepEqual(parsePolicy(p.expr).rank(['1.26-alpine', '1.26']), ['1.26-alpine'])
  })
  test('compare() orders candidates; other tags fall back to the loose order', () => {
    const p = auto('1.2.3-rc1')
    assert.equal(p.compare('1.2.3-rc1', '1.2.3'), -1)
    assert.equal(p.compare('1.2.3', '1.2.3'), 0)
    assert.equal(p.compare('latest', '1.2.3'), -1)
  })
})

describe('best: the first of rank without ordering the rest', () => {
  test('equals rank(tags)[0] for every running tag, ties included, on frozen and plain lists', () => {
    const lists: string[][] = [
      ...vectors.derived_not_from_tests.check_image_updates_heuristic.cases.map(
        (c: { tags: string[] }) => c.tags,
      ),
      // Equal keys (1.2.3 and 1.02.3): the later tag wins, as in rank.
      ['1.02.3', '1.2.3', '1.2.3-alpine', '1.2.4-rc.1', 'v1.2.3', 'v1.02.3', 'latest'],
      ['3.18-alpine3.19', '3.18-alpine3.20', '3.19-alpine3.19', '3.19-alpine03.19', 'main'],
      // Prereleases above and below the newest release, with equal keys among them.
      [
        '2.0.0-rc.1',
        '1.9.9',
        '2.0.0-rc.01',
        '2.0.0-beta.3',
        'v2.0.0-rc.1',
        '1.10.0-alpine',
        '1.10.0-rc.2-alpine',
      ],
      // A literal '#' in the variant (not a valid tag, but a registry's list is not checked): keys of one template
      // but different lengths.
      ['1-a5', '1-a#', 'v3-b1', 'v3-b#', 'v2-b9'],
      // Prefixes of one length and the same numbers are different shapes, neighbours or not.
      ['r1.0', 'r1.3', 'v1.1', 'v1.2', 'r1.4', 'v0.9'],
      // Keys longer than the scanner's first buffer.
      Array.from({ length: 5 }, (_, i) =>
        [...Array.from({ length: 40 }, (_, k) => k), (i * 7) % 5].join('.'),
      ),
    ]
    for (const tags of lists) {
      for (const current of [undefined, ...tags]) {
        const policy = auto(current)
        const want = policy.rank(tags)[0]
        assert.equal(policy.best?.(tags), want, `${current} in ${tags.join(',')}`)
        const frozen = Object.freeze([...tags])
        // Twice on one frozen list: the second reuses what the first parsed.
        assert.equal(policy.best?.(frozen), want)
        assert.deepEqual(policy.rank(frozen), policy.rank(tags))
        assert.equal(auto(current).best?.(frozen), want)
      }
    }
  })
})
