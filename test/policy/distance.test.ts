// classify(): how far the running tag is from the latest under a policy.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { classify, parsePolicy } from '../../src/policy/index.ts'

const c = (current: string, latest: string, expr: string, currentTag?: string) =>
  classify(current, latest, parsePolicy(expr, currentTag === undefined ? {} : { currentTag }))

describe('classify', () => {
  test('up-to-date: identical, or equal under the policy', () => {
    assert.equal(c('1.2.3', '1.2.3', 'semver()'), 'up-to-date')
    assert.equal(c('v1.2.3', '1.2.3', 'semver()'), 'up-to-date')
    assert.equal(c('007', '7', 'number()'), 'up-to-date')
    assert.equal(c('latest', 'latest', 'alphabetical()'), 'up-to-date')
  })
  test('major / minor / patch by the first numeric part that differs', () => {
    assert.equal(c('1.2.3', '2.0.0', 'semver()'), 'major')
    assert.equal(c('1.2.3', '1.10.0', 'semver()'), 'minor')
    assert.equal(c('1.2.3', '1.2.4', 'semver()'), 'patch')
    assert.equal(c('1.2.3.4', '1.2.3.5', 'semver()'), 'patch')
    assert.equal(c('v1.2', 'v1.2.1', 'semver()'), 'patch', 'a missing part counts as 0')
    assert.equal(c('1.2.3-alpine', '1.3.0-alpine', 'semver()'), 'minor', 'the suffix is ignored')
  })
  test('equal numbers with a newer suffix are a patch', () => {
    assert.equal(c('1.0.0-rc1', '1.0.0', 'semver()'), 'patch')
    assert.equal(c('1.25.3-debian-12-r3', '1.25.3-debian-12-r4', 'auto', '1.25.3-debian-12-r3'), 'patch')
  })
  test('newer: the running tag ranks above the latest', () => {
    assert.equal(c('2.0.0', '1.9.0', 'semver()'), 'newer')
    assert.equal(c('1.3.0-rc1', '1.2.9', 'auto', '1.2.9'), 'newer')
    assert.equal(c('a', 'b', "alphabetical(order='desc')"), 'newer')
  })
  test('newer: a running tag Flux semver cannot read is compared by its numbers', () => {
    assert.equal(c('1.27', '1.26.3', "semver('~1.26')"), 'newer')
    assert.equal(c('2.0', '1.9.0', "semver('<2')"), 'newer')
    assert.equal(
      c('1.2-alpine', '1.1.0-alpine', "filter('^(?P<v>.*)-alpine$', extract='$v', policy=semver('>=1.0.0'))"),
      'newer',
    )
    assert.equal(c('1.25', '1.26.3', "semver('~1.26')"), 'minor', 'and older ones still by how far')
  })
  test('behind: orders that are not by version numbers', () => {
    assert.equal(c('7', '10', 'number()'), 'behind')
    assert.equal(c('master-7', 'master-10', "prefix('master-', suffix=number())"), 'behind')
    assert.equal(c('a', 'b', 'alphabetical()'), 'behind')
    assert.equal(c('1', '2', 'numerical()'), 'behind')
    assert.equal(c('main-9', 'main-10', "regex('main-[0-9]+')"), 'behind', 'not version-like')
  })
  test('behind: a running tag that is not version-like', () => {
    assert.equal(c('latest', '1.2.3', 'semver()'), 'behind')
    assert.equal(c('latest', '1.2.3', 'auto', 'latest'), 'behind')
  })
  test('prefix and auto judge the version after the prefix', () => {
    assert.equal(c('release-1.2', 'release-1.10', "prefix('release-')"), 'minor')
    assert.equal(c('release-1.2', 'release-2.0', 'auto', 'release-1.2'), 'major')
  })
  test('Flux semver, and a filter around it, are version orders', () => {
    assert.equal(c('1.2.3', '1.3.0', "semver('>=1.0.0')"), 'minor')
    assert.equal(c('1.2.3', '2.0.0', "filter('^[0-9]', policy=semver('>=1.0.0'))"), 'major')
    assert.equal(
      c('m-1.2.3', 'm-1.3.0', "filter('^m-(.*)$', extract='$1', policy=semver('>=1.0.0'))"),
      'minor',
    )
  })
})

test('a lone build number or date is behind, a lone small number is a major version', () => {
  const auto = (current: string) => parsePolicy('auto', { currentTag: current })
  assert.equal(classify('master-101', 'master-118', auto('master-101')), 'behind')
  assert.equal(classify('20241101', '20241202', auto('20241101')), 'behind')
  assert.equal(classify('16', '17', auto('16')), 'major')
  assert.equal(classify('16-bookworm', '17-bookworm', auto('16-bookworm')), 'major')
  assert.equal(classify('release-1.2', 'release-1.10', auto('release-1.2')), 'minor')
})
