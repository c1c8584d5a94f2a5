// The policy expression language: kluctl, Flux and auto kinds, error columns, canonical round trips, fuzzing.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { latestTag } from '../../src/policy/index.ts'
import { parsePolicy } from '../../src/policy/parse.ts'
import { PolicySyntaxError, type TagPolicy } from '../../src/policy/types.ts'

function syntaxError(expr: string, column: number, reason: RegExp | string): void {
  assert.throws(
    () => parsePolicy(expr),
    (e) => {
      assert.ok(e instanceof PolicySyntaxError, `${expr}: ${e}`)
      assert.equal(e.expr, expr)
      assert.equal(e.column, column, `${expr}: ${e.message}`)
      if (typeof reason === 'string') assert.ok(e.message.endsWith(`: ${reason}`), e.message)
      else assert.match(e.message, reason)
      return true
    },
  )
}

const SAMPLE = [
  '0.9.0',
  '1.0.0',
  '1.0.0-rc1',
  '1.2.3',
  '1.2.3-alpine',
  '1.10.0',
  '2.0.0-beta.1',
  '20230105',
  '7',
  'latest',
  'main-12',
  'master-3',
  'master-20',
  'v1.11.0',
]

describe('kluctl kinds', () => {
  test('canonical exprs', () => {
    const cases: [string, string][] = [
      ['semver()', 'semver(allow_no_nums=false)'],
      ['  semver( allow_no_nums = True )  ', 'semver(allow_no_nums=true)'],
      ['semver(t)', 'semver(allow_no_nums=true)'],
      ['semver(allow_no_nums=F)', 'semver(allow_no_nums=false)'],
      ["prefix('master-', suffix=number())", 'prefix(prefix="master-", suffix=number())'],
      ['prefix("a", regex("b"))', 'prefix(prefix="a", suffix=regex(pattern="b"))'],
      ['number()', 'number()'],
      ["regex('main-[0-9]+')", 'regex(pattern="main-[0-9]+")'],
    ]
    for (const [input, expr] of cases) assert.equal(parsePolicy(input).expr, expr, input)
  })
  test('escapes are not processed: a backslash stays, and only keeps a quote from closing', () => {
    assert.equal(parsePolicy("regex('1\\.0')").expr, 'regex(pattern="1\\.0")')
    assert.equal(parsePolicy("regex('a\\'b')").expr, `regex(pattern="a\\'b")`)
    assert.equal(parsePolicy("regex('a\\'b')").matches("a'b"), true)
  })
  test('kluctl errors', () => {
    syntaxError("regex('')", 7, "pattern can't be empty")
    syntaxError('regex()', 7, 'required arg pattern not found')
    syntaxError('regex(1)', 7, 'invalid value for arg pattern, must be a quoted string')
    syntaxError('semver(allow_no_nums=1)', 22, 'invalid value for arg allow_no_nums, must be a bool')
    syntaxError('semver(allow_no_nums=yes)', 22, 'invalid value for arg allow_no_nums, must be a bool')
    syntaxError('prefix("master-", suffix="number()")', 26, 'invalid suffix, must be a filter')
    syntaxError('prefix(suffix=number())', 23, 'required arg prefix not found')
    syntaxError('number(a=1)', 8, /unknown arg a for number\(\)/)
    syntaxError('number(1)', 8, 'number() takes no arguments')
    syntaxError("prefix('a', 'b', 'c')", 18, 'too many arguments for prefix()')
    syntaxError("prefix(suffix=number(), 'a')", 25, "can't have unnamed args after named args")
    syntaxError("prefix('a', prefix='b')", 13, 'named arg prefix has already been provided via unnamed args')
    syntaxError('semver(allow_no_nums=true, allow_no_nums=false)', 28, 'duplicate arg allow_no_nums')
    syntaxError("regex('a(?=b)')", 7, /look-arounds are not supported: RE2 syntax is required/)
    syntaxError("prefix('(')", 8, /missing closing \)/)
    syntaxError("prefix('a', suffix=auto())", 20, 'auto() can only be used on its own')
  })
})

describe('Flux kinds', () => {
  test('semver with a range is Flux SemVer', () => {
    const p = parsePolicy("semver('>=1.0.0 <2')")
    assert.equal(latestTag(p, SAMPLE), 'v1.11.0')
    assert.equal(parsePolicy("semver(range='>=1.0.0 <2')").expr, p.expr)
  })
  test('alphabetical, numerical, filter and the filterTags alias', () => {
    assert.equal(latestTag(parsePolicy('alphabetical()'), SAMPLE), 'v1.11.0')
    assert.equal(latestTag(parsePolicy("alphabetical(order='desc')"), SAMPLE), '0.9.0')
    assert.equal(latestTag(parsePolicy('alphabetical(order=DESC)'), SAMPLE), '0.9.0')
    assert.equal(latestTag(parsePolicy("numerical(order='asc')"), ['1', '10', '9']), '10')
    const f = parsePolicy("filter('^master-(?P<n>\\d+)$', extract='$n', policy=numerical())")
    assert.equal(latestTag(f, SAMPLE), 'master-20')
    assert.equal(parsePolicy("filterTags('^master-(\\d+)$', '$1', numerical())").rank(SAMPLE)[0], 'master-20')
  })
  test('Flux errors point at the argument', () => {
    syntaxError("semver('')", 8, /.+/)
    syntaxError("semver('1x')", 8, /.+/)
    syntaxError("semver('1.x', allow_no_nums=true)", 15, /not both/)
    syntaxError("alphabetical(order='up')", 20, /invalid order argument provided: 'up'/)
    syntaxError("filter('^a')", 12, /required arg policy not found/)
    syntaxError("filter('^a', policy='numerical()')", 21, /invalid policy, must be a policy/)
    syntaxError("filter('(?=a)', policy=numerical())", 8, /RE2|look/)
  })
})

