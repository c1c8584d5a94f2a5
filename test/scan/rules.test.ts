// Rule matching (globs, regexes), the built-in rules, --policy-for parsing and the policy resolution order.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parsePolicy } from '../../src/policy/index.ts'
import { parseImageReference } from '../../src/reference/index.ts'
import { TagExclusions } from '../../src/registry/exclude.ts'
import {
  BUILTIN_RULES,
  builtinRules,
  compileGlob,
  type ImageName,
  imageMatcher,
  imageRegexMatcher,
  makeRule,
  matchRule,
  type PolicyContext,
  parsePolicyFor,
  resolvePolicySource,
} from '../../src/scan/rules.ts'
import { UserError } from '../../src/util/errors.ts'

const ref = (image: string): ImageName => parseImageReference(image)

describe('image globs', () => {
  const matches = (pattern: string, image: string): boolean => imageMatcher(pattern)(ref(image))

  test('* stays within a segment, ** crosses segments', () => {
    assert.ok(matches('quay.io/jetstack/*', 'quay.io/jetstack/cert-manager-controller'))
    assert.ok(!matches('quay.io/jetstack/*', 'quay.io/jetstack/sub/controller'))
    assert.ok(matches('quay.io/jetstack/**', 'quay.io/jetstack/sub/controller'))
    assert.ok(matches('quay.io/**/controller', 'quay.io/a/b/controller'))
    assert.ok(matches('quay.io/**/controller', 'quay.io/controller'), '**/ may stand for no segment')
    assert.ok(!matches('quay.io/*/controller', 'quay.io/a/b/controller'))
    assert.ok(matches('**', 'ghcr.io/a/b'))
    assert.ok(matches('ghcr.io/acme/api-?', 'ghcr.io/acme/api-2'))
    assert.ok(!matches('ghcr.io/acme/api-?', 'ghcr.io/acme/api-22'))
  })

  test('globs match the canonical and the familiar name', () => {
    assert.ok(matches('nginx*', 'nginx'), 'familiar')
    assert.ok(matches('docker.io/library/nginx*', 'nginx'), 'canonical')
    assert.ok(matches('bitnami/*', 'docker.io/bitnami/redis'), 'familiar of a user repository')
    assert.ok(matches('docker.io/*/*', 'nginx'), 'canonical docker.io/library/nginx')
    assert.ok(!matches('docker.io/*', 'nginx'), 'docker.io/nginx is no name of nginx')
    assert.ok(matches('*', 'nginx'))
    assert.ok(!matches('*', 'bitnami/redis'))
    assert.ok(matches('localhost:5000/app/*', 'localhost:5000/app/web'))
    assert.ok(matches('index.docker.io/library/*', 'nginx'), 'index.docker.io is docker.io')
    assert.ok(matches('index.docker.io/bitnami/*', 'bitnami/redis'))
  })

  test('an IPv6 registry with a port, as references allow', () => {
    assert.ok(matches('[::1]:5000/app', '[::1]:5000/app:1.0'))
    assert.ok(matches('[::1]:5000/team/*', '[::1]:5000/team/api'))
    assert.ok(!matches('[::1]:5000/team/*', '[::1]:5001/team/api'))
    assert.throws(() => imageMatcher('[::1]:50x0/app'), /bad registry port "50x0"/)
  })

  test('a pattern without wildcards is a normalised image name', () => {
    for (const pattern of [
      'nginx',
      'library/nginx',
      'docker.io/nginx',
      'docker.io/library/nginx',
      'index.docker.io/nginx',
    ]) {
      assert.ok(matches(pattern, 'nginx:1.25'), pattern)
      assert.ok(!matches(pattern, 'nginx-extra'), pattern)
    }
    assert.ok(matches('ghcr.io/acme/api', 'ghcr.io/acme/api@sha256:' + 'a'.repeat(64)))
  })

  test('escapes and regex characters are literal', () => {
    assert.ok(compileGlob('a.b/c+d').test('a.b/c+d'))
    assert.ok(!compileGlob('a.b').test('axb'))
    assert.ok(compileGlob('a\\*b').test('a*b'))
    assert.ok(!compileGlob('a\\*b').test('axb'))
  })

  test('tags, digests and empty patterns are rejected', () => {
    assert.throws(() => imageMatcher('nginx:1.*'), /not tags: write "nginx"/)
    assert.throws(() => imageMatcher('quay.io/x/*:v1'), /not tags: write "quay\.io\/x\/\*"/)
    assert.throws(() => imageMatcher('localhost:5000/x:1'), /not tags: write "localhost:5000\/x"/)
    assert.throws(() => imageMatcher('host:abc/x'), /bad registry port/)
    assert.throws(() => imageMatcher('x@sha256:00'), /not digests/)
    assert.throws(() => imageMatcher(''), /empty/)
    assert.throws(() => imageMatcher('a b'), /whitespace/)
  })
})

