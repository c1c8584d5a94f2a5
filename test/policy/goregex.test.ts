// Go (RE2) syntax on JS RegExp: the one translator behind Flux's filterTags and exclusions and kluctl's
// regex() and prefix(). The first two groups are the cases the two former translators were tested with.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { alphabetical, filterTags } from '../../src/policy/flux.ts'
import { compileGoRegex, groupNames } from '../../src/policy/goregex.ts'
import { regex } from '../../src/policy/kluctl.ts'
import { PolicyError } from '../../src/policy/types.ts'
import { TagExclusions } from '../../src/registry/exclude.ts'

describe('Go regexp on JS, unanchored (the cases of the Flux translator)', () => {
  const matches: [string, string, boolean][] = [
    ['(?P<tag>a+)b', 'xaab', true],
    ['(?<tag>a+)b', 'xaab', true],
    ['^\\d+$', '123', true],
    ['\\s', '\v', false], // Go's \s has no \v
    ['[[:alpha:]]+', '123', false],
    ['[[:^digit:]]', '12a', true],
    ['(?i)abc', 'xABC', true],
    ['a(?i)b|c', 'C', true], // the flag reaches the later alternative
    ['(?i:a)b', 'AB', false],
    ['.', '\r', true], // JS `.` would not match \r
    ['a.c', 'a\nc', false],
    ['(?s)a.c', 'a\nc', true],
    ['(?m)^b$', 'a\nb\nc', true],
    ['^b$', 'a\nb\nc', false],
    ['a{,3}', 'a{,3}', true], // not a repeat: literal text
    ['a{2}', 'aa', true],
    ['\\Qa.b\\E', 'axb', false],
    ['\\Qa.b\\E', 'a.b', true],
    ['[]a]', ']', true],
    ['[a-]', '-', true],
    ['\\x{41}\\x42', 'AB', true],
    ['\\101', 'A', true], // octal, not a backreference
    ['\\pL', 'é', true],
    ['\\p{Greek}', 'α', true],
    ['\\PL', 'a', false],
    ['\\_\\-', '_-', true],
    ['(?U)a+', 'aaa', true],
    ['', 'anything', true],
    ['c', 'abc', true], // unanchored
  ]
  for (const [p, s, want] of matches) {
    test(`${p} on ${JSON.stringify(s)}`, () => assert.equal(compileGoRegex(p).test(s), want))
  }
  const invalid = ['[=', '(?=a)', '(?!a)', '(?<=a)b', '(?<!a)b', '(a)\\1', '\\k<a>', 'a**', 'a{2}{3}', '*a']
  invalid.push('(a', 'a)', 'a{1001}', '(a{100}){100}', '[z-a]', '[[:foo:]]', '\\p{Foo}', '\\C', '\\8', 'a\\')
  invalid.push('(?P<>a)', '(?P<a-b>x)', '(?i', '(?-)', '(?i-)', '\\x{110000}', '\\xZZ', 'x{2,1}', '\\Z')
  for (const p of invalid) {
    test(`${JSON.stringify(p)} is not RE2`, () => assert.throws(() => compileGoRegex(p), PolicyError))
  }
  test('look-arounds and backreferences say RE2', () => {
    assert.throws(() => compileGoRegex('a(?=b)'), /RE2 syntax is required/)
    assert.throws(() => compileGoRegex('(a)\\1'), /RE2 syntax is required/)
  })
  test('(?) and (?i-s) are valid flag groups', () => {
    compileGoRegex('(?)a')
    compileGoRegex('(?i-s:a)')
    compileGoRegex('(?P<1a>x)')
  })
  test('lazy and ungreedy captures', () => {
    const re = (p: string) => compileGoRegex(p).exec('aaa')?.[1]
    assert.equal(re('(a+?)'), 'a')
    assert.equal(re('(?U)(a+)'), 'a')
    assert.equal(re('(?U)(a+?)'), 'aaa')
  })
})

