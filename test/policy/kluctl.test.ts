// kluctl's version filters and LooseVersion against vectors/kluctl.json (Go @ 65ce9dfe; Python where Go agrees).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { latestTag } from '../../src/policy/index.ts'
import { number, prefix, quoteArg, regex, semver } from '../../src/policy/kluctl.ts'
import { compareLoose, looseKey, looseNumbers, rankLoose } from '../../src/policy/looseversion.ts'
import { parsePolicy } from '../../src/policy/parse.ts'
import { PolicyError, PolicySyntaxError } from '../../src/policy/types.ts'

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/kluctl.json', import.meta.url), 'utf8'),
)

interface LatestCase {
  filter: string
  tags: string[]
  expectedFiltered: string[]
  expectedOrder?: string[]
  expectedLatest: string
}

interface ParseCase {
  input: string
  expected?: string | null
  expectedError?: string
}

/**
 * The vectors' regexes are escaped once more than the filter text (the `about` note: "\\." is the regex \.),
 * the way they would be written inside a Jinja string literal.
 */
function unescapeFilter(filter: string): string {
  return filter.replaceAll('\\\\', '\\')
}

describe('LooseVersion: looseversion_compare (Go looseversion_test.go)', () => {
  for (const group of vectors.looseversion_compare) {
    const name = group.source.match(/looseversion_test\.go (\w+)/)[1]
    test(name, () => {
      for (const [a, b] of group.pairs as [string, string][]) {
        if (group.assert === 'equal') {
          assert.equal(compareLoose(a, b), 0, `${a} == ${b}`)
          assert.equal(compareLoose(b, a), 0, `${b} == ${a}`)
        } else {
          assert.equal(compareLoose(a, b), -1, `${a} < ${b}`)
          assert.equal(compareLoose(b, a), 1, `${b} > ${a}`)
        }
      }
    })
  }
})

describe('LooseVersion details (§1.2)', () => {
  test('v prefix is ignored; leading zeros are ignored', () => {
    assert.equal(compareLoose('v1.0', '1.0'), 0)
    assert.equal(compareLoose('007', '7'), 0)
  })
  test('numbers clamp to int32; suffix digit runs above int32 become strings', () => {
    assert.equal(compareLoose('2147483647', '99999999999'), 0)
    assert.deepEqual(looseNumbers('99999999999.1'), [2147483647, 1])
    assert.equal(compareLoose('1.0-20230101123456', '1.0-5'), -1)
    assert.equal(compareLoose('1.0-2147483647', '1.0-2147483648'), 1)
  })
  test('ints order across the short and the long key forms (around 0xffef)', () => {
    const around = [65517, 65518, 65519, 65520, 65521, 65535, 65536, 1_000_000]
    for (let i = 1; i < around.length; i++) {
      const [a, b] = [String(around[i - 1]), String(around[i])]
      assert.equal(compareLoose(a, b), -1, `${a} < ${b}`)
      assert.equal(compareLoose(`1.${a}`, `1.${b}`), -1, `1.${a} < 1.${b}`)
      assert.equal(compareLoose(`1.0-${a}`, `1.0-${b}`), -1, `1.0-${a} < 1.0-${b}`)
    }
    assert.deepEqual(rankLoose(['65518', '65520', '65519']), ['65520', '65519', '65518'], 'newest first')
  })
  test('no numbers means [0]; a lone v has an empty suffix', () => {
    assert.deepEqual(looseNumbers('latest'), [0])
    assert.equal(compareLoose('0', 'latest'), 1)
    assert.equal(compareLoose('v', 'latest'), 1)
    assert.equal(compareLoose('v', '0'), 0)
  })
  test('-rc.1 equals -rc1 (dots are dropped); separators are components', () => {
    assert.equal(compareLoose('1.0-rc.1', '1.0-rc1'), 0)
    assert.equal(compareLoose('1.0-rc1', '1.0rc1'), -1, "'-' is a component of its own")
    assert.equal(compareLoose('1.0-_a', '1.0-a'), 1, "'-_' is one component, and '-' is a prefix of it")
  })
  test('a trailing dot is a non-empty suffix without components', () => {
    assert.equal(compareLoose('1.0.', '1.0'), -1)
    assert.equal(compareLoose('1.0.', '1.0-a'), -1)
  })
  test('strings compare byte-wise (UTF-8), not by UTF-16 units', () => {
    // U+FF5E (EF BD 9E) < U+1F600 (F0 9F 98 80) in UTF-8, but not in UTF-16 (0xFF5E > 0xD83D).
    assert.equal(compareLoose('1-\uff5e', '1-\u{1f600}'), -1)
    assert.equal(compareLoose('1-a\u0000', '1-a'), 1)
  })
  test('keys agree with compareLoose and rankLoose with a pairwise sort', () => {
    const tags = [
      '1',
      '1.0',
      '1.0.0',
      'v1.0',
      '1.0-rc1',
      '1.0-RC1',
      '1.0rc1',
      'latest',
      '',
      'v',
      '1.0.',
      '1.0~a',
      '10',
    ]
    const pairwise = [...tags].sort(compareLoose).reverse()
    const ranked = rankLoose([...tags].reverse()) // reversed input: ties go to the later one = original earlier
    assert.deepEqual(
      ranked.map((t) => looseKey(t)),
      pairwise.map((t) => looseKey(t)),
    )
  })
})

