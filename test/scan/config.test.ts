// The scan config file: default paths, loading, and every validation error with its file:line.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { parseImageReference } from '../../src/reference/index.ts'
import { defaultConfigPath, loadScanConfig, parseScanConfig } from '../../src/scan/config.ts'
import { builtinRules, matchRule } from '../../src/scan/rules.ts'
import { UserError } from '../../src/util/errors.ts'
import { makeTempDir } from '../support/lifecycle.ts'

const HEAD = 'apiVersion: kubectl-images.io/v1alpha1\nkind: Config\n'

let tmp: { path: string; remove(): Promise<void> }
before(async () => {
  tmp = await makeTempDir('scan-config')
})
after(() => tmp.remove())

/** Asserts parseScanConfig fails with exactly `message` (a string) or a message matching it (a RegExp). */
function invalid(text: string, message: string | RegExp): void {
  assert.throws(
    () => parseScanConfig(text, 'cfg.yaml'),
    (error) => {
      assert.ok(error instanceof UserError, String(error))
      assert.equal(error.exitCode, 1)
      assert.ok(!error.message.includes('\n'), `one line: ${error.message}`)
      if (typeof message === 'string') assert.equal(error.message, message)
      else assert.match(error.message, message)
      return true
    },
  )
}

const repo = (image: string) => parseImageReference(image)

describe('default path', () => {
  test('XDG_CONFIG_HOME, else ~/.config; a relative XDG_CONFIG_HOME is ignored', () => {
    assert.equal(defaultConfigPath({ XDG_CONFIG_HOME: '/xdg' }, '/home/u'), '/xdg/kubectl-images/config.yaml')
    assert.equal(defaultConfigPath({}, '/home/u'), '/home/u/.config/kubectl-images/config.yaml')
    assert.equal(
      defaultConfigPath({ XDG_CONFIG_HOME: 'rel' }, '/home/u'),
      '/home/u/.config/kubectl-images/config.yaml',
    )
  })
})

describe('loadScanConfig', () => {
  test('a missing default file is an empty config', async () => {
    const config = await loadScanConfig({ env: {}, homedir: join(tmp.path, 'nohome') })
    assert.deepEqual(config, { path: undefined, rules: [], disableBuiltinRules: [] })
  })

  test('reads the default file under XDG_CONFIG_HOME and names it with ~ in errors', async () => {
    const home = join(tmp.path, 'home')
    const dir = join(home, '.config', 'kubectl-images')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'config.yaml'), `${HEAD}rules:\n  - image: nginx\n    skip: true\n`)
    const config = await loadScanConfig({ env: {}, homedir: home })
    assert.equal(config.path, '~/.config/kubectl-images/config.yaml')
    assert.equal(config.rules.length, 1)
    assert.equal(config.rules[0]!.skip, true)

    await writeFile(join(dir, 'config.yaml'), `${HEAD}rules:\n  - image: nginx\n    skip: "yes"\n`)
    await assert.rejects(loadScanConfig({ env: {}, homedir: home }), {
      name: 'UserError',
      message:
        '~/.config/kubectl-images/config.yaml:5: rules[0].skip: expected true or false, got the string "yes"',
    })

    const xdg = join(tmp.path, 'xdg')
    await mkdir(join(xdg, 'kubectl-images'), { recursive: true })
    await writeFile(join(xdg, 'kubectl-images', 'config.yaml'), `${HEAD}disableBuiltinRules: [grafana]\n`)
    const fromXdg = await loadScanConfig({ env: { XDG_CONFIG_HOME: xdg }, homedir: home })
    assert.deepEqual(fromXdg.disableBuiltinRules, ['grafana'])
  })

  test('a missing --config file is a usage error; a directory is an error', async () => {
    const missing = join(tmp.path, 'missing.yaml')
    await assert.rejects(loadScanConfig({ path: missing }), (error) => {
      assert.ok(error instanceof UserError)
      assert.equal(error.exitCode, 2)
      assert.equal(error.message, `config file ${missing} not found (--config)`)
      return true
    })
    await assert.rejects(loadScanConfig({ path: tmp.path }), {
      name: 'UserError',
      message: `config file ${tmp.path}: is a directory`,
    })
  })

  test('--config expands ~/ and keeps the spelling in messages', async () => {
    const home = join(tmp.path, 'home2')
    await mkdir(home, { recursive: true })
    await writeFile(join(home, 'c.yaml'), `${HEAD}rules: 3\n`)
    await assert.rejects(loadScanConfig({ path: '~/c.yaml', homedir: home }), {
      message: '~/c.yaml:3: rules: expected a list of rules, got number 3',
    })
  })
})