describe('image regexes', () => {
  test('RE2, unanchored, on the canonical and the familiar name', () => {
    const m = imageRegexMatcher('^ghcr\\.io/acme/.*$')
    assert.ok(m(ref('ghcr.io/acme/api')))
    assert.ok(!m(ref('ghcr.io/other/api')))
    assert.ok(imageRegexMatcher('^nginx$')(ref('docker.io/library/nginx')), 'familiar')
    assert.ok(imageRegexMatcher('^docker\\.io/library/')(ref('nginx')), 'canonical')
    assert.ok(imageRegexMatcher('acme')(ref('ghcr.io/acme/api')), 'unanchored')
    assert.ok(imageRegexMatcher('(?i)ACME')(ref('ghcr.io/acme/api')), 'Go flags')
    assert.throws(() => imageRegexMatcher('(?<=a)b'), /RE2 syntax/)
  })
})

describe('matchRule', () => {
  test('first match wins', () => {
    const a = makeRule({ image: 'quay.io/jetstack/*' }, 'a')
    const b = makeRule({ image: 'quay.io/**' }, 'b')
    assert.equal(matchRule([a, b], ref('quay.io/jetstack/x')), a)
    assert.equal(matchRule([b, a], ref('quay.io/jetstack/x')), b)
    assert.equal(matchRule([a, b], ref('quay.io/other/x')), b)
    assert.equal(matchRule([a, b], ref('nginx')), undefined)
  })

  test('makeRule wants exactly one of image and imageRegex', () => {
    assert.throws(() => makeRule({}, 'r'), /exactly one/)
    assert.throws(() => makeRule({ image: 'a', imageRegex: 'a' }, 'r'), /exactly one/)
    assert.throws(() => makeRule({ image: 'a:1' }, 'r'), /^Error: r: image: matches repositories, not tags/)
  })
})