describe('auto', () => {
  test('bare auto, auto() and auto(current=...)', () => {
    assert.equal(parsePolicy('auto').expr, 'auto()')
    assert.equal(parsePolicy(' auto ').expr, 'auto()')
    assert.equal(parsePolicy('auto', { currentTag: '1.25-alpine' }).expr, 'auto(current="1.25-alpine")')
    assert.equal(parsePolicy('auto()', { currentTag: '1.25-alpine' }).expr, 'auto(current="1.25-alpine")')
    // An explicit current wins over the running tag.
    assert.equal(parsePolicy("auto(current='1.2.3')", { currentTag: '9' }).expr, 'auto(current="1.2.3")')
  })
})

describe('syntax errors', () => {
  test('the column points at the offending token', () => {
    syntaxError("prefix('x'", 11, "expected ')'")
    syntaxError('', 1, 'expected a policy')
    syntaxError('   ', 4, 'expected a policy')
    syntaxError('semver', 7, "expected '(' after semver")
    syntaxError('foo()', 1, /unknown policy foo \(expected one of semver, prefix/)
    syntaxError("regex('abc", 7, 'unterminated string')
    syntaxError("regex('a\nb')", 7, 'unterminated string')
    syntaxError('semver() x', 10, "unexpected 'x' after the policy")
    syntaxError('semver())', 9, "unexpected ')' after the policy")
    syntaxError("regex(a*')", 8, 'unexpected character "*"')
    syntaxError('semver(allow_no_nums=true,)', 27, "unexpected ')', expected a string, name, int or policy")
    syntaxError("prefix('a',", 12, 'expected a value')
    syntaxError("prefix('a' 'b')", 12, "unexpected string 'b', expected ')' or ','")
    syntaxError('(', 1, "unexpected '(', expected a policy name")
    syntaxError('auto x', 6, "expected '(' after auto")
  })
  test('nesting is bounded', () => {
    const deep = `${"prefix('a', suffix=".repeat(50)}number()${')'.repeat(50)}`
    assert.throws(
      () => parsePolicy(deep),
      (e) => e instanceof PolicySyntaxError && /nested too deeply/.test(e.message),
    )
    const unclosed = '('.repeat(100_000)
    assert.throws(
      () => parsePolicy(`semver${unclosed}`),
      (e) => e instanceof PolicySyntaxError,
    )
  })
})

describe('canonical exprs round-trip', () => {
  const exprs = [
    'semver()',
    'semver(allow_no_nums=TRUE)',
    "prefix('master-', suffix=number())",
    "prefix('v')",
    "prefix('1.', regex('[0-9]+'))",
    "prefix('app-', suffix=prefix('v', suffix=number()))",
    'number()',
    "regex('main-.*')",
    `regex('x"y')`,
    "semver('>=1.0.0 <2')",
    "semver(range='^1.x-0')",
    'alphabetical()',
    "alphabetical(order='desc')",
    'numerical(order=asc)',
    "filter('^master-(\\d+)$', extract='$1', policy=numerical())",
    "filter('-rc', policy=semver('>=1.0.0-0'))",
    "filter('^[0-9]', policy=semver())",
    "prefix('master-', suffix=alphabetical())",
    'auto',
    "auto(current='1.25-alpine')",
  ]
  for (const input of exprs) {
    test(input, () => {
      const p = parsePolicy(input)
      const again = parsePolicy(p.expr)
      assert.equal(again.expr, p.expr)
      const rank = (q: TagPolicy) => {
        try {
          return q.rank(SAMPLE)
        } catch (e) {
          return (e as Error).message
        }
      }
      assert.deepEqual(rank(again), rank(p))
      for (const tag of SAMPLE) assert.equal(again.matches(tag), p.matches(tag), tag)
    })
  }
})

describe('fuzz', () => {
  /** mulberry32 */
  function prng(seed: number): () => number {
    let a = seed >>> 0
    return () => {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
  const pieces = [
    'semver',
    'prefix',
    'number',
    'regex',
    'alphabetical',
    'numerical',
    'filter',
    'filterTags',
    'auto',
    'allow_no_nums',
    'suffix',
    'order',
    'policy',
    'extract',
    'pattern',
    'current',
    'range',
    'true',
    'False',
    '(',
    ')',
    '(',
    ')',
    ',',
    '=',
    ' ',
    "'",
    '"',
    "'a'",
    "'x-'",
    "'>=1.0'",
    "'^1.x'",
    "'asc'",
    "'desc'",
    "'$1'",
    "'(a+)+'",
    "'[0-9]+'",
    "'(?P<n>\\d+)'",
    "'(?=x)'",
    "'\\1'",
    '\\',
    '1',
    '42',
    'x',
    '*',
    '\n',
    '#',
    '\u00e9',
    '\u{1f600}',
  ]
  const tags = ['1.0.0', 'v1.2.3', '1.2.3-rc1', '7', '42', 'a', 'x-1', 'latest', 'aaaaaaaaaaac', '1.0']

  test('never throws anything but PolicySyntaxError, never hangs, successes round-trip', () => {
    const rnd = prng(20250101)
    const started = performance.now()
    let parsed = 0
    for (let i = 0; i < 20_000; i++) {
      let expr = ''
      const n = 1 + Math.floor(rnd() * 12)
      for (let k = 0; k < n; k++) {
        expr +=
          rnd() < 0.85
            ? pieces[Math.floor(rnd() * pieces.length)]
            : String.fromCharCode(Math.floor(rnd() * 128))
      }
      let policy: TagPolicy
      try {
        policy = parsePolicy(expr, rnd() < 0.5 ? {} : { currentTag: '1.2.3' })
      } catch (e) {
        assert.ok(e instanceof PolicySyntaxError, `${JSON.stringify(expr)} threw ${e}`)
        assert.ok(e.column >= 1 && e.column <= expr.length + 1, `${JSON.stringify(expr)}: column ${e.column}`)
        continue
      }
      parsed++
      assert.equal(parsePolicy(policy.expr).expr, policy.expr, JSON.stringify(expr))
      try {
        policy.rank(tags)
      } catch (e) {
        assert.ok(!(e instanceof PolicySyntaxError), `${JSON.stringify(expr)}: rank threw ${e}`)
      }
    }
    assert.ok(parsed > 0, 'the fuzzer should produce some valid policies')
    assert.ok(performance.now() - started < 20_000, 'fuzzing took too long')
  })

  test('mutation fuzz: valid exprs with chars deleted, inserted or replaced', () => {
    const rnd = prng(99)
    const seeds = [
      "prefix('master-', suffix=number())",
      "filter('^master-(?P<n>\\d+)$', extract='$n', policy=numerical(order='desc'))",
      "semver(range='>=1.0.0 <2')",
      'semver(allow_no_nums=true)',
      "auto(current='1.25-alpine')",
      "prefix('a', suffix=prefix('b', suffix=regex('[0-9]+')))",
    ]
    const alphabet = '()\',="\\ ax1_.'
    let parsed = 0
    for (let i = 0; i < 20_000; i++) {
      let expr = seeds[Math.floor(rnd() * seeds.length)]!
      const edits = 1 + Math.floor(rnd() * 3)
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rnd() * (expr.length + 1))
        const c = alphabet[Math.floor(rnd() * alphabet.length)]!
        const op = rnd()
        expr =
          op < 0.33
            ? expr.slice(0, at) + expr.slice(at + 1)
            : op < 0.66
              ? expr.slice(0, at) + c + expr.slice(at)
              : expr.slice(0, at) + c + expr.slice(at + 1)
      }
      try {
        const policy = parsePolicy(expr)
        parsed++
        assert.equal(parsePolicy(policy.expr).expr, policy.expr, expr)
      } catch (e) {
        assert.ok(e instanceof PolicySyntaxError, `${JSON.stringify(expr)} threw ${e}`)
        assert.ok(e.column >= 1 && e.column <= expr.length + 1, `${JSON.stringify(expr)}: column ${e.column}`)
      }
    }
    assert.ok(parsed > 1000, `only ${parsed} mutants parsed`)
  })

  test('structured fuzz: valid calls with random string arguments', () => {
    const rnd = prng(7)
    const chars = 'ab.-_*+?()[]{}|^$\\\'"0123456789xP<>=!:'
    const str = () => {
      let s = ''
      const n = Math.floor(rnd() * 8)
      for (let k = 0; k < n; k++) s += chars[Math.floor(rnd() * chars.length)]
      return s
    }
    const templates = [
      (s: string) => `regex('${s}')`,
      (s: string) => `regex("${s}")`,
      (s: string) => `prefix('${s}', suffix=number())`,
      (s: string) => `semver('${s}')`,
      (s: string) => `alphabetical(order='${s}')`,
      (s: string) => `filter('${s}', extract='${s}', policy=alphabetical())`,
      (s: string) => `auto(current='${s}')`,
    ]
    for (let i = 0; i < 5_000; i++) {
      const expr = templates[Math.floor(rnd() * templates.length)]!(str())
      try {
        const policy = parsePolicy(expr)
        assert.equal(parsePolicy(policy.expr).expr, policy.expr, expr)
        policy.rank(tags)
      } catch (e) {
        assert.ok(
          e instanceof PolicySyntaxError || (e instanceof Error && e.name === 'PolicyError'),
          `${expr} threw ${e}`,
        )
      }
    }
  })
})
