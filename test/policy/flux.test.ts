// Flux ImagePolicy kinds against vectors/flux.json. Groups about the controller rather than the policy
// (digest_reflection, ready_message, revision, image_reference, stored_order_and_latest_tags, and the
// DependencyNotReady / empty-choice rows of policy_latest) are not tested here.
//
// Flux's Latest(tags) sees tags in the given order; our rank() applies Flux's tie rules to the reverse of its input
// (callers pass ascending, Flux's DB holds descending), so `latest` feeds a vector's tags reversed.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { classify } from '../../src/policy/distance.ts'
import {
  alphabetical,
  expandGo,
  filterTags,
  fluxSemver,
  numerical,
  parseFluxVersion,
  parseGoFloat,
} from '../../src/policy/flux.ts'
import { compileGoRegex } from '../../src/policy/goregex.ts'
import { parsePolicy } from '../../src/policy/parse.ts'
import { PolicyError, type TagPolicy } from '../../src/policy/types.ts'

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/flux.json', import.meta.url), 'utf8'),
)

interface FilterSpec {
  pattern: string
  extract: string
}

interface PolicyCase {
  name?: string
  policy: string | null
  range?: string
  order?: string
  tags: string[] | null
  filterTags?: FilterSpec
  expected?: string | null
  error?: string
}

function policyOf(c: PolicyCase): TagPolicy {
  let inner: TagPolicy
  if (c.policy === 'semver') inner = fluxSemver(c.range!)
  else if (c.policy === 'alphabetical') inner = alphabetical(c.order ?? '')
  else if (c.policy === 'numerical') inner = numerical(c.order ?? '')
  else throw new Error(`unknown policy ${c.policy}`)
  return c.filterTags ? filterTags(c.filterTags.pattern, c.filterTags.extract, inner) : inner
}

/** Flux's Latest(tags): our pick when given the tags in the reverse of Flux's order. */
function latest(policy: TagPolicy, fluxOrder: readonly string[]): string | undefined {
  return policy.rank([...fluxOrder].reverse())[0]
}

// Errors Flux reports when nothing is left to pick; rank() returns [] and the caller reports it.
const NO_PICK = [
  'version list argument cannot be empty',
  'unable to determine latest version from provided list',
]
// Controller-level rows (tag DB lookup, ImagePolicyChoice validation): not about the policies.
const CONTROLLER = ['no tags in database', 'invalid policy (empty choice)']

function checkCase(c: PolicyCase): void {
  if (c.error !== undefined && /InvalidPolicy|invalid regular expression/.test(c.error)) {
    assert.throws(() => policyOf(c), PolicyError)
    return
  }
  const policy = policyOf(c)
  if (c.tags === null) return // documentation recipe without data: it must construct
  if (c.error === undefined) {
    assert.equal(latest(policy, c.tags), c.expected)
  } else if (NO_PICK.includes(c.error)) {
    assert.deepEqual(policy.rank([...c.tags].reverse()), [])
  } else {
    assert.throws(
      () => policy.rank([...c.tags!].reverse()),
      (e: unknown) => e instanceof PolicyError && e.message.includes(c.error!),
    )
  }
}

describe('semver_parse (fluxcd/pkg version.ParseVersion)', () => {
  for (const c of vectors.semver_parse.cases as { tag: string; valid: boolean }[]) {
    test(JSON.stringify(c.tag), () => {
      assert.equal(parseFluxVersion(c.tag) !== undefined, c.valid)
      // the same gate inside the policy, with a range that admits every version
      assert.equal(fluxSemver('>=0.0.0-0').matches(c.tag), c.valid)
    })
  }
})

test('semver_sort: filter, sort descending, equal versions stay in input order', () => {
  const { range, tags, expected_desc } = vectors.semver_sort
  assert.deepEqual(fluxSemver(range).rank([...tags].reverse()), expected_desc)
})

describe('semver_range_validity', () => {
  for (const r of vectors.semver_range_validity.valid as string[]) {
    test(`valid ${JSON.stringify(r)}`, () => assert.equal(fluxSemver(r).expr, `semver('${r}')`))
  }
  for (const r of vectors.semver_range_validity.invalid as string[]) {
    test(`invalid ${JSON.stringify(r)}`, () => assert.throws(() => fluxSemver(r), PolicyError))
  }
})

describe('policy_latest', () => {
  for (const c of vectors.policy_latest as PolicyCase[]) {
    if (c.error !== undefined && CONTROLLER.some((x) => c.name === x || c.error!.includes(x))) continue
    test(`${c.policy} ${c.name}`, () => checkCase(c))
  }
})