describe('Go regexp on JS, anchored (the cases of the kluctl translator)', () => {
  const full = (pattern: string, tag: string) => compileGoRegex(pattern, { anchored: true }).test(tag)
  test('named groups (?P<name>) and (?<name>)', () => {
    assert.equal(full('(?P<major>\\d+)\\.(?<minor>\\d+)', '1.2'), true)
    assert.deepEqual(compileGoRegex('(?P<x>a)(b)', { anchored: true }).exec('ab')?.slice(1), ['a', 'b'])
  })
  test('look-arounds and backreferences need RE2 syntax', () => {
    for (const p of ['a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b', '(a)\\1', '(?P<x>a)(?P=x)', '\\k<x>']) {
      assert.throws(
        () => compileGoRegex(p),
        (e) => e instanceof PolicyError && /RE2 syntax is required/.test(e.message),
        p,
      )
    }
  })
  test('flags, classes, escapes', () => {
    assert.equal(full('(?i)rc[a-c]', 'RCB'), true)
    assert.equal(full('a(?i)b|c', 'C'), true, 'flags carry over alternatives in the group')
    assert.equal(full('(?i:a)b', 'AB'), false)
    assert.equal(full('[[:alpha:]]+-[[:digit:]]+', 'abc-12'), true)
    assert.equal(full('[^[:alpha:]]+', '12-'), true)
    assert.equal(full('\\d+\\s?\\w', '12 x'), true)
    assert.equal(full('[]a]+', ']a'), true)
    assert.equal(full('\\Qa.b\\E', 'a.b'), true)
    assert.equal(full('\\Qa.b\\E', 'axb'), false)
    assert.equal(full('a{2', 'a{2'), true, 'a brace that is no repetition is literal')
    assert.equal(full('a{2}', 'aa'), true)
    assert.equal(full('\\x41\\x{42}\\101', 'ABA'), true)
    assert.equal(full('(?s).', '\n'), true)
    assert.equal(full('.', '\n'), false)
    assert.equal(full('\\.\\-\\"', '.-"'), true)
    assert.equal(full('\\Aa\\z', 'a'), true)
  })
  test('(?U) swaps greediness', () => {
    assert.deepEqual(compileGoRegex('(?U)(a+)(a*)', { anchored: true }).exec('aaa')?.slice(1), ['a', 'aa'])
  })
  test('Go syntax errors are PolicyErrors', () => {
    // `\\pL` and `(?)` were rejected here too, but Go accepts both (see the Flux cases above).
    for (const p of ['(a', 'a)', '[a', 'a\\', 'x{1001}', '[z-a]', '\\e', '(?z)']) {
      assert.throws(
        () => compileGoRegex(p),
        (e) => e instanceof PolicyError,
        p,
      )
    }
  })
})

describe('Go semantics that JS spells differently', () => {
  const full = (pattern: string, tag: string) => compileGoRegex(pattern, { anchored: true }).test(tag)
  test('anchored is "^" + r + "$" without a group, as kluctl builds it', () => {
    assert.deepEqual(
      ['a', 'ab', 'xb', 'ba'].filter((t) => full('a|b', t)),
      ['a', 'ab', 'xb'],
    )
    assert.equal(full('a\\', 'a$'), true, 'a trailing backslash escapes the appended $, as in Go')
    assert.equal(full('(?m)a', 'a\nb'), true, 'flags reach the appended $')
  })
  test('group numbers and names', () => {
    const re = compileGoRegex('(?P<1a>x)(y)(?<z>z)')
    assert.deepEqual(groupNames(re), ['', '1a', '', 'z'])
    assert.deepEqual(re.exec('xyz')?.slice(1), ['x', 'y', 'z'])
    assert.deepEqual(groupNames(/x/), [])
  })
  test('a rune is one character, above the BMP too', () => {
    assert.equal(full('.', '\u{1F600}'), true)
    assert.equal(full('..', '\u{1F600}'), false)
    assert.equal(full('[^a]', '\u{1F600}'), true)
    assert.equal(full('\\x{1F600}+', '\u{1F600}\u{1F600}'), true)
    assert.equal(full('[\\x{1F600}-\\x{1F64F}]', '\u{1F64F}'), true)
    assert.equal(full('[\\x{1F600}-\\x{1F64F}]', '\u{1F650}'), false)
    assert.equal(full('\\pL', '\u{1D49C}'), true)
  })
  test('(?i) folds as Go does, without the i flag', () => {
    assert.equal(full('(?i)k', '\u212A'), true, 'KELVIN SIGN is in the orbit of k')
    assert.equal(full('(?i)\\W', '\u017F'), false, 'LONG S folds into \\w before \\W negates it')
    assert.equal(full('\\W', '\u017F'), true)
    assert.equal(full('(?i)é', 'É'), true)
    assert.equal(full('(?i)[^a]', 'A'), false)
    assert.equal(full('(?i)[[:upper:]]+', 'aZ'), true)
  })
  test('\\d \\s \\w \\b are ASCII', () => {
    assert.equal(full('\\d', '\u0661'), false)
    assert.equal(full('\\w', 'é'), false)
    assert.equal(compileGoRegex('\\bé').test('xé'), true, 'é is no word character: a boundary before it')
  })
  test('(?m) anchors only at \\n', () => {
    assert.equal(compileGoRegex('(?m)^b$').test('a\nb\nc'), true)
    assert.equal(compileGoRegex('(?m)^b$').test('a\rb\rc'), false)
    assert.equal(compileGoRegex('(?m)a$').test('a\u2028'), false)
  })
  test('counted repeats, unrolled or not, count the same', () => {
    assert.equal(full('[a-f0-9]{64}', 'a'.repeat(64)), true)
    assert.equal(full('[a-f0-9]{64}', 'a'.repeat(63)), false)
    assert.equal(full('a{2,4}', 'aaaaa'), false)
    assert.equal(full('a{2,}', 'a'), false)
    assert.deepEqual(compileGoRegex('(a{2,4}?)(a*)').exec('aaaaa')?.slice(1), ['aa', 'aaa'])
    assert.deepEqual(compileGoRegex('(a{2,4})(a*)').exec('aaaaa')?.slice(1), ['aaaa', 'a'])
    assert.deepEqual(compileGoRegex('(?:(a)|b){3}').exec('bab')?.slice(1), [undefined])
    assert.equal(full('(?:ab){0}c', 'c'), true)
  })
  test("messages are Go's, on one line", () => {
    assert.throws(() => compileGoRegex('a)'), {
      name: 'PolicyError',
      message: 'error parsing regexp: unexpected ): `a)`',
    })
    assert.throws(() => compileGoRegex('(a', { anchored: true }), {
      message: 'error parsing regexp: missing closing ): `^(a$`',
    })
    assert.throws(() => compileGoRegex('a\n(?=b)'), {
      message:
        'error parsing regexp: invalid or unsupported Perl syntax: `(?=`: look-arounds are not supported: RE2 syntax is required',
    })
    assert.throws(() => compileGoRegex('x\n['), { message: 'error parsing regexp: missing closing ]: `[`' })
    assert.throws(() => compileGoRegex('\n)'), { message: 'error parsing regexp: unexpected ): `\\n)`' })
  })
})