describe('built-in rules', () => {
  const builtin = (image: string) => matchRule(BUILTIN_RULES, ref(image))?.id

  test('each has an id, a reason, and policies and exclusions that compile', () => {
    const ids = new Set<string>()
    for (const rule of BUILTIN_RULES) {
      assert.ok(rule.id && !ids.has(rule.id), `unique id ${rule.id}`)
      ids.add(rule.id)
      assert.equal(rule.label, `builtin rule ${rule.id}`)
      assert.ok(rule.why && rule.why.length > 20, `why for ${rule.id}`)
      if (rule.policy !== undefined) parsePolicy(rule.policy)
      new TagExclusions(rule.exclude)
      assert.equal(rule.skip, false, 'built-ins never skip')
    }
  })

  test('match real repository names', () => {
    assert.equal(builtin('quay.io/jetstack/cert-manager-controller:v1.14.5'), 'cert-manager')
    assert.equal(builtin('quay.io/jetstack/cert-manager-webhook'), 'cert-manager')
    assert.equal(builtin('quay.io/jetstack/cert-manager-cainjector'), 'cert-manager')
    assert.equal(builtin('quay.io/jetstack/trust-manager'), undefined)
    assert.equal(builtin('velero/velero:v1.14.0'), 'velero')
    assert.equal(builtin('docker.io/velero/velero-plugin-for-aws'), 'velero')
    assert.equal(builtin('grafana/grafana:11.1.0'), 'grafana')
    assert.equal(builtin('docker.io/grafana/grafana-oss'), 'grafana')
    assert.equal(builtin('grafana/grafana-enterprise'), 'grafana')
    assert.equal(builtin('grafana/loki'), undefined)
    assert.equal(
      builtin('registry.k8s.io/ingress-nginx/controller:v1.10.1@sha256:' + 'e'.repeat(64)),
      'ingress-nginx',
    )
    assert.equal(builtin('registry.k8s.io/ingress-nginx/controller-chroot'), 'ingress-nginx')
    assert.equal(builtin('k8s.gcr.io/ingress-nginx/controller'), 'ingress-nginx')
    assert.equal(builtin('registry.k8s.io/ingress-nginx/kube-webhook-certgen'), undefined)
    assert.equal(builtin('nginx'), undefined)
  })

  test('exclude non-release tags and keep releases and variants', () => {
    const apply = (id: string, tags: string[]) =>
      new TagExclusions(BUILTIN_RULES.find((r) => r.id === id)!.exclude, { defaults: false }).apply(tags)
    assert.deepEqual(
      apply('cert-manager', ['v1.14.5', 'v1.14.5-amd64', 'v1.14.5-arm64', 'v1.14.5-s390x', 'v1.14.5-arm']),
      ['v1.14.5'],
    )
    assert.deepEqual(
      apply('velero', [
        'main',
        'latest',
        'release-1.14-dev',
        'v1.14.0',
        'v1.14.0-rc.2',
        'v1.13.0-beta.1',
        'v1.15.0-rc1',
      ]),
      ['latest', 'v1.14.0'],
    )
    assert.deepEqual(
      apply('grafana', [
        '11.1.0',
        '11.1.0-ubuntu',
        '11.3.0-security-01',
        '11.3.0-security-01-ubuntu',
        'main',
        'main-ubuntu',
        'master',
        'nightly',
        '10.3.0-149869pre',
        '10.3.0-149869pre-ubuntu',
      ]),
      ['11.1.0', '11.1.0-ubuntu', '11.3.0-security-01', '11.3.0-security-01-ubuntu'],
    )
    assert.deepEqual(apply('ingress-nginx', ['v1.10.1', 'v1.0.0-beta.3', 'v1.2.0-alpha.1', 'v1.11.0']), [
      'v1.10.1',
      'v1.11.0',
    ])
  })

  test('builtinRules() disables by id or all', () => {
    assert.equal(builtinRules(), BUILTIN_RULES)
    assert.deepEqual(
      builtinRules(['grafana', 'velero']).map((r) => r.id),
      ['cert-manager', 'ingress-nginx'],
    )
    assert.deepEqual(builtinRules(['*']), [])
  })
})

describe('parsePolicyFor', () => {
  const usage = (value: string, message: RegExp) =>
    assert.throws(
      () => parsePolicyFor(value),
      (error) => {
        assert.ok(error instanceof UserError)
        assert.equal(error.exitCode, 2)
        assert.match(error.message, message)
        return true
      },
    )

  test('splits at the first =, so policies keep theirs', () => {
    const p = parsePolicyFor("ghcr.io/acme/*=prefix('v', suffix=number())")
    assert.equal(p.image, 'ghcr.io/acme/*')
    assert.equal(p.expr, "prefix('v', suffix=number())")
    assert.ok(p.matches(ref('ghcr.io/acme/api')))
    const q = parsePolicyFor(" nginx = semver('~1.25') ")
    assert.deepEqual([q.image, q.expr], ['nginx', "semver('~1.25')"])
    assert.equal(parsePolicyFor('nginx=auto').expr, 'auto')
  })

  test('an exact reference matches its repository, and its tag or digest when given', () => {
    const repo = parsePolicyFor('docker.io/nginx=semver()')
    assert.ok(repo.matches(ref('nginx:1.25')))
    assert.ok(repo.matches(ref('nginx')))
    assert.ok(!repo.matches(ref('nginx-extra')))
    const tagged = parsePolicyFor('nginx:1.25=semver()')
    assert.ok(tagged.matches(ref('nginx:1.25')))
    assert.ok(!tagged.matches(ref('nginx:1.26')))
    assert.ok(!tagged.matches(ref('nginx')))
    const latest = parsePolicyFor('nginx:latest=semver()')
    assert.ok(latest.matches(ref('nginx')), 'no tag runs latest')
    assert.ok(latest.matches(ref('nginx:latest')))
    assert.ok(!latest.matches(ref(`nginx@sha256:${'b'.repeat(64)}`)), 'a digest alone runs no tag')
    const digest = `sha256:${'a'.repeat(64)}`
    const pinned = parsePolicyFor(`nginx@${digest}=semver()`)
    assert.ok(pinned.matches(ref(`nginx:1.25@${digest}`)))
    assert.ok(!pinned.matches(ref('nginx:1.25')))
  })

  test('bad input is a usage error', () => {
    usage('nginx', /^--policy-for "nginx": expected IMAGE=POLICY/)
    usage('=semver()', /IMAGE is empty/)
    usage('nginx=', /the policy is empty/)
    usage('nginx=semver(', /^--policy-for nginx: invalid policy "semver\(" at column 8: /)
    usage('nginx=foo', /^--policy-for nginx: invalid policy "foo"/)
    usage('Nginx=auto', /^--policy-for Nginx: .*lowercase/)
    usage('nginx:1.*=auto', /^--policy-for nginx:1\.\*: matches repositories, not tags/)
  })
})