describe('order_validity', () => {
  const { valid, invalid, invalid_error } = vectors.order_validity
  for (const make of [alphabetical, numerical]) {
    for (const o of valid as string[])
      test(`${make.name} ${JSON.stringify(o)}`, () => {
        make(o)
      })
    for (const o of invalid as string[]) {
      test(`${make.name} ${JSON.stringify(o)} fails`, () =>
        assert.throws(() => make(o), { name: 'PolicyError', message: invalid_error }))
    }
  }
  test('lower case and mixed case are accepted (the factory upper-cases)', () => {
    assert.equal(alphabetical('Desc').expr, "alphabetical(order='desc')")
    assert.equal(numerical('').expr, "numerical(order='asc')")
  })
})

describe('filter_items (keys handed to the policy)', () => {
  for (const c of vectors.filter_items.cases as (FilterSpec & {
    name: string
    tags: string[]
    expected_items_sorted: string[]
  })[]) {
    test(c.name, () => {
      let seen: string[] = []
      const recorder: TagPolicy = {
        expr: 'recorder()',
        matches: () => true,
        rank: (keys) => {
          seen = [...keys]
          return seen
        },
        compare: () => 0,
      }
      filterTags(c.pattern, c.extract, recorder).rank([...c.tags].reverse())
      assert.deepEqual(seen, [...c.expected_items_sorted].sort())
    })
  }
})

describe('filter_then_policy', () => {
  for (const c of vectors.filter_then_policy as PolicyCase[]) test(c.name!, () => checkCase(c))

  test('docs recipe: RC tags with a prerelease range (ours)', () => {
    const policy = filterTags('.*-rc.*', '', fluxSemver('^1.x-0'))
    assert.equal(latest(policy, ['1.2.0', '1.1.0-rc.2', '1.1.0-rc.10', '1.1.0', '1.0.0-rc.1']), '1.1.0-rc.10')
  })
  test('docs recipe: minio timestamps (ours)', () => {
    const policy = filterTags('^RELEASE\\.(?P<timestamp>.*)Z$', '$timestamp', alphabetical('asc'))
    const tags = ['RELEASE.2023-05-04T21-44-30Z', 'RELEASE.2024-01-01T00-00-00Z', 'latest']
    assert.equal(latest(policy, tags), 'RELEASE.2024-01-01T00-00-00Z')
  })
})

describe('exclusion_list (compileGoRegex, unanchored, any pattern excludes)', () => {
  interface ExclusionCase {
    name: string
    patterns: string[] | null
    tags: string[] | null
    kept?: string[]
    kept_set?: string[]
    stored?: string[]
    tagCount?: number
    error?: string
  }
  for (const c of vectors.exclusion_list as ExclusionCase[]) {
    test(c.name, () => {
      const patterns = c.patterns ?? ['^.*\\.sig$']
      if (c.error !== undefined) {
        assert.throws(() => patterns.map((p) => compileGoRegex(p)), PolicyError)
        return
      }
      const regexes = patterns.map((p) => compileGoRegex(p))
      const kept = (c.tags ?? []).filter((t) => !regexes.some((r) => r.test(t)))
      if (c.kept) assert.deepEqual(kept, c.kept)
      if (c.kept_set) assert.deepEqual([...kept].sort(), [...c.kept_set].sort())
      if (c.stored) assert.deepEqual([...kept].sort().reverse(), c.stored)
      if (c.tagCount !== undefined) assert.equal(kept.length, c.tagCount)
    })
  }
})

describe('derived_not_from_tests', () => {
  for (const c of vectors.derived_not_from_tests.cases as (PolicyCase & { why?: string; note?: string })[]) {
    const label = c.filterTags ? `filter ${c.filterTags.pattern} ${c.filterTags.extract}` : c.policy
    test(`${label} ${JSON.stringify(c.tags)}`, () => {
      if (c.expected === undefined && c.error === undefined) {
        // `$1a` names group "1a": every key is '' and the tags collapse onto one (Flux keeps the later it sees).
        assert.deepEqual(policyOf(c).rank([...c.tags!].reverse()), ['7-a'])
        return
      }
      checkCase(c)
    })
  }
})

