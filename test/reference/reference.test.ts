import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  anchoredDomainAndPortRegexp,
  anchoredIdentifierRegexp,
  anchoredNameRegexp,
  familiarMatch,
  formatReference,
  goPathMatch,
  InvalidReferenceError,
  MAX_REFERENCE_LENGTH,
  parseAnyReference,
  parseDockerRef,
  parseImageReference,
  parseNamed,
  parseReference,
  REGEX_SOURCES,
  referenceRegexp,
  registryHost,
  UPSTREAM_TEST_DIGEST_ALGORITHMS,
  withDigest,
  withName,
  withTag,
} from '../../src/reference/index.ts'

const vectorsUrl = new URL('../../../shared/reference/vectors/registry.json', import.meta.url)
assert.ok(existsSync(fileURLToPath(vectorsUrl)), `vectors missing at ${fileURLToPath(vectorsUrl)}`)
// biome-ignore lint/suspicious/noExplicitAny: vector JSON is free-form
const V: Record<string, any> = JSON.parse(readFileSync(vectorsUrl, 'utf8'))

// The upstream tests link only sha256, so sha512 digests are "unsupported" there.
const upstream = { digestAlgorithms: UPSTREAM_TEST_DIGEST_ALGORITHMS }

type Case = Record<string, unknown>
const cases = (group: string): Case[] => {
  const list = V[group]?.cases as Case[] | undefined
  assert.ok(list && list.length > 0, `vector group ${group} is empty`)
  return list
}

function reasonOf(fn: () => unknown, what: string): string {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof InvalidReferenceError, `${what}: threw ${String(err)}`)
    assert.ok(!err.message.includes('\n'), `${what}: message is one line`)
    return err.reason
  }
  assert.fail(`${what}: expected an error`)
}

test('regex sources equal the vector expansions', () => {
  for (const key of Object.keys(REGEX_SOURCES) as (keyof typeof REGEX_SOURCES)[]) {
    assert.equal(REGEX_SOURCES[key], V.regexes[key], key)
  }
})

test('reference_parse', () => {
  for (const c of cases('reference_parse')) {
    const input = c.input as string
    const what = `Parse(${JSON.stringify(input).slice(0, 80)})`
    if (c.valid) {
      const ref = parseReference(input, upstream)
      assert.equal(ref.name, c.name, `${what} name`)
      assert.equal(ref.domain, c.domain, `${what} domain`)
      assert.equal(ref.path, c.derived_path, `${what} path`)
      assert.equal(ref.tag ?? '', c.tag, `${what} tag`)
      assert.equal(ref.digest ?? '', c.digest, `${what} digest`)
      assert.equal(formatReference(ref), c.string, `${what} String()`)
    } else {
      assert.equal(
        reasonOf(() => parseReference(input, upstream), what),
        c.error,
        what,
      )
    }
  }
})

test('reference_parse: the product default registers sha256, sha384 and sha512 (kubelet)', () => {
  const sha512 = `validname@sha512:${'f'.repeat(128)}`
  assert.equal(parseReference(sha512).digest, `sha512:${'f'.repeat(128)}`)
  assert.equal(parseReference(`a@sha384:${'0'.repeat(96)}`).digest, `sha384:${'0'.repeat(96)}`)
  assert.equal(
    reasonOf(() => parseReference(`a@sha256:${'F'.repeat(64)}`), 'uppercase hex'),
    'invalid checksum digest format',
  )
  assert.equal(
    reasonOf(() => parseReference(`a@sha384:${'0'.repeat(64)}`), 'short sha384'),
    'invalid checksum digest length',
  )
})

test('with_name_failure', () => {
  for (const c of cases('with_name_failure')) {
    const what = `WithName(${JSON.stringify(c.input).slice(0, 80)})`
    assert.equal(
      reasonOf(() => withName(c.input as string), what),
      c.error,
      what,
    )
  }
})

test('with_name_domain_path', () => {
  for (const c of cases('with_name_domain_path')) {
    const ref = withName(c.input as string)
    assert.equal(ref.domain, c.domain, `WithName(${c.input}) domain`)
    assert.equal(ref.path, c.path, `WithName(${c.input}) path`)
  }
})

test('serialization_parse', () => {
  for (const c of cases('serialization_parse')) {
    const what = `${c.description}: ${JSON.stringify(c.input)}`
    if (c.valid) {
      const ref = parseReference(c.input as string, upstream)
      assert.equal(ref.name, c.name, what)
      assert.equal(ref.tag ?? '', c.tag, what)
      assert.equal(ref.digest ?? '', c.digest, what)
    } else {
      assert.equal(
        reasonOf(() => parseReference(c.input as string, upstream), what),
        c.error,
      )
    }
  }
})