describe('RE2-only syntax is rejected', () => {
  const re2Only = [
    'a(?=b)',
    'a(?!b)',
    '(?<=a)b',
    '(?<!a)b',
    '(a)\\1',
    '(?P<x>a)(?P=x)',
    '\\k<x>',
    '\\8',
    '\\g1',
  ]
  re2Only.push('(?P>x)', '(?>a)', '[\\1]')
  for (const p of re2Only) {
    test(p, () => {
      for (const compile of [
        () => compileGoRegex(p),
        () => compileGoRegex(p, { anchored: true }),
        () => regex(p),
        () => filterTags(p, '', alphabetical('')),
        () => new TagExclusions([p]),
      ]) {
        assert.throws(compile, (e) => e instanceof PolicyError && /RE2 syntax is required/.test(e.message))
      }
    })
  }
})

describe('catastrophic patterns finish on 10k characters (V8 falls back to its linear engine)', () => {
  const cases: [string, string][] = [
    ['(a+)+$', `${'a'.repeat(10_000)}b`],
    ['(x+x+)+y', 'x'.repeat(10_000)],
    // Counts above 16 keep V8 off its linear engine, so they are unrolled.
    ['^([a-z0-9]{1,63}\\.?)+$', `${'a'.repeat(10_000)}!`],
  ]
  for (const [pattern, input] of cases) {
    test(`${pattern}: compileGoRegex`, () => assert.equal(compileGoRegex(pattern).test(input), false))
    test(`${pattern}: Flux filter`, () => {
      assert.deepEqual(filterTags(pattern, '', alphabetical('')).rank([input]), [])
    })
    test(`${pattern}: Flux filter with extract`, () => {
      assert.equal(filterTags(pattern, '$1', alphabetical('')).matches(input), false)
    })
    test(`${pattern}: kluctl regex()`, () => assert.equal(regex(pattern).matches(input), false))
    test(`${pattern}: exclusions`, () => {
      assert.deepEqual(new TagExclusions([pattern], { defaults: false }).apply([input]), [input])
    })
  }
})

describe('TagExclusions: one alternation of all patterns, as if each were tested alone', () => {
  test('each pattern excludes what it matches, flags stay inside their pattern', () => {
    const exclusions = new TagExclusions(['(?i)^ABC', 'x$'])
    const tags = [
      'abcd',
      'ABx',
      'aX',
      'v1.0',
      `sha256-${'a'.repeat(64)}.sig`,
      'v1.0.att',
      'v1.0-x',
      'v1.0.sbom',
    ]
    assert.deepEqual(exclusions.apply(tags), ['aX', 'v1.0'])
    assert.deepEqual(new TagExclusions([], { defaults: false }).apply(tags), tags)
  })

  test('the same group name in two patterns, and a catastrophic pattern beside the defaults', () => {
    const named = new TagExclusions(['^(?P<v>rc)', '(?P<v>beta)$'], { defaults: false })
    assert.deepEqual(named.apply(['rc1', '1.0-beta', '1.0']), ['1.0'])
    const input = `${'a'.repeat(10_000)}b`
    assert.deepEqual(new TagExclusions(['(a+)+$']).apply([input, 'aaa']), [input])
  })
})