describe('resolvePolicySource', () => {
  const image = ref('quay.io/jetstack/cert-manager-controller:v1.14.5')
  const configRules = [
    makeRule({ image: 'ghcr.io/**', skip: true }, 'config rule 1 (ghcr.io/**)'),
    makeRule(
      { image: 'quay.io/jetstack/*', policy: "semver('^1.x')", exclude: ['-rc'] },
      'config rule 2 (quay.io/jetstack/*)',
    ),
  ]
  const builtin = [
    makeRule(
      {
        id: 'cert-manager',
        image: 'quay.io/jetstack/cert-manager-*',
        policy: 'semver()',
        exclude: ['-amd64$'],
        why: 'because',
      },
      'builtin rule cert-manager',
    ),
  ]
  const all: PolicyContext = {
    image,
    container: 'web',
    annotations: {
      'kubectl-images.io/policy.web': "semver('~1.14')",
      'kubectl-images.io/policy': 'number()',
    },
    policyFor: [parsePolicyFor('nginx=alphabetical()'), parsePolicyFor("quay.io/jetstack/*=semver('>=1')")],
    configRules,
    builtinRules: builtin,
    policy: 'semver(allow_no_nums=true)',
  }
  const resolve = (ctx: Partial<PolicyContext>) => resolvePolicySource({ ...all, ...ctx })

  test('1. --policy-for beats everything', () => {
    const r = resolve({})
    assert.deepEqual([r.expr, r.source, r.skip], ["semver('>=1')", 'flag --policy-for', false])
    assert.deepEqual(r.excludes, ['-rc', '-amd64$'], 'excludes from the config rule, then the built-in')
    assert.equal(r.why, 'because')
    assert.equal(r.configRule, configRules[1])
    assert.equal(r.builtinRule, builtin[0])
  })

  test('2. the per-container annotation', () => {
    const r = resolve({ policyFor: [] })
    assert.deepEqual([r.expr, r.source], ["semver('~1.14')", 'annotation kubectl-images.io/policy.web'])
    assert.deepEqual(r.excludes, ['-rc', '-amd64$'])
  })

  test('3. the workload annotation (another container name does not count)', () => {
    const r = resolve({ policyFor: [], container: 'sidecar' })
    assert.deepEqual([r.expr, r.source], ['number()', 'annotation kubectl-images.io/policy'])
  })

  test('4. the config rule', () => {
    const r = resolve({ policyFor: [], annotations: {} })
    assert.deepEqual([r.expr, r.source], ["semver('^1.x')", 'config rule 2 (quay.io/jetstack/*)'])
  })

  test('5. the built-in rule', () => {
    const r = resolve({ policyFor: [], annotations: {}, configRules: [] })
    assert.deepEqual([r.expr, r.source, r.why], ['semver()', 'builtin rule cert-manager', 'because'])
    assert.deepEqual(r.excludes, ['-amd64$'])
    assert.equal(r.configRule, undefined)
  })

  test('6. --policy', () => {
    const r = resolve({ policyFor: [], annotations: {}, configRules: [], builtinRules: [] })
    assert.deepEqual([r.expr, r.source, r.excludes], ['semver(allow_no_nums=true)', 'flag --policy', []])
    assert.equal(r.why, undefined)
  })

  test('7. auto by default', () => {
    const r = resolvePolicySource({ image, container: 'web' })
    assert.deepEqual([r.expr, r.source, r.skip], ['auto', 'default', false])
    // The shipped built-in rules apply when none are passed: their exclusions, no policy.
    assert.equal(r.builtinRule?.id, 'cert-manager')
    assert.deepEqual(r.excludes, BUILTIN_RULES.find((b) => b.id === 'cert-manager')!.exclude)
    assert.equal(resolvePolicySource({ image: ref('nginx'), container: 'web' }).why, undefined)
  })

  test('a config rule or built-in rule without a policy falls through, keeping its excludes', () => {
    const r = resolve({
      policyFor: [],
      annotations: {},
      configRules: [makeRule({ image: 'quay.io/**', exclude: ['x'] }, 'config rule 1 (quay.io/**)')],
      builtinRules: [makeRule({ id: 'b', image: 'quay.io/**', exclude: ['y'] }, 'builtin rule b')],
    })
    assert.deepEqual(
      [r.expr, r.source, r.excludes],
      ['semver(allow_no_nums=true)', 'flag --policy', ['x', 'y']],
    )
  })

  test('skip: config rule, workload and per-container annotations, and what overrides them', () => {
    const ghcr = ref('ghcr.io/acme/api:1.0')
    const base = { image: ghcr, container: 'web', configRules }
    const config = resolvePolicySource(base)
    assert.deepEqual(
      [config.skip, config.expr, config.source, config.excludes],
      [true, '', 'config rule 1 (ghcr.io/**)', []],
    )

    const annotated = resolvePolicySource({
      image,
      container: 'web',
      annotations: { 'kubectl-images.io/skip': 'true' },
    })
    assert.deepEqual([annotated.skip, annotated.source], [true, 'annotation kubectl-images.io/skip'])
    const perContainer = resolvePolicySource({
      image,
      container: 'web',
      annotations: { 'kubectl-images.io/skip.web': 'True', 'kubectl-images.io/policy': 'auto' },
    })
    assert.deepEqual(
      [perContainer.skip, perContainer.source],
      [true, 'annotation kubectl-images.io/skip.web'],
    )

    // Higher levels override a skip below them.
    const flag = resolvePolicySource({ ...base, policyFor: [parsePolicyFor('ghcr.io/acme/api=semver()')] })
    assert.deepEqual([flag.skip, flag.source], [false, 'flag --policy-for'])
    const policy = resolvePolicySource({ ...base, annotations: { 'kubectl-images.io/policy': 'semver()' } })
    assert.deepEqual([policy.skip, policy.source], [false, 'annotation kubectl-images.io/policy'])
    const unskip = resolvePolicySource({ ...base, annotations: { 'kubectl-images.io/skip': 'false' } })
    assert.deepEqual([unskip.skip, unskip.source], [false, 'default'])
    const containerUnskip = resolvePolicySource({
      image,
      container: 'web',
      annotations: { 'kubectl-images.io/skip.web': 'false', 'kubectl-images.io/skip': 'true' },
    })
    assert.equal(containerUnskip.skip, false)
    // A per-container policy beats a workload-wide skip.
    const containerPolicy = resolvePolicySource({
      image,
      container: 'web',
      annotations: { 'kubectl-images.io/policy.web': 'semver()', 'kubectl-images.io/skip': 'true' },
    })
    assert.deepEqual([containerPolicy.skip, containerPolicy.expr], [false, 'semver()'])
  })

  test('a malformed skip annotation is ignored with a warning', () => {
    const r = resolvePolicySource({
      image,
      container: 'web',
      annotations: { 'kubectl-images.io/skip': 'yes' },
    })
    assert.equal(r.skip, false)
    assert.equal(r.warning, 'annotation kubectl-images.io/skip: "yes" is neither "true" nor "false"; ignored')
  })
})