test('with_tag', () => {
  for (const c of cases('with_tag')) {
    let ref = withName(c.name as string)
    if (c.digest) ref = withDigest(ref, c.digest as string)
    ref = withTag(ref, c.tag as string)
    assert.equal(formatReference(ref), c.string, `WithTag(${c.name}, ${c.tag})`)
  }
})

test('with_digest', () => {
  for (const c of cases('with_digest')) {
    let ref = withName(c.name as string)
    if (c.tag) ref = withTag(ref, c.tag as string)
    ref = withDigest(ref, c.digest as string)
    assert.equal(formatReference(ref), c.string, `WithDigest(${c.name}, ${c.digest})`)
  }
})

test('parse_named_canonical_only', () => {
  for (const c of cases('parse_named_canonical_only')) {
    const what = `ParseNamed(${c.input})`
    if (c.valid) {
      const ref = parseNamed(c.input as string, upstream)
      assert.equal(ref.domain, c.domain, what)
      assert.equal(ref.path, c.path, what)
    } else {
      assert.equal(
        reasonOf(() => parseNamed(c.input as string, upstream), what),
        c.error,
      )
    }
  }
})

test('normalized_valid_invalid', () => {
  const g = V.normalized_valid_invalid
  for (const s of [...g.valid, ...g.valid_remote_names] as string[]) {
    assert.doesNotThrow(() => parseImageReference(s, upstream), `ParseNormalizedNamed(${s}) should be valid`)
  }
  for (const s of [...g.invalid, ...g.invalid_remote_names] as string[]) {
    reasonOf(() => parseImageReference(s, upstream), `ParseNormalizedNamed(${s}) should be invalid`)
  }
})

test('normalized_repository_info', () => {
  for (const c of cases('normalized_repository_info')) {
    const what = `ParseNormalizedNamed(${c.input}) [${c.input_form}]`
    const ref = parseImageReference(c.input as string, upstream)
    assert.equal(ref.domain, c.domain, `${what} domain`)
    assert.equal(ref.path, c.path, `${what} path`)
    assert.equal(ref.familiarName, c.familiar_name, `${what} familiar name`)
    assert.equal(ref.canonical, c.canonical_name, `${what} String()`)
    assert.equal(ref.name, c.canonical_name, `${what} name`)
  }
})

test('normalized_tag_and_digest', () => {
  for (const c of cases('normalized_tag_and_digest')) {
    const ref = parseImageReference(c.input as string, upstream)
    assert.equal(ref.canonical, c.string, `${c.input} String()`)
    assert.equal(ref.tag !== undefined, c.is_tagged, `${c.input} tagged`)
    assert.equal(ref.digest !== undefined, c.is_digested, `${c.input} digested`)
    assert.equal(ref.familiar, c.familiar_string, `${c.input} FamiliarString`)
  }
})

test('invalid_components', () => {
  for (const c of cases('invalid_components')) {
    const input = c.input as string
    const what = `${c.call} with ${input}`
    const call = c.call as string
    const run = call.startsWith('WithTag')
      ? () => withTag(parseImageReference('busybox'), input)
      : call.startsWith('WithDigest')
        ? () => withDigest(parseImageReference('busybox'), input)
        : () => parseImageReference(input, upstream)
    assert.equal(c.valid, false)
    reasonOf(run, what)
  }
})

test('parse_any_reference', () => {
  for (const c of cases('parse_any_reference')) {
    const what = `ParseAnyReference(${c.input})`
    const ref = parseAnyReference(c.input as string, upstream)
    assert.equal(ref.canonical, c.string, what)
    if (String(c.kind).startsWith('digest')) assert.equal(ref.kind, 'digest', what)
    else {
      assert.equal(ref.kind, 'named', what)
      assert.equal(
        ref.canonical,
        parseImageReference(c.string as string).canonical,
        `${what} == Parse(String())`,
      )
    }
  }
})

test('normalized_split_hostname', () => {
  for (const c of cases('normalized_split_hostname')) {
    const ref = parseImageReference(c.input as string, upstream)
    assert.equal(ref.domain, c.domain, `${c.input} domain`)
    assert.equal(ref.path, c.path, `${c.input} path`)
  }
})

test('familiar_match', () => {
  for (const c of cases('familiar_match')) {
    const ref = parseAnyReference(c.reference as string, upstream)
    assert.equal(
      familiarMatch(c.pattern as string, ref),
      c.matches,
      `FamiliarMatch(${c.pattern}, ${c.reference})`,
    )
  }
})

test('parse_docker_ref', () => {
  for (const c of cases('parse_docker_ref')) {
    const ref = parseDockerRef(c.input as string, upstream)
    assert.equal(ref.canonical, c.string, `${c.name}: ParseDockerRef(${c.input})`)
  }
})

test('regexp_domain_and_port', () => {
  for (const c of cases('regexp_domain_and_port')) {
    assert.equal(anchoredDomainAndPortRegexp.test(c.input as string), c.matches, `domain ${c.input}`)
  }
})