describe('filter_parse (Go latest_version_parse_test.go TestParse)', () => {
  for (const c of vectors.filter_parse.cases as ParseCase[]) {
    test(c.input, () => {
      if (c.expectedError === undefined) {
        assert.equal(parsePolicy(c.input).expr, c.expected)
        return
      }
      assert.throws(
        () => parsePolicy(c.input),
        (e) => e instanceof PolicySyntaxError,
      )
    })
  }
  test('messages that kluctl words the same way', () => {
    assert.throws(
      () => parsePolicy('semver(allow_no_nums)'),
      /invalid value for arg allow_no_nums, must be a bool/,
    )
    assert.throws(() => parsePolicy("prefix('a', suffi=regex('a*'))"), /unknown arg suffi/)
    assert.throws(() => parsePolicy("prefix('a', 'b')"), /invalid suffix, must be a filter/)
  })
})

describe('derived_not_from_tests.filter_parse', () => {
  for (const c of vectors.derived_not_from_tests.filter_parse as ParseCase[]) {
    test(c.input, () => {
      if (c.expected === null) {
        // kluctl returns (nil, nil) for an unknown name, a latent nil dereference: we report it instead.
        assert.throws(() => parsePolicy(c.input), /unknown policy foo/)
      } else if (c.expectedError === undefined) {
        assert.equal(parsePolicy(c.input).expr, c.expected)
      } else if (c.expectedError.startsWith('unexpected token')) {
        // Go's message names text/scanner token codes; ours names the token.
        assert.throws(() => parsePolicy(c.input), /expected '\(' after semver/)
      } else {
        assert.throws(
          () => parsePolicy(c.input),
          (e) => e instanceof PolicySyntaxError && e.message.includes(c.expectedError!),
        )
      }
    })
  }
})

describe('filter_match_python (Go agrees on all three)', () => {
  const { tags, cases } = vectors.filter_match_python
  for (const c of cases as { filter: string; expectedFiltered: string[] }[]) {
    test(c.filter, () => {
      const policy = parsePolicy(c.filter)
      assert.deepEqual(
        (tags as string[]).filter((t) => policy.matches(t)),
        c.expectedFiltered,
      )
    })
  }
})

describe('latest_from_registry_python (Go results)', () => {
  for (const c of vectors.latest_from_registry_python.cases) {
    test(`${c.test} ${c.filter} ${c.tags.join(',')}`, () => {
      const policy = parsePolicy(c.filter)
      if (c.goDerived?.expectedError !== undefined) {
        // Python defaulted prefix()'s suffix to regex('.*'); Go's semver() rejects '-10' and '-1'.
        assert.throws(
          () => latestTag(policy, c.tags),
          (e) =>
            e instanceof PolicyError && /no tag matches policy prefix\(.*\) \(9 tags seen\)/.test(e.message),
        )
        return
      }
      const image = c.image ?? vectors.latest_from_registry_python.image
      assert.equal(`${image}:${latestTag(policy, c.tags)}`, c.expectedResult)
    })
  }
})

describe('derived_not_from_tests.filter_latest', () => {
  for (const c of vectors.derived_not_from_tests.filter_latest as LatestCase[]) {
    test(`${c.filter} ${c.tags.join(',')}`, () => {
      const policy = parsePolicy(unescapeFilter(c.filter))
      assert.deepEqual(
        c.tags.filter((t) => policy.matches(t)),
        c.expectedFiltered,
      )
      const ranked = policy.rank(c.tags)
      if (c.expectedOrder !== undefined) assert.deepEqual([...ranked].reverse(), c.expectedOrder)
      assert.equal(ranked[0], c.expectedLatest)
      assert.equal(latestTag(policy, c.tags), c.expectedLatest)
    })
  }
})