describe('ties and input order (ours)', () => {
  test('semver: among equal precedence the byte-wise greatest of an ascending list wins, as with the Flux DB', () => {
    assert.deepEqual(fluxSemver('1.0.x').rank(['1.0.1', '1.0.1+a', 'v1.0.1']), ['v1.0.1', '1.0.1+a', '1.0.1'])
  })
  test('numerical: among equal values the byte-wise smallest of an ascending list wins', () => {
    assert.deepEqual(numerical('asc').rank(['1', '1.0', '1e0', '2']), ['2', '1', '1.0', '1e0'])
    assert.deepEqual(numerical('desc').rank(['1', '1.0', '2']), ['1', '1.0', '2'])
  })
  test('semver: versions beyond 2^53 compare exactly', () => {
    const tags = ['1.0.0', '9007199254740992.0.0', '9007199254740993.0.0', 'v9007199254740993.0.0']
    assert.deepEqual(fluxSemver('*').rank(tags), [
      'v9007199254740993.0.0',
      '9007199254740993.0.0',
      '9007199254740992.0.0',
      '1.0.0',
    ])
  })
  test('numerical: the error names the first bad tag in Flux order (the last in ours)', () => {
    assert.throws(() => numerical('').rank(['0', '1a', 'b']), {
      name: 'PolicyError',
      message:
        /^failed to parse invalid numeric value 'b': add a filter .* policy=numerical\(order='asc'\)\)$/,
    })
  })
  test("numerical with a NaN picks what Flux's scan picks: the NaN and the tag after it replace the pick", () => {
    // Flux scans our list from the end.
    assert.equal(numerical('asc').rank(['1', 'NaN', '5'])[0], '1')
    assert.equal(numerical('asc').rank(['NaN', '5'])[0], 'NaN')
    assert.equal(numerical('asc').rank(['3', '5', 'NaN'])[0], '5', 'then the scan compares again')
    assert.equal(numerical('asc').rank(['01', '1.0', '3', 'nan'])[0], '3')
    assert.equal(numerical('asc').rank(['1', '3', 'Inf', 'NaN'])[0], 'Inf')
    assert.equal(numerical('desc').rank(['2', '9', 'NaN', '4'])[0], '2')
  })
  test('alphabetical: desc ranks the smallest first', () => {
    assert.deepEqual(alphabetical('desc').rank(['b', 'a', 'c']), ['a', 'b', 'c'])
    assert.deepEqual(alphabetical('asc').rank(['v10', 'v9', 'latest', 'V1']), ['v9', 'v10', 'latest', 'V1'])
  })
  test('filter: duplicate keys keep the earlier tag of an ascending list', () => {
    const policy = filterTags('^(\\d+)', '$1', numerical('asc'))
    assert.deepEqual(policy.rank(['1-a', '1-b', '2-a', '2-b']), ['2-a', '1-a'])
  })
  test('compare agrees with rank', () => {
    for (const [policy, tags] of [
      [fluxSemver('*'), ['1.0.0', '1.2.0', 'v1.10.0', '1.9.9']],
      [numerical('desc'), ['10', '9', '-1', '1e1']],
      [alphabetical('asc'), ['a', 'b', 'B']],
      [filterTags('^r(\\d+)$', '$1', numerical('')), ['r1', 'r10', 'r9']],
    ] as const) {
      const ranked = policy.rank(tags)
      for (let i = 1; i < ranked.length; i++) assert.ok(policy.compare(ranked[i - 1]!, ranked[i]!) >= 0)
    }
  })
})

describe('expressions (ours)', () => {
  test('canonical forms', () => {
    assert.equal(fluxSemver('>=1.0, <2').expr, "semver('>=1.0, <2')")
    assert.equal(alphabetical('DESC').expr, "alphabetical(order='desc')")
    assert.equal(
      filterTags("^v(?P<v>[0-9]+)'$", '$v', numerical('desc')).expr,
      `filter("^v(?P<v>[0-9]+)'$", extract='$v', policy=numerical(order='desc'))`,
    )
    assert.equal(filterTags('', '', fluxSemver('*')).expr, "filter('', extract='', policy=semver('*'))")
  })
})