describe('parseScanConfig', () => {
  test('a full file: rules in order, labels, globs, regexes, policies, excludes, skip', () => {
    const config = parseScanConfig(
      `${HEAD}disableBuiltinRules: ['velero']
rules:
  - image: "quay.io/jetstack/*"
    policy: "semver('>=1.0.0')"
    exclude: ['-rc', '^nightly-']
  - imageRegex: '^ghcr\\.io/acme/.*$'
    skip: false
  - image: nginx
    skip: true
`,
      'cfg.yaml',
    )
    assert.equal(config.path, 'cfg.yaml')
    assert.deepEqual(config.disableBuiltinRules, ['velero'])
    assert.deepEqual(
      config.rules.map((r) => r.label),
      ['config rule 1 (quay.io/jetstack/*)', 'config rule 2 (^ghcr\\.io/acme/.*$)', 'config rule 3 (nginx)'],
    )
    const [jetstack, acme, nginx] = config.rules
    assert.equal(jetstack!.policy, "semver('>=1.0.0')")
    assert.deepEqual(jetstack!.exclude, ['-rc', '^nightly-'])
    assert.equal(jetstack!.skip, false)
    assert.equal(acme!.imageRegex, '^ghcr\\.io/acme/.*$')
    assert.equal(nginx!.skip, true)
    assert.equal(matchRule(config.rules, repo('quay.io/jetstack/cert-manager-controller')), jetstack)
    assert.equal(matchRule(config.rules, repo('ghcr.io/acme/api')), acme)
    assert.equal(matchRule(config.rules, repo('docker.io/library/nginx')), nginx)
    assert.equal(matchRule(config.rules, repo('redis')), undefined)
    assert.deepEqual(
      builtinRules(config.disableBuiltinRules).map((r) => r.id),
      ['cert-manager', 'grafana', 'ingress-nginx'],
    )
  })

  test('empty files, comment-only files, and empty lists are empty configs', () => {
    assert.deepEqual(parseScanConfig('', 'c').rules, [])
    assert.deepEqual(parseScanConfig('# nothing yet\n', 'c').rules, [])
    assert.deepEqual(parseScanConfig(`${HEAD}rules:\n  # - image: nginx\n`, 'c').rules, [])
    assert.deepEqual(parseScanConfig(`${HEAD}rules: []\ndisableBuiltinRules:\n`, 'c').rules, [])
  })

  test('anchors and aliases are followed', () => {
    const config = parseScanConfig(
      `${HEAD}rules:\n  - image: a/*\n    exclude: &ex ['-rc']\n  - image: b/*\n    exclude: *ex\n`,
      'c',
    )
    assert.deepEqual(config.rules[1]!.exclude, ['-rc'])
  })

  test('a policy with a column error names the file line of the value', () => {
    invalid(
      `${HEAD}rules:
  - image: "quay.io/jetstack/*"
    policy: "semver('>=1.0.0')"
  - image: nginx
    policy: "semver("
`,
      `cfg.yaml:7: rules[1].policy: invalid policy "semver(" at column 8: expected ')'`,
    )
    invalid(
      `${HEAD}rules:\n  - image: x\n    policy: foo()\n`,
      /^cfg\.yaml:5: rules\[0\]\.policy: invalid policy "foo\(\)" at column 1: unknown policy foo/,
    )
  })

  test('invalid YAML and duplicate keys', () => {
    invalid('a: [', /^cfg\.yaml:1:\d+: invalid YAML: /)
    invalid(
      `${HEAD}rules:\n  - image: a\n    image: b\n`,
      'cfg.yaml:5:5: invalid YAML: Map keys must be unique',
    )
  })

  test('apiVersion and kind', () => {
    invalid('rules: []\n', /^cfg\.yaml:1: apiVersion: required \(kubectl-images\.io\/v1alpha1\)$/)
    invalid(
      'kind: Config\napiVersion: v1\n',
      'cfg.yaml:2: apiVersion: expected kubectl-images.io/v1alpha1, got "v1"',
    )
    invalid('apiVersion: kubectl-images.io/v1alpha1\n', 'cfg.yaml:1: kind: required (Config)')
    invalid(
      'apiVersion: kubectl-images.io/v1alpha1\nkind: Policy\n',
      'cfg.yaml:2: kind: expected Config, got "Policy"',
    )
    invalid('apiVersion: 1\nkind: Config\n', 'cfg.yaml:1: apiVersion: expected a string, got number 1')
    invalid('- a\n', /^cfg\.yaml:1: expected a mapping with apiVersion/)
  })

  test('unknown keys', () => {
    invalid(
      `${HEAD}rule: []\n`,
      'cfg.yaml:3: rule: unknown key (expected one of apiVersion, kind, rules, disableBuiltinRules)',
    )
    invalid(
      `${HEAD}rules:\n  - image: nginx\n    polcy: auto\n`,
      'cfg.yaml:5: rules[0].polcy: unknown key (expected one of image, imageRegex, policy, exclude, skip)',
    )
  })

  test('wrong types', () => {
    invalid(`${HEAD}rules:\n  image: nginx\n`, 'cfg.yaml:4: rules: expected a list of rules, got a mapping')
    invalid(
      `${HEAD}rules:\n  - nginx\n`,
      'cfg.yaml:4: rules[0]: expected a mapping with image or imageRegex, got the string "nginx"',
    )
    invalid(`${HEAD}rules:\n  - image: 42\n`, 'cfg.yaml:4: rules[0].image: expected a string, got number 42')
    invalid(
      `${HEAD}rules:\n  - image: x\n    policy:\n`,
      'cfg.yaml:5: rules[0].policy: expected a string, got nothing',
    )
    invalid(
      `${HEAD}rules:\n  - image: x\n    exclude: '-rc'\n`,
      'cfg.yaml:5: rules[0].exclude: expected a list of strings, got the string "-rc"',
    )
    invalid(
      `${HEAD}rules:\n  - image: x\n    exclude:\n      - ok\n      - 7\n`,
      'cfg.yaml:7: rules[0].exclude[1]: expected a string, got number 7',
    )
    invalid(
      `${HEAD}rules:\n  - image: x\n    skip: 1\n`,
      'cfg.yaml:5: rules[0].skip: expected true or false, got number 1',
    )
    invalid(
      `${HEAD}disableBuiltinRules: grafana\n`,
      'cfg.yaml:3: disableBuiltinRules: expected a list of strings, got the string "grafana"',
    )
  })

  test('both or neither of image and imageRegex', () => {
    invalid(
      `${HEAD}rules:\n  - image: nginx\n    imageRegex: nginx\n`,
      'cfg.yaml:5: rules[0]: has both image and imageRegex; a rule takes exactly one',
    )
    invalid(
      `${HEAD}rules:\n  - image: a\n  - policy: auto\n    skip: true\n`,
      'cfg.yaml:5: rules[1]: needs image (a glob such as "quay.io/jetstack/*") or imageRegex',
    )
  })

  test('bad image patterns and regexes', () => {
    invalid(
      `${HEAD}rules:\n  - image: "nginx:1.25"\n`,
      'cfg.yaml:4: rules[0].image: invalid image pattern "nginx:1.25": matches repositories, not tags: write "nginx"',
    )
    invalid(
      `${HEAD}rules:\n  - image: "nginx@sha256:abc"\n`,
      /^cfg\.yaml:4: rules\[0\]\.image: invalid image pattern .*not digests/,
    )
    invalid(
      `${HEAD}rules:\n  - image: ""\n`,
      'cfg.yaml:4: rules[0].image: invalid image pattern "": must not be empty',
    )
    invalid(
      `${HEAD}rules:\n  - image: "Nginx"\n`,
      /^cfg\.yaml:4: rules\[0\]\.image: invalid image pattern "Nginx": .*lowercase/,
    )
    invalid(
      `${HEAD}rules:\n  - imageRegex: '(?!x)'\n`,
      /^cfg\.yaml:4: rules\[0\]\.imageRegex: error parsing regexp: .*RE2 syntax/,
    )
    invalid(
      `${HEAD}rules:\n  - image: x\n    exclude:\n      - '-rc'\n      - 'a('\n`,
      'cfg.yaml:7: rules[0].exclude[1]: error parsing regexp: missing closing ): `a(`',
    )
  })

  test('unknown built-in rule ids', () => {
    invalid(
      `${HEAD}disableBuiltinRules:\n  - grafana\n  - certmanager\n`,
      'cfg.yaml:5: disableBuiltinRules[1]: unknown built-in rule "certmanager" (known: cert-manager, velero, grafana, ingress-nginx, *)',
    )
    assert.deepEqual(
      builtinRules(parseScanConfig(`${HEAD}disableBuiltinRules: ['*']\n`, 'c').disableBuiltinRules),
      [],
    )
  })
})
