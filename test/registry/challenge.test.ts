import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { parseChallenges } from '../../src/registry/challenge.ts'

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/registry.json', import.meta.url), 'utf8'),
) as {
  auth_challenge_parse: { cases: Array<{ header: string; scheme: string; params: Record<string, string> }> }
}

test('parses WWW-Authenticate as distribution does (vectors)', () => {
  for (const c of vectors.auth_challenge_parse.cases) {
    assert.deepEqual(parseChallenges(c.header), [{ scheme: c.scheme, params: c.params }], c.header)
  }
})

test('reads several challenges and space-separated scopes', () => {
  assert.deepEqual(
    parseChallenges(
      'Basic realm="test-realm", BEARER Realm="https://a/token",scope="repository:a/b:pull repository:c:pull"',
    ),
    [
      { scheme: 'basic', params: { realm: 'test-realm' } },
      {
        scheme: 'bearer',
        params: { realm: 'https://a/token', scope: 'repository:a/b:pull repository:c:pull' },
      },
    ],
  )
})

test('never throws or loops on junk', () => {
  for (const junk of [
    '',
    '=',
    ',,,',
    '"unterminated',
    'Bearer realm="x',
    'Bearer ,=,',
    '\u0000\u00ff=',
    'a=b=c',
  ]) {
    assert.ok(Array.isArray(parseChallenges(junk)), junk)
  }
})
