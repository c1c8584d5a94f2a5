// Every group of shared/reference/vectors/gardener.json against src/vector: the cases transcribed from
// Gardener's own tests, and the derived ones (the real-vector cases run against examples/vector/images.yaml,
// written with the same entries for the names they use, since the real file is not in the vectors).
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { stringify } from 'yaml'
import {
  constraintOf,
  explainFind,
  findImage,
  findImages,
  versionMeetsConstraint,
} from '../../src/vector/find.ts'
import { imageMapToValues, imageString, toImage, withOptionalTag } from '../../src/vector/image.ts'
import { withEnvOverride } from '../../src/vector/load.ts'
import { mergeCABundle, mergeImageVectors } from '../../src/vector/merge.ts'
import {
  readComponentOverwrite,
  readImageVector,
  VectorReadError,
  validateComponentImageVectors,
} from '../../src/vector/read.ts'
import type { FieldIssue, Image, ImageSource, VectorEntry } from '../../src/vector/types.ts'
import { renderFieldIssue, validateCABundle, validateImageVector } from '../../src/vector/validate.ts'

const gardener = JSON.parse(
  readFileSync(new URL('../../../shared/reference/vectors/gardener.json', import.meta.url), 'utf8'),
)
const entries = gardener.entries as Record<string, ImageSource>
const fixture = (name: string) => readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8')
const VALID_CA = fixture('ca-valid.pem')
const EXPIRED_CA = fixture('ca-expired.pem')
const REAL_VECTOR_PATH = new URL('../../examples/vector/images.yaml', import.meta.url)
const realVector = () => readImageVector(readFileSync(REAL_VECTOR_PATH, 'utf8'), 'images.yaml').images

/** A fresh copy of the named entries. */
const vectorOf = (names: readonly string[]): ImageSource[] => names.map((n) => structuredClone(entries[n]!))

