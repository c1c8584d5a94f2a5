// kluctl fixed images: file format, -F, matching and precedence against vectors/kluctl.json, the writer.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import {
  FIXED_IMAGE_USAGE,
  type FixedImage,
  type FixedImageRule,
  findFixedImage,
  parseFixedImageArg,
  parseFixedImages,
  readFixedImagesFile,
  renderFixedImages,
  simplifyFixedImages,
  sortFixedImages,
} from '../../src/pins/fixed-images.ts'
import { UserError } from '../../src/util/errors.ts'

const vectors = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/kluctl.json', import.meta.url), 'utf8'),
)

/** The entry's data without where it came from. */
function data(rule: FixedImageRule): Record<string, string> {
  const { origin: _origin, regex: _regex, ...rest } = rule
  return rest as Record<string, string>
}

function rejects(fn: () => unknown, message: RegExp | string): UserError {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`)
    if (typeof message === 'string') assert.equal(error.message, message)
    else assert.match(error.message, message)
    return error
  }
  assert.fail('expected an error')
}

describe('kluctl conformance (vectors/kluctl.json)', () => {
  test('fixed_image_arg_parse: every case, with our port rule where kluctl mis-splits', () => {
    for (const c of vectors.fixed_image_arg_parse.cases) {
      const arg: string = c.arg
      if (arg === 'localhost:5000/app=localhost:5000/app:1') {
        // kluctl reads the port as the namespace (image "localhost", namespace "5000/app"). Our rule: a ':'
        // followed by digits and '/' is a registry port, so the image keeps it.
        assert.deepEqual(data(parseFixedImageArg(arg)), {
          image: 'localhost:5000/app',
          resultImage: 'localhost:5000/app:1',
        })
      } else if (arg === '=img:1') {
        // kluctl accepts an empty image (only YAML is validated); an entry that can match nothing is an error here.
        rejects(() => parseFixedImageArg(arg), /^--fixed-image expects .*image must not be empty/)
      } else if (c.error) {
        const error = rejects(() => parseFixedImageArg(arg), new RegExp(`^${escapeRegex(c.error)}`))
        assert.equal(error.exitCode, 2)
      } else {
        assert.deepEqual(data(parseFixedImageArg(arg)), c.entry, arg)
      }
    }
  })

  test('fixed_image_matching_e2e: matching, precedence (-F after vars/files), regex, not found', () => {
    for (const c of vectors.fixed_image_matching_e2e.cases) {
      const rules: FixedImageRule[] = []
      for (const [i, v] of (c.varsImages ?? []).entries()) {
        // Vars entries come before -F in the list, as file entries do.
        const text = `images:\n  - ${Object.entries(v)
          .map(([k, val]) => `${k}: ${JSON.stringify(val)}`)
          .join('\n    ')}\n`
        rules.push(...parseFixedImages(text, `vars${i}.yaml`))
      }
      const args: string[] = c.cliArgs ?? []
      for (let i = 0; i < args.length; i += 2) rules.push(parseFixedImageArg(args[i + 1]!, i / 2 + 1))
      for (const [where, image] of Object.entries(c.getImage as Record<string, string>)) {
        const [d, container] = where.split('/') as [string, string]
        const found = findFixedImage(rules, {
          image,
          namespace: 'default',
          deployment: `Deployment/${d}`,
          container,
        })
        if (c.expectedError) assert.equal(found, undefined, c.test)
        else assert.equal(found?.resultImage, c.expected[where], `${c.test} ${where}`)
      }
    }
  })
})

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
}

describe('-F parsing', () => {
  test('registry ports stay in the image; the tail is namespace, Kind/name, container', () => {
    assert.deepEqual(data(parseFixedImageArg('localhost:5000/app:ns:Deployment/x:c=localhost:5000/app:2')), {
      image: 'localhost:5000/app',
      resultImage: 'localhost:5000/app:2',
      namespace: 'ns',
      deployment: 'Deployment/x',
      container: 'c',
    })
    assert.deepEqual(
      data(
        parseFixedImageArg('127.0.0.1:5000/team/app:shop=127.0.0.1:5000/team/app@sha256:' + 'a'.repeat(64)),
      ),
      {
        image: '127.0.0.1:5000/team/app',
        resultImage: `127.0.0.1:5000/team/app@sha256:${'a'.repeat(64)}`,
        namespace: 'shop',
      },
    )
    assert.deepEqual(data(parseFixedImageArg('[::1]:5000/app::StatefulSet/db=[::1]:5000/app:1')), {
      image: '[::1]:5000/app',
      resultImage: '[::1]:5000/app:1',
      namespace: '',
      deployment: 'StatefulSet/db',
    })
    // A numeric namespace is not a port: no '/' follows it.
    assert.equal(parseFixedImageArg('img:123:Deployment/x=img:1').namespace, '123')
  })

  test('mistakes get one line naming the part', () => {
    rejects(() => parseFixedImageArg('nginx:1.25=nginx:1.26'), /namespace "1\.25" is not a namespace name/)
    rejects(
      () => parseFixedImageArg('img:ns:web=img:1'),
      /deployment expected Kind\/name such as Deployment\/web, got "web"/,
    )
    rejects(() => parseFixedImageArg('img='), /resultImage must not be empty/)
    rejects(() => parseFixedImageArg('Img=img:1'), /image .*must be lowercase/)
  })
})

describe('fixed-images files', () => {
  test('kluctl list-images output (output-only keys) and imageRegex are read; null is the wildcard', () => {
    const rules = parseFixedImages(
      `images:
  - image: registry.gitlab.com/g/app
    resultImage: registry.gitlab.com/g/app:1.4.0
    deployedImage: registry.gitlab.com/g/app:1.4.0
    registryImage: registry.gitlab.com/g/app:1.5.0
    namespace: prod
    object: {group: apps, version: v1, kind: Deployment, name: app, namespace: prod}
    deployment: Deployment/app
    container: app
    versionFilter: semver()
    deployTags: [app]
    deploymentDir: apps/app
  - imageRegex: 'i.*'
    resultImage: i1:x
    namespace:
`,
      'list.yaml',
    )
    assert.deepEqual(data(rules[0]!), {
      image: 'registry.gitlab.com/g/app',
      resultImage: 'registry.gitlab.com/g/app:1.4.0',
      namespace: 'prod',
      deployment: 'Deployment/app',
      container: 'app',
    })
    assert.equal(rules[0]!.origin, 'list.yaml:2 images[0]')
    assert.deepEqual(data(rules[1]!), { imageRegex: 'i.*', resultImage: 'i1:x' })
    assert.equal(rules[1]!.origin, 'list.yaml:13 images[1]')
    assert.deepEqual(parseFixedImages('', 'empty.yaml'), [])
    assert.deepEqual(parseFixedImages('images: []\n', 'empty.yaml'), [])
  })

  test('bad files: file:line: key: problem', () => {
    const cases: Array<[string, string]> = [
      ['images: [\n', 'bad.yaml:2:1: invalid YAML'],
      ['- image: a\n', 'bad.yaml:1: expected a mapping with an images list, got a list'],
      [
        'images:\n  - image: a\n    resultImage: a:1\npins: []\n',
        'bad.yaml:4: pins: unknown key (a fixed-images file has only images)',
      ],
      ['images: {image: a}\n', 'bad.yaml:1: images: expected a list, got a mapping'],
      [
        'images:\n  - image: a\n    resultImage: a:1\n  - image: b\n    resultImage: b:1\n    deploy: Deployment/b\n',
        'bad.yaml:6: images[1].deploy: unknown key (expected image, resultImage, namespace, deployment, container, imageRegex)',
      ],
      [
        'images:\n  - image: a\n    resultImage: 1.5\n',
        'bad.yaml:3: images[0].resultImage: expected a string, got number 1.5 (quote it to make it a string)',
      ],
      [
        'images:\n  - image: a\n    resultImage: a:1\n    deployment: web\n',
        'bad.yaml:4: images[0].deployment: expected Kind/name such as Deployment/web, got "web"',
      ],
      ['images:\n  - resultImage: a:1\n', 'bad.yaml:2: images[0]: image is required'],
      ['images:\n  - image: a\n', 'bad.yaml:2: images[0]: resultImage is required'],
      [
        'images:\n  - image: a:1\n    resultImage: a:2\n',
        'bad.yaml:2: images[0].image: is a repository without tag or digest (the image as get_image receives it): write "a"',
      ],
      [
        'images:\n  - image: a\n    imageRegex: a\n    resultImage: a:1\n',
        'bad.yaml:3: images[0]: has both image and imageRegex; an entry takes exactly one',
      ],
      [
        'images:\n  - image: a\n    resultImage: a:1\n    container: [x]\n',
        'bad.yaml:4: images[0].container: expected a string, got a list',
      ],
      [
        'images:\n  - just-a-string\n',
        'bad.yaml:2: images[0]: expected a mapping with image and resultImage, got the string "just-a-string"',
      ],
    ]
    for (const [text, message] of cases) {
      const error = rejects(() => parseFixedImages(text, 'bad.yaml'), new RegExp(`^${escapeRegex(message)}`))
      assert.equal(error.message.includes('\n'), false)
    }
  })
})

describe('writer', () => {
  const entries: FixedImage[] = [
    {
      image: 'registry.local/team/api',
      resultImage: 'registry.local/team/api:2',
      namespace: 'shop',
      deployment: 'Deployment/web',
      container: 'migrate',
    },
    {
      image: 'nginx',
      resultImage: 'nginx:1.27.3@sha256:' + 'b'.repeat(64),
      namespace: 'shop',
      deployment: 'Deployment/web',
      container: 'web',
    },
    {
      image: 'registry.local/team/api',
      resultImage: 'registry.local/team/api:1',
      namespace: 'shop',
      deployment: 'Deployment/api',
      container: 'api',
    },
    { image: 'nginx', resultImage: 'nginx:1.25' },
    {
      image: 'localhost:5000/app',
      resultImage: 'localhost:5000/app:1',
      deployment: 'Pod/debug',
      container: 'x',
    },
  ]

  test('yaml like kluctl (images list, 2-space indent, struct key order), sorted, absent keys first', () => {
    assert.equal(
      renderFixedImages(entries, 'yaml'),
      `images:
  - image: localhost:5000/app
    resultImage: localhost:5000/app:1
    deployment: Pod/debug
    container: x
  - image: nginx
    resultImage: nginx:1.25
  - image: nginx
    resultImage: nginx:1.27.3@sha256:${'b'.repeat(64)}
    namespace: shop
    deployment: Deployment/web
    container: web
  - image: registry.local/team/api
    resultImage: registry.local/team/api:1
    namespace: shop
    deployment: Deployment/api
    container: api
  - image: registry.local/team/api
    resultImage: registry.local/team/api:2
    namespace: shop
    deployment: Deployment/web
    container: migrate
`,
    )
    assert.equal(renderFixedImages([], 'yaml'), 'images: []\n')
  })

  test("tags a YAML 1.1 reader (kluctl's go-yaml) would take for booleans or dates are quoted", () => {
    const odd = ['on', 'yes', 'no', 'y', '2024-01-05', '1_000', '12:30'].map((tag) => ({
      image: 'r.io/app',
      resultImage: `r.io/app:${tag}`,
      container: tag,
    }))
    const yaml = renderFixedImages(odd, 'yaml')
    for (const tag of ['on', 'yes', 'no', 'y', '2024-01-05', '1_000', '12:30'])
      assert.match(yaml, new RegExp(`container: "${tag}"\n`), tag)
  })

  test('round trip: what is written reads back as the same data, in yaml and json', () => {
    for (const format of ['yaml', 'json'] as const) {
      const back = parseFixedImages(renderFixedImages(entries, format), `pins.${format}`).map(data)
      assert.deepEqual(back, sortFixedImages(entries))
    }
    // The empty string is a value, not a wildcard: it survives.
    const empty: FixedImage[] = [{ image: 'a', resultImage: 'a:1', namespace: '' }]
    assert.deepEqual(parseFixedImages(renderFixedImages(empty, 'yaml'), 'x.yaml').map(data), empty)
  })

  test('sorting keeps the most specific entry last, so kluctl (last match wins) picks it', () => {
    const sorted = sortFixedImages(entries)
    const rules = parseFixedImages(renderFixedImages(sorted, 'yaml'), 'pins.yaml')
    const use = { image: 'nginx', namespace: 'shop', deployment: 'Deployment/web', container: 'web' }
    assert.equal(findFixedImage(rules, use)?.resultImage, `nginx:1.27.3@sha256:${'b'.repeat(64)}`)
    assert.equal(findFixedImage(rules, { ...use, container: 'other' })?.resultImage, 'nginx:1.25')
  })

  test('--simple: one entry per image, duplicates once; a conflict keeps the most used, then the newest', () => {
    const { entries: simple, conflicts } = simplifyFixedImages([
      { image: 'a', resultImage: 'a:1.9', namespace: 'x' },
      { image: 'a', resultImage: 'a:1.10', namespace: 'y' },
      { image: 'b', resultImage: 'b:1', namespace: 'x' },
      { image: 'b', resultImage: 'b:1', namespace: 'y' },
      { image: 'c', resultImage: 'c:2', namespace: 'x' },
      { image: 'c', resultImage: 'c:3', namespace: 'y' },
      { image: 'c', resultImage: 'c:2', namespace: 'z' },
    ])
    assert.deepEqual(simple, [
      { image: 'a', resultImage: 'a:1.10' },
      { image: 'b', resultImage: 'b:1' },
      { image: 'c', resultImage: 'c:2' },
    ])
    assert.deepEqual(
      conflicts.map((c) => [c.image, c.chosen, c.results.length]),
      [
        ['a', 'a:1.10', 2],
        ['c', 'c:2', 2],
      ],
    )
  })
})

test('the usage text is kluctl’s', () => {
  assert.equal(
    FIXED_IMAGE_USAGE,
    vectors.fixed_image_arg_parse.cases.find((c: { error?: string }) => c.error).error,
  )
})

test('a missing fixed-images file is named in quotes, even an empty path', async () => {
  for (const path of ['', '/no/such/pins.yaml'])
    await assert.rejects(readFixedImagesFile(path), {
      name: 'UserError',
      message: `fixed-images file ${JSON.stringify(path)} not found`,
    })
})
