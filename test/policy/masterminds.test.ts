// Masterminds/semver v3.4 port: Gardener's derived constraint vectors, Flux's range validity, and cases
// transcribed from Masterminds' own version_test.go / constraints_test.go (ours: not in the reference vectors).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  compareVersions,
  parseConstraint,
  parseVersion,
  satisfies,
  tryParseVersion,
} from '../../src/policy/masterminds.ts'

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../shared/reference/vectors/${name}`, import.meta.url), 'utf8'))
const gardener = read('gardener.json')
const flux = read('flux.json')

/** Gardener's Normalize: drop every `v`, cut at the first `-`, `+` or `~`. */
function normalizeGardener(v: string): string {
  const s = v.replaceAll('v', '')
  const cut = s.search(/[-+~]/)
  return cut < 0 ? s : s.slice(0, cut)
}

describe('gardener masterminds_constraint_checks (versions normalized the Gardener way)', () => {
  const { cases } = gardener.derived_not_from_tests.masterminds_constraint_checks
  for (const c of cases as { constraint: string; version: string; matches: boolean }[]) {
    test(`${JSON.stringify(c.constraint)} ${c.version}`, () => {
      assert.equal(satisfies(normalizeGardener(c.version), c.constraint), c.matches)
    })
  }
})

describe('gardener masterminds_constraint_validity', () => {
  for (const c of gardener.derived_not_from_tests.masterminds_constraint_validity as {
    constraint: string
    valid: boolean
  }[]) {
    test(JSON.stringify(c.constraint), () => {
      if (c.valid) parseConstraint(c.constraint)
      else assert.throws(() => parseConstraint(c.constraint), /improper constraint/)
    })
  }
})

describe('flux semver_range_validity', () => {
  for (const r of flux.semver_range_validity.valid as string[])
    test(`valid ${r}`, () => {
      parseConstraint(r)
    })
  for (const r of flux.semver_range_validity.invalid as string[]) {
    test(`invalid ${JSON.stringify(r)}`, () => assert.throws(() => parseConstraint(r)))
  }
})

describe('NewVersion, coerce mode (ours, from version_test.go)', () => {
  const cases: [string, boolean][] = [
    ['1.2.3', true],
    ['1.2.3-alpha.01', false],
    ['1.2.3+test.01', true],
    ['1.2.3-alpha.-1', true],
    ['v1.2.3', true],
    ['1.0', true],
    ['v1.0', true],
    ['1', true],
    ['v1', true],
    ['1.2.beta', false],
    ['v1.2.beta', false],
    ['foo', false],
    ['1.2-5', true],
    ['v1.2-5', true],
    ['1.2-beta.5', true],
    ['\n1.2', false],
    ['\nv1.2', false],
    ['1.2.0-x.Y.0+metadata', true],
    ['1.2.0-x.Y.0+metadata-width-hypen', true],
    ['1.2.3-rc1-with-hypen', true],
    ['1.2.3.4', false],
    ['v1.2.3.4', false],
    ['1.2.2147483648', true],
    ['2147483648.3.0', true],
    ['20221209-update-renovatejson-v4', true],
    ['01.02.03', true],
    ['v2025.07.03', true],
    ['1.2.3-', false],
    ['1.2.3+', false],
    ['1.2.3-a..b', false],
    ['V1.2.3', false],
    [' 1.2.3', false],
    ['18446744073709551615.0.0', true],
    ['18446744073709551616.0.0', false],
  ]
  for (const [s, ok] of cases)
    test(JSON.stringify(s), () => assert.equal(tryParseVersion(s) !== undefined, ok))

  test('fields and Original()', () => {
    const v = parseVersion('v01.2-rc.1+b.7')
    assert.deepEqual(
      { ...v },
      { major: 1, minor: 2, patch: 0, prerelease: 'rc.1', metadata: 'b.7', original: 'v01.2-rc.1+b.7' },
    )
    assert.equal(parseVersion('18446744073709551615.0.0').major, 18446744073709551615n)
    assert.throws(() => parseVersion('1.2.3.4'), /invalid semantic version/)
  })
})

describe('Compare (ours, from version_test.go)', () => {
  const cases: [string, string, number][] = [
    ['1.2.3', '1.5.1', -1],
    ['2.2.3', '1.5.1', 1],
    ['2.2.3', '2.2.2', 1],
    ['3.2-beta', '3.2-beta', 0],
    ['1.3', '1.1.4', 1],
    ['4.2', '4.2-beta', 1],
    ['4.2-beta', '4.2', -1],
    ['4.2-alpha', '4.2-beta', -1],
    ['4.2-alpha', '4.2-alpha', 0],
    ['4.2-beta.2', '4.2-beta.1', 1],
    ['4.2-beta2', '4.2-beta1', 1],
    ['4.2-beta', '4.2-beta.2', -1],
    ['4.2-beta', '4.2-beta.foo', -1],
    ['4.2-beta.2', '4.2-beta', 1],
    ['4.2-beta.foo', '4.2-beta', 1],
    ['1.2+bar', '1.2+baz', 0],
    ['1.0.0-beta.4', '1.0.0-beta.-2', -1],
    ['1.0.0-beta.-2', '1.0.0-beta.-3', -1],
    ['1.0.0-beta.-3', '1.0.0-beta.5', 1],
    ['1.0.0-rc10', '1.0.0-rc9', -1],
    ['1.0.0-rc.10', '1.0.0-rc.9', 1],
    ['1.0.0-99999999999999999999', '1.0.0-18446744073709551615', 1],
    ['9007199254740993.0.0', '9007199254740992.0.0', 1],
    ['18446744073709551615.0.0', '9.0.0', 1],
  ]
  for (const [a, b, want] of cases) {
    test(`${a} vs ${b}`, () => assert.equal(compareVersions(parseVersion(a), parseVersion(b)), want))
  }
})

describe('Check (ours, from constraints_test.go)', () => {
  const cases: [string, string, boolean][] = [
    ['*', '1.2.3', true],
    ['~0.0.0', '1.2.3', true],
    ['0.x.x', '1.2.3', false],
    ['0.0.x', '1.2.3', false],
    ['0.0.0', '1.2.3', false],
    ['^0.0.0', '1.2.3', false],
    ['= 2.0', '1.2.3', false],
    ['= 2.0', '2.0.0', true],
    ['4.1', '4.1.0', true],
    ['4.1.x', '4.1.3', true],
    ['1.x', '1.4.0', true],
    ['!=4.1', '4.1.0', false],
    ['!=4.1-alpha', '4.1.0', true],
    ['!=4.1-alpha', '4.1.1-alpha', false],
    ['!=4.1', '5.1.0-alpha.1', false],
    ['!=4.x', '5.1.0', true],
    ['!=4.x', '4.1.0', false],
    ['!=4.1.x', '4.2.0', true],
    ['!=4.2.x', '4.2.3', false],
    ['>1.1', '4.1.0', true],
    ['>1.1', '1.1.0', false],
    ['<1.1', '0.1.0', true],
    ['<1.1', '1.1.0', false],
    ['<1.1', '1.1.1', false],
    ['<1.x', '1.1.1', false],
    ['<1.x', '0.1.1', true],
    ['<1.x', '2.0.0', false],
    ['<1.1.x', '1.2.1', false],
    ['<1.1.x', '1.1.500', false],
    ['<1.1.x', '1.0.500', true],
    ['<1.2.x', '1.1.1', true],
    ['>=1.1', '4.1.0', true],
    ['>=1.1', '1.1.0', true],
    ['>=1.1', '0.0.9', false],
    ['<=1.1', '0.1.0', true],
    ['<=1.1', '0.1.0-alpha', false],
    ['<=1.1-a', '0.1.0-alpha', true],
    ['<=1.1', '1.1.0', true],
    ['<=1.x', '1.1.0', true],
    ['<=2.x', '3.0.0', false],
    ['<=1.1', '1.1.1', true],
    ['<=1.1.x', '1.2.500', false],
    ['<=4.5', '3.4.0', true],
    ['<=4.5', '3.7.0', true],
    ['<=4.5', '4.6.3', false],
    ['>1.1, <2', '1.1.1', false],
    ['>1.1, <2', '1.2.1', true],
    ['>1.1, <3', '4.3.2', false],
    ['>=1.1, <2, !=1.2.3', '1.2.3', false],
    ['>=1.1, <2, !=1.2.3 || > 3', '4.1.2', true],
    ['>=1.1, <2, !=1.2.3 || > 3', '3.1.2', false],
    ['>=1.1, <2, !=1.2.3 || >= 3', '3.0.0', true],
    ['>=1.1, <2, !=1.2.3 || > 3', '3.0.0', false],
    ['>=1.1, <2, !=1.2.3 || > 3', '1.2.3', false],
    ['1.1 - 2', '1.1.1', true],
    ['1.5.0 - 4.5', '3.7.0', true],
    ['1.1-3', '4.3.2', false],
    ['^1.1', '1.1.1', true],
    ['^1.1', '4.3.2', false],
    ['^1.x', '1.1.1', true],
    ['^2.x', '1.1.1', false],
    ['^1.x', '2.1.1', false],
    ['^1.x', '1.1.1-beta1', false],
    ['^1.1.2-alpha', '1.2.1-beta1', true],
    ['^1.2.x-alpha', '1.1.1-beta1', false],
    ['^0.0.1', '0.0.1', true],
    ['^0.0.1', '0.3.1', false],
    ['^0.2', '0.2.9', true],
    ['^0.0', '0.0.9', true],
    ['^0.0', '0.1.0', false],
    ['^0', '0.9.0', true],
    ['^0', '1.0.0', false],
    ['~*', '2.1.1', true],
    ['~1', '2.1.1', false],
    ['~1', '1.3.5', true],
    ['~1', '1.4', true],
    ['~1.x', '2.1.1', false],
    ['~1.x', '1.3.5', true],
    ['~>1.1', '1.1.9', true],
    ['~1.1', '1.1.1', true],
    ['~1.1.1-beta', '1.1.1-alpha', false],
    ['~1.1.1-beta', '1.1.1-beta', true],
    ['~1.1.1-beta', '1.1.1', true],
    ['~1.2.3', '1.2.5', true],
    ['~1.2.3', '1.2.2', false],
    ['~1.2.3', '1.3.2', false],
    ['~1.1', '1.2.3', false],
    ['~1.3', '2.4.5', false],
    ['=< 1.2', '1.2.9', true],
    ['=> 1.2', '1.1.9', false],
    ['v1.x', '1.5.0', true],
    ['>=1.0.0 <2.0.0', '1.5.0', true],
    ['>= 1.2.3,<2', '2.0.0', false],
    // v3.4 (#267): a prerelease anywhere in the AND group admits prereleases for every comparison in it
    ['>=1.0.0-0 <2.0.0', '1.5.0-rc.1', true],
    ['>=1.0.0-0 <2.0.0 || >=3', '3.1.0-rc.1', false],
    ['>=1.0.0 <2.0.0-0', '1.5.0-rc.1', true],
  ]
  for (const [c, v, want] of cases) {
    test(`${c} ${v}`, () => assert.equal(satisfies(v, c), want))
  }
})

describe('NewConstraint validity (ours)', () => {
  const valid = ['*', 'x', '1.2.3 - 2', '>= 1.2 , < 2', '1.x || >=2.5.0 || 5.0.0 - 7.2.3', ' ~> 1.2 ', '\t^1']
  const invalid = [
    '1.2 ||',
    '|| 1.2',
    '>>1',
    '1.2.3 - ',
    '>=1.0.0-01',
    '>=1.2.3.4',
    'v',
    '~',
    '>= 1,, <2',
    '1 - 2 - 3',
  ]
  for (const c of valid)
    test(`valid ${JSON.stringify(c)}`, () => {
      parseConstraint(c)
    })
  for (const c of invalid) {
    test(`invalid ${JSON.stringify(c)}`, () => assert.throws(() => parseConstraint(c), /improper constraint/))
  }
  test('source is kept', () => assert.equal(parseConstraint('>= 1.6, < 1.8').source, '>= 1.6, < 1.8'))
  test('many spaces do not make validation slow', () => {
    const start = performance.now()
    assert.throws(() => parseConstraint(`${'1     '.repeat(40)}!`))
    assert.ok(performance.now() - start < 500)
  })
})