/** The Gardener fields only (no metadata, no origins). */
function core(e: VectorEntry): ImageSource {
  const out: ImageSource = { name: e.name }
  for (const key of [
    'ref',
    'repository',
    'tag',
    'version',
    'runtimeVersion',
    'targetVersion',
    'architectures',
  ] as const) {
    if (e[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = e[key]
  }
  return out
}

const findOpts = (opts: Record<string, string>) => ({
  ...(opts.runtimeVersion ? { runtimeVersion: opts.runtimeVersion } : {}),
  ...(opts.targetVersion ? { targetVersion: opts.targetVersion } : {}),
  ...(opts.architecture ? { architecture: opts.architecture } : {}),
})

interface FindCase {
  test: string
  vector: string[]
  find: string
  opts: Record<string, string>
  expect: {
    error?: boolean
    message_from_code?: string
    image?: string
    tag?: string
    upstream_expected_source?: string
    code_picks?: string
  }
}

describe('find_image (all 52 rows of the FindImage table)', () => {
  const cases = gardener.find_image.cases as FindCase[]
  test('there are 52 rows', () => assert.equal(cases.length, 52))
  for (const c of cases) {
    test(c.test, () => {
      const vector = vectorOf(c.vector)
      if (c.expect.error) {
        assert.throws(
          () => findImage(vector, c.find, findOpts(c.opts)),
          (error: Error) => error.message === c.expect.message_from_code,
        )
        return
      }
      const found = explainFind(vector, c.find, findOpts(c.opts))
      assert.equal(imageString(found.image), c.expect.image)
      assert.equal(found.image.tag, c.expect.tag)
      const picks = c.expect.code_picks ?? c.expect.upstream_expected_source
      if (picks) assert.equal(c.vector[found.index], picks)
    })
  }
})

describe('find_images', () => {
  for (const c of gardener.find_images.cases as Array<{
    test: string
    vector: string[]
    names: string[]
    opts: Record<string, string>
    expect: Record<string, string> & { error?: boolean }
  }>) {
    test(c.test, () => {
      const vector = vectorOf(c.vector)
      if (c.expect.error) {
        assert.throws(() => findImages(vector, c.names, findOpts(c.opts)), /could not find image "image3"/)
        return
      }
      assert.deepEqual(imageMapToValues(findImages(vector, c.names, findOpts(c.opts))), c.expect)
    })
  }
})

describe('to_image', () => {
  for (const c of gardener.to_image.cases as Array<{
    test: string
    source: ImageSource
    targetVersion: string
    expect: Record<string, string | null>
  }>) {
    test(c.test, () => {
      const image = toImage(c.source, c.targetVersion)
      const { string, ...fields } = c.expect
      for (const [key, value] of Object.entries(fields))
        assert.equal(image[key as keyof Image], value ?? undefined, key)
      assert.equal(imageString(image), string)
    })
  }
  test('raw target version: leading v trimmed, suffix kept (gardener.md §2.4)', () => {
    assert.equal(toImage({ name: 'a', repository: 'r' }, 'v1.33.4').tag, 'v1.33.4')
    assert.equal(toImage({ name: 'a', repository: 'r' }, '1.35.0-rc.1').tag, 'v1.35.0-rc.1')
    assert.equal(toImage({ name: 'a', repository: 'r' }, '1.30').tag, 'v1.30')
    assert.equal(toImage({ name: 'a', repository: 'r' }).tag, undefined)
  })
})

describe('image_string', () => {
  for (const c of gardener.image_string.cases as Array<{ image: Image; expect: string }>) {
    test(c.expect, () => assert.equal(imageString(c.image), c.expect))
  }
  test('only sha256: switches to @; a tag with a digest keeps :', () => {
    assert.equal(imageString({ repository: 'r', tag: 'sha512:abc' }), 'r:sha512:abc')
    assert.equal(imageString({ repository: 'r', tag: 'v1@sha256:abc' }), 'r:v1@sha256:abc')
    assert.equal(imageString({ tag: 'v1' }), '')
  })
})

describe('with_optional_tag', () => {
  for (const [i, c] of (
    gardener.with_optional_tag.cases as Array<{
      image: Image
      optionalTag: string
      expect: Record<string, string | null>
    }>
  ).entries()) {
    test(`case ${i}`, () => {
      const image = withOptionalTag({ ...c.image, name: 'x' }, c.optionalTag)
      for (const [key, value] of Object.entries(c.expect))
        assert.equal(image[key as keyof Image], value ?? undefined, key)
    })
  }
})

test('image_map_to_values', () => {
  const { input, expect } = gardener.image_map_to_values
  assert.deepEqual(imageMapToValues(input), expect)
})

describe('read', () => {
  for (const [i, c] of (
    gardener.read.cases as Array<{
      format: string
      input: string
      expect: { images?: string[]; caBundle?: null; 'caBundle.inline'?: string }
    }>
  ).entries()) {
    test(`${c.format} #${i}`, () => {
      const input = c.input.replace('<a freshly generated CA PEM>', JSON.stringify(VALID_CA).slice(1, -1))
      const file = readImageVector(input, `case-${i}.${c.format}`)
      if (c.expect.images) assert.deepEqual(file.images.map(core), vectorOf(c.expect.images))
      if (c.expect.caBundle === null) assert.equal(file.caBundle, undefined)
      if (c.expect['caBundle.inline']) assert.equal(file.caBundle?.inline, VALID_CA)
    })
  }
  test('an invalid or expired CA fails the read, as Gardener validates it on Read', () => {
    const doc = (pem: string) => JSON.stringify({ images: [], caBundle: { inline: pem } })
    assert.throws(() => readImageVector(doc(EXPIRED_CA), 'x.json'), /certificate has expired/)
    assert.throws(() => readImageVector(doc('nope'), 'x.json'), /not a valid PEM-encoded certificate/)
    // pem.Decode reads the first block: a key before the certificate is refused, as Gardener refuses it.
    const key = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n'
    assert.throws(() => readImageVector(doc(key + VALID_CA), 'x.json'), /not a valid PEM-encoded certificate/)
    assert.doesNotThrow(() => readImageVector(doc(`${VALID_CA}\n${key}`), 'x.json'))
  })
})

describe('merge (MergeImageVectors)', () => {
  for (const c of gardener.merge.cases as Array<{
    test: string
    base: string[]
    overwrite: string[]
    expect: string[]
  }>) {
    test(c.test, () => {
      const merged = mergeImageVectors<VectorEntry>(vectorOf(c.base), vectorOf(c.overwrite))
      assert.deepEqual(merged.map(core), vectorOf(c.expect))
    })
  }
})

describe('with_env_override', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-images-vector-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  for (const c of gardener.with_env_override.cases as Array<{
    test: string
    base: string[]
    env: Record<string, string>
    expect: string[]
  }>) {
    test(c.test, () => {
      const env: NodeJS.ProcessEnv = {}
      for (const [key, value] of Object.entries(c.env)) {
        const match = /\[(.*)\]/.exec(value)
        const path = join(dir, `${key}.json`)
        writeFileSync(path, JSON.stringify({ images: vectorOf(match![1]!.split(/,\s*/)) }))
        env[key] = path
      }
      const { vector } = withEnvOverride(vectorOf(c.base), undefined, 'IMAGEVECTOR_OVERWRITE', env)
      assert.deepEqual(vector.map(core), vectorOf(c.expect))
    })
  }
})

describe('merge_ca_bundle', () => {
  for (const [i, c] of (
    gardener.merge_ca_bundle.cases as Array<{
      base: { inline: string } | null
      override: { inline: string } | null
      expect: { inline: string } | null
    }>
  ).entries()) {
    test(`case ${i}`, () =>
      assert.deepEqual(mergeCABundle(c.base ?? undefined, c.override ?? undefined), c.expect ?? undefined))
  }
})

interface ExpectedIssue {
  type: string
  field: string
  detail?: string
  detail_contains?: string
  message_from_code?: string
}

function assertIssues(actual: FieldIssue[], expected: ExpectedIssue[]) {
  assert.deepEqual(
    actual.map((i) => [i.type, i.field]),
    expected.map((e) => [e.type, e.field]),
  )
  expected.forEach((e, k) => {
    const issue = actual[k]!
    if (e.detail !== undefined) assert.equal(issue.detail, e.detail)
    if (e.detail_contains !== undefined) assert.ok(issue.detail.includes(e.detail_contains), issue.detail)
    if (e.message_from_code !== undefined) assert.equal(renderFieldIssue(issue), e.message_from_code)
  })
}

describe('validate_image_vector', () => {
  for (const c of gardener.validate_image_vector.cases as Array<{
    test: string
    entry: ImageSource
    expect: ExpectedIssue[]
  }>) {
    test(c.test, () => assertIssues(validateImageVector([c.entry]), c.expect))
    test(`${c.test}, through Read (with lines)`, () => {
      const text = stringify({ images: [c.entry] })
      if (c.expect.length === 0) {
        readImageVector(text, 'v.yaml')
        return
      }
      try {
        readImageVector(text, 'v.yaml')
        assert.fail('expected a VectorReadError')
      } catch (error) {
        assert.ok(error instanceof VectorReadError)
        assertIssues(error.issues, c.expect)
        for (const issue of error.issues) assert.equal(typeof issue.line, 'number')
      }
    })
  }
})

describe('validate_component_image_vectors', () => {
  for (const c of gardener.validate_component_image_vectors.cases as Array<{
    test: string
    components: Record<string, { images: ImageSource[] }>
    expect: ExpectedIssue[]
  }>) {
    test(c.test, () => {
      const strings = Object.fromEntries(Object.entries(c.components).map(([k, v]) => [k, stringify(v)]))
      const issues = validateComponentImageVectors(strings)
      assertIssues(issues, c.expect)
      if (c.expect.length > 0) {
        // The Invalid detail is Read's aggregated error, as Gardener renders it.
        assert.equal(
          issues[1]!.detail,
          '[images[0].name: Required value: image name is required, images[0].ref/repository: Required value: either image ref or repository+tag is required]',
        )
      }
    })
  }
})

describe('validate_ca_bundle', () => {
  const pems: Record<string, string> = {
    '<valid CA PEM>': VALID_CA,
    '<CA PEM that expired a week ago>': EXPIRED_CA,
  }
  for (const [i, c] of (
    gardener.validate_ca_bundle.cases as Array<{
      caBundle: { inline: string | null } | null
      expect: ExpectedIssue[]
    }>
  ).entries()) {
    test(`case ${i}`, () => {
      const bundle =
        c.caBundle === null
          ? undefined
          : c.caBundle.inline === null
            ? {}
            : { inline: pems[c.caBundle.inline] ?? c.caBundle.inline }
      assertIssues(validateCABundle(bundle), c.expect)
    })
  }
})

describe('read_component_overwrite', () => {
  for (const c of gardener.read_component_overwrite.cases as Array<{
    format: string
    input: string
    expect: Record<string, string>
  }>) {
    test(c.format, () => {
      const read = readComponentOverwrite(c.input, 'components.yaml')
      assert.deepEqual(
        Object.fromEntries([...read.components].map(([name, component]) => [name, component.text])),
        c.expect,
      )
    })
  }
})

describe('derived: merge_with_real_vector (base: examples/vector/images.yaml)', () => {
  for (const c of gardener.derived_not_from_tests.merge_with_real_vector as Array<{
    test: string
    base: string | ImageSource[]
    overwrite: ImageSource[]
    find?: string
    opts?: Record<string, string>
    expect?: { image: string }
    results?: Array<{ opts: Record<string, string>; expect: { image: string } }>
    merged_length?: number
    expect_merged?: ImageSource[]
    expect_image?: { string: string; version: string }
  }>) {
    test(c.test, () => {
      const base: VectorEntry[] = typeof c.base === 'string' ? realVector() : structuredClone(c.base)
      if (typeof c.base === 'string') assert.equal(base.length, 81)
      const merged = mergeImageVectors<VectorEntry>(base, structuredClone(c.overwrite))
      if (c.merged_length !== undefined) assert.equal(merged.length, c.merged_length)
      if (c.find && c.expect)
        assert.equal(imageString(findImage(merged, c.find, findOpts(c.opts ?? {}))), c.expect.image)
      for (const r of c.results ?? [])
        assert.equal(
          imageString(findImage(merged, c.overwrite[0]!.name, findOpts(r.opts))),
          r.expect.image,
          JSON.stringify(r.opts),
        )
      if (c.expect_merged) assert.deepEqual(merged.map(core), c.expect_merged)
      if (c.expect_image) {
        const image = findImage(merged, c.expect_merged![0]!.name)
        assert.equal(imageString(image), c.expect_image.string)
        assert.equal(image.version, c.expect_image.version)
      }
    })
  }
})

describe('derived: masterminds_constraint_checks (through Gardener normalisation)', () => {
  for (const c of gardener.derived_not_from_tests.masterminds_constraint_checks.cases as Array<{
    constraint: string
    version: string
    matches: boolean
  }>) {
    test(`${JSON.stringify(c.constraint)} ${c.version}`, () =>
      assert.equal(versionMeetsConstraint(c.version, c.constraint), c.matches))
  }
})

describe('derived: masterminds_constraint_validity', () => {
  for (const c of gardener.derived_not_from_tests.masterminds_constraint_validity as Array<{
    constraint: string
    valid: boolean
  }>) {
    test(JSON.stringify(c.constraint), () => {
      if (c.valid) constraintOf(c.constraint)
      else assert.throws(() => constraintOf(c.constraint), /^Error: improper constraint: /)
    })
  }
})

test('derived: architectures_empty_list', () => {
  const c = gardener.derived_not_from_tests.architectures_empty_list
  assert.throws(
    () => findImage([c.entry], c.find, findOpts(c.opts)),
    (error: Error) => error.message === c.expect.error,
  )
})