describe('check_image_updates_heuristic', () => {
  // Not a kluctl filter: it maps onto `auto`, and is tested in auto.test.ts.
  test('is covered by auto.test.ts', () => {
    assert.equal(vectors.derived_not_from_tests.check_image_updates_heuristic.cases.length, 6)
  })
})

describe('filters', () => {
  test('semver(): v then a digit; allow_no_nums takes everything', () => {
    const s = semver()
    assert.deepEqual(
      ['1abc', 'v1', 'vv1', 'v', 'latest', '3f2a1b9', ''].filter((t) => s.matches(t)),
      ['1abc', 'v1', '3f2a1b9'],
    )
    assert.equal(semver(true).matches('latest'), true)
    assert.equal(semver(true).matches(''), true)
  })
  test('number(): digits only', () => {
    assert.deepEqual(
      ['1', '007', '1.0', '', '-1', '1a'].filter((t) => number().matches(t)),
      ['1', '007'],
    )
  })
  test('prefix(): the first tag with the latest remainder wins', () => {
    // '.' in the prefix is any char: a-1.2 and b-1.2 share the remainder 1.2.
    assert.deepEqual(prefix('.-').rank(['a-1.2', 'b-1.2', 'a-1.1']), ['a-1.2', 'b-1.2', 'a-1.1'])
    assert.deepEqual(prefix('.-').rank(['b-1.2', 'a-1.2', 'a-1.1']), ['b-1.2', 'a-1.2', 'a-1.1'])
  })
  test('prefix(): tags whose remainders tie (7 / 007) follow the suffix order', () => {
    // number() sort.Stable over ['7', '007']: the last, '007', is latest; it maps to its own tag.
    assert.equal(latestTag(prefix('b-', number()), ['b-7', 'b-007']), 'b-007')
    assert.equal(latestTag(prefix('b-', number()), ['b-007', 'b-7']), 'b-7')
  })
  test('prefix(): a group inside the prefix is group 1 (Go quirk)', () => {
    // ^(a|b)-(.*)$: group 1 is a or b, judged by semver(allow_no_nums=true)
    const p = prefix('(a|b)-', semver(true))
    assert.equal(p.matches('a-anything'), true)
    assert.deepEqual(p.rank(['a-1', 'b-2']), ['b-2', 'a-1'])
  })
  test('prefix(): nested prefix', () => {
    const p = parsePolicy("prefix('app-', suffix=prefix('v', suffix=number()))")
    assert.equal(latestTag(p, ['app-v2', 'app-v10', 'app-x3', 'v11']), 'app-v10')
  })
  test('regex(): ^r$ without a group', () => {
    assert.deepEqual(
      ['a', 'ab', 'xb', 'ba'].filter((t) => regex('a|b').matches(t)),
      ['a', 'ab', 'xb'],
    )
  })
  test('compare() follows the rank order', () => {
    assert.equal(semver().compare('1.0-rc1', '1.0'), -1)
    assert.equal(prefix('master-', number()).compare('master-10', 'master-9'), 1)
  })
  test('exprs are kluctl String() forms', () => {
    assert.equal(prefix('a.b', regex('x"y')).expr, `prefix(prefix="a.b", suffix=regex(pattern='x"y'))`)
    assert.equal(parsePolicy(prefix('a.b', regex('x"y')).expr).expr, prefix('a.b', regex('x"y')).expr)
  })
})

describe('regex() and prefix() on Go RE2 (goregex.test.ts has the syntax)', () => {
  test('catastrophic patterns do not hang (RE2 is linear; V8 falls back to its linear engine)', () => {
    const start = performance.now()
    assert.equal(regex('(a+)+').matches(`${'a'.repeat(40)}c`), false)
    assert.equal(prefix('(x|x)*').matches(`${'x'.repeat(40)}!`), false)
    assert.ok(performance.now() - start < 2000)
  })
})

describe('quoteArg', () => {
  test('double quotes first, single when needed, escapes only when neither works', () => {
    assert.equal(quoteArg('a*'), '"a*"')
    assert.equal(quoteArg('x"y'), `'x"y'`)
    assert.equal(quoteArg(`a\\"b`), `"a\\"b"`)
    assert.equal(quoteArg(`a'b"c`), `"a'b\\"c"`)
    assert.equal(quoteArg('a\nb'), '"a\\nb"')
  })
  test('a regex with both quotes re-parses to an equivalent policy', () => {
    const p = regex(`a'b"c`)
    const again = parsePolicy(p.expr)
    assert.equal(again.matches(`a'b"c`), true)
    assert.equal(parsePolicy(again.expr).expr, again.expr)
  })
})