describe('strconv.ParseFloat (ours)', () => {
  const ok: [string, number][] = [
    ['1', 1],
    ['-62', -62],
    ['+5', 5],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['1E+3', 1000],
    ['1_000', 1000],
    ['0_1', 1],
    ['1_0.2_5e1_0', 10.25e10],
    ['0x1p4', 16],
    ['0X1.8P1', 3],
    ['0x_1p0', 1],
    ['-0x.8p1', -1],
    ['0x1p-1074', 5e-324],
    ['0x1p-1075', 0],
    ['0x3p-1076', 5e-324],
    ['0x1.fffffffffffff8p0', 2],
    ['0x1.fffffffffffff7p0', 1.9999999999999998],
    ['1e-400', 0],
    ['inf', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['+INF', Number.POSITIVE_INFINITY],
    ['1606364286', 1606364286],
    ['9007199254740993', 9007199254740992],
  ]
  for (const [s, v] of ok) test(`${s} = ${v}`, () => assert.equal(parseGoFloat(s), v))
  test('NaN', () => {
    assert.ok(Number.isNaN(parseGoFloat('NaN')))
    assert.ok(Number.isNaN(parseGoFloat('nan')))
  })
  const bad = [
    '',
    '+',
    '.',
    'e5',
    '1a',
    '1.2.3',
    '_1',
    '1_',
    '1__0',
    '1_.5',
    '1._5',
    '1e',
    '1e+',
    '1e_5',
    '1e5_',
  ]
  bad.push(
    '0x1',
    '0x',
    '0xp1',
    '0x1.8',
    '+nan',
    '-NaN',
    'infin',
    'infinityx',
    ' 1',
    '1 ',
    '1e309',
    '0x1p1024',
  )
  bad.push('0b101', '0o17', '1,5', 'v1', '١')
  for (const s of bad)
    test(`${JSON.stringify(s)} is not a Go float`, () => assert.equal(parseGoFloat(s), undefined))
})

describe('classify through a filter (ours)', () => {
  test('a version extracted from the tag gives patch / minor / major', () => {
    const policy = parsePolicy(
      "filter('^main-(?P<v>[0-9.]+)-[a-f0-9]+$', extract='$v', policy=semver('>=0.0.0'))",
    )
    assert.equal(classify('main-1.2.0-abc123', 'main-1.3.0-def456', policy), 'minor')
    assert.equal(classify('main-1.2.0-abc123', 'main-1.2.1-def456', policy), 'patch')
    assert.equal(classify('main-1.2.0-abc123', 'main-2.0.0-def456', policy), 'major')
    assert.equal(classify('main-1.3.0-abc123', 'main-1.3.0-def456', policy), 'up-to-date')
  })
  test('the key is a version only when the inner policy orders by version', () => {
    const auto = filterTags('^app-(.*)$', '$1', parsePolicy('auto', { currentTag: 'v1.2' }))
    assert.equal(auto.versionOf('app-v1.2'), '1.2')
    assert.equal(filterTags('^r(\\d+)$', '$1', numerical('')).versionOf('r10'), undefined)
    assert.equal(filterTags('^r(\\d+)$', '$1', alphabetical('')).versionOf('r10'), undefined)
    assert.equal(filterTags('^v', '', fluxSemver('*')).versionOf('v1.2.3'), 'v1.2.3')
    assert.equal(filterTags('^v', '', fluxSemver('*')).versionOf('1.2.3'), undefined)
  })
})

describe('Regexp.Expand (ours)', () => {
  const expand = (pattern: string, template: string, input: string) => {
    let out = ''
    const recorder: TagPolicy = {
      expr: 'r()',
      matches: () => true,
      rank: (keys) => {
        out = keys[0] ?? '<none>'
        return [...keys]
      },
      compare: () => 0,
    }
    filterTags(pattern, template, recorder).rank([input])
    return out
  }
  // Go's ${…} template syntax, not a JS placeholder.
  const braced = (name: string) => '$' + `{${name}}`
  const cases: [string, string, string, string][] = [
    ['(\\d+)-(\\w+)', '$2.$1', '12-ab', 'ab.12'],
    ['(\\d+)-(\\w+)', `${braced('1')}x`, '12-ab', '12x'],
    ['(\\d+)-(\\w+)', '$1x', '12-ab', ''],
    ['(?P<ts>\\d+)(?P<tm>\\w)', '$ts$tm', '12a', '12a'],
    ['(?P<ts>\\d+)', braced('ts'), '12', '12'],
    ['(\\d+)', '$$1', '12', '$1'],
    ['(\\d+)', '$', '12', '$'],
    ['(\\d+)', '$' + '{1', '12', '$' + '{1'],
    ['(\\d+)', '$0-$01-$9', '12', '12--'],
    ['(a)|(b)', '[$1|$2]', 'b', '[|b]'],
    ['(?P<x>a)|(?P<x>b)', '$x', 'b', 'b'],
  ]
  for (const [p, t, input, want] of cases) {
    test(`${p} ${t} on ${input}`, () => assert.equal(expand(p, t, input), want))
  }
  test('expandGo directly', () => {
    const m = /(a)(b)?/.exec('a')!
    assert.equal(expandGo('<$1$2>', m, ['', '', '']), '<a>')
  })
})