test('regexp_anchored_name', () => {
  for (const c of cases('regexp_anchored_name')) {
    const m = anchoredNameRegexp.exec(c.input as string)
    assert.equal(m !== null, c.matches, `anchored name ${c.input}`)
    if (m && c.path !== undefined) {
      assert.equal(m[1] ?? '', c.domain, `anchored name ${c.input} domain`)
      assert.equal(m[2], c.path, `anchored name ${c.input} path`)
    }
  }
})

test('regexp_reference', () => {
  for (const c of cases('regexp_reference')) {
    const m = referenceRegexp.exec(c.input as string)
    assert.equal(m !== null, c.matches, `reference ${c.input}`)
    if (m) {
      assert.equal(m[1], c.name, `reference ${c.input} name`)
      assert.equal(m[2] ?? '', c.tag, `reference ${c.input} tag`)
      assert.equal(m[3] ?? '', c.digest, `reference ${c.input} digest`)
    }
  }
})

test('regexp_identifier', () => {
  for (const c of cases('regexp_identifier')) {
    assert.equal(anchoredIdentifierRegexp.test(c.input as string), c.matches, `identifier ${c.input}`)
  }
})

test('error messages are one line, name the input and the wrong part', () => {
  const cases: [string, RegExp][] = [
    ['Foo/Bar', /^invalid image reference "Foo\/Bar": invalid reference format: repository name \(Bar\)/],
    [
      'repo:bad~tag',
      /^invalid image reference "repo:bad~tag": invalid reference format \(bad tag "bad~tag"\)$/,
    ],
    ['repo@sha256:abc', /\(bad digest "sha256:abc"\)$/],
    [`repo@sha256:${'a'.repeat(63)}`, /invalid checksum digest length \(digest "sha256:a+"\)$/],
    ['a$b/c', /\(bad repository name "a\$b\/c"\)$/],
    ['evil\nname', /^invalid image reference "evil\\nname": /],
  ]
  for (const [input, re] of cases) {
    try {
      parseImageReference(input)
      assert.fail(`${input} should not parse`)
    } catch (err) {
      assert.ok(err instanceof InvalidReferenceError)
      assert.match(err.message, re, input)
      assert.ok(!err.message.includes('\n'), `${JSON.stringify(input)} message is one line`)
    }
  }
})

test('inputs longer than the cap are rejected before any regex runs', () => {
  const long = `a/${'b'.repeat(MAX_REFERENCE_LENGTH)}`
  const start = performance.now()
  const reason = reasonOf(() => parseImageReference(long), 'long input')
  assert.equal(reason, 'invalid reference format')
  assert.ok(performance.now() - start < 50)
  // Adversarial but under the cap: still fast.
  for (const s of ['a' + '-'.repeat(4000) + '!', `${'a.'.repeat(2000)}/x!`, 'a/' + '_a'.repeat(2000) + '/']) {
    const t0 = performance.now()
    reasonOf(() => parseImageReference(s), 'adversarial')
    assert.ok(performance.now() - t0 < 200, `slow on ${s.slice(0, 20)}`)
  }
})

test('registryHost maps docker.io to registry-1.docker.io only', () => {
  assert.equal(registryHost('docker.io'), 'registry-1.docker.io')
  assert.equal(registryHost(parseImageReference('nginx').domain), 'registry-1.docker.io')
  assert.equal(registryHost('ghcr.io'), 'ghcr.io')
  assert.equal(registryHost('localhost:5000'), 'localhost:5000')
  assert.equal(registryHost('registry-1.docker.io'), 'registry-1.docker.io')
})

test('image reference fields', () => {
  const r = parseImageReference('nginx:1.27@sha256:' + 'a'.repeat(64))
  assert.equal(r.name, 'docker.io/library/nginx')
  assert.equal(r.familiarName, 'nginx')
  assert.equal(r.tag, '1.27')
  assert.equal(r.familiar, `nginx:1.27@sha256:${'a'.repeat(64)}`)
  const t = withTag(parseImageReference('ghcr.io/org/app'), 'v2')
  assert.equal(t.canonical, 'ghcr.io/org/app:v2')
  assert.equal(t.familiar, 'ghcr.io/org/app:v2')
})

test('Go path.Match semantics', () => {
  const rows: [string, string, boolean | 'bad'][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[^c]', 'abc', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[x\\-]', '-', true],
    ['[', 'a', 'bad'],
    ['[^', 'a', 'bad'],
    ['a[', 'a', 'bad'],
    ['*x', 'xxx', true],
    ['a\\', 'a', 'bad'],
  ]
  for (const [p, s, want] of rows) {
    if (want === 'bad') assert.throws(() => goPathMatch(p, s), /syntax error in pattern/, `${p} ~ ${s}`)
    else assert.equal(goPathMatch(p, s), want, `${p} ~ ${s}`)
  }
})
