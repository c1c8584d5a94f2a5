// kluctl's fixed images (shared/reference/kluctl.md §2): the file format, `-F` arguments, matching and
// precedence, and the writer. We write only the keys both kluctl eras accept (image, resultImage, namespace,
// deployment, container) and omit a key we do not know, because in kluctl a missing key is the wildcard and
// `""` matches only an empty value.
import { readFile } from 'node:fs/promises'
import { isMap, isScalar, isSeq, type Node, stringify, type YAMLMap } from 'yaml'
import { compileGoRegex } from '../policy/goregex.ts'
import { compareLoose } from '../policy/looseversion.ts'
import { InvalidReferenceError, parseImageReference } from '../reference/index.ts'
import { ExitCode, UserError } from '../util/errors.ts'
import { describeNode, YamlFile } from '../util/yaml-file.ts'

/** One fixed image as written: `image` (a repository as get_image receives it) pinned to `resultImage`. */
export interface FixedImage {
  image: string
  resultImage: string
  namespace?: string
  /** `Kind/name`, e.g. `Deployment/web` (no group, case-sensitive). */
  deployment?: string
  container?: string
}

/** A fixed image as read from a file or `-F`, with kluctl's `imageRegex` and where it came from. */
export interface FixedImageRule {
  /** Exactly one of image and imageRegex. */
  image?: string
  /** kluctl ≥ 2.21: an unanchored RE2 regex on the image. */
  imageRegex?: string
  resultImage: string
  namespace?: string
  deployment?: string
  container?: string
  /** How messages name it: `pins.yaml:12 images[3]` or `-F #2 (app=app:1.2)`. */
  origin: string
  /** The compiled imageRegex. */
  regex?: RegExp
}

/** What one container asks for, in kluctl's terms: getFixedImage(image, namespace, "Kind/name", container). */
export interface ImageUse {
  /** The repository as written in the spec, without tag or digest. */
  image: string
  /** '' for manifests that name no namespace (kluctl reads the object's metadata.namespace). */
  namespace: string
  deployment: string
  container: string
}

const KEYS = ['image', 'resultImage', 'namespace', 'deployment', 'container'] as const
/** kluctl ≥ 2.21 matches with imageRegex instead of image. */
const REGEX_KEY = 'imageRegex'
/** Keys kluctl's list-images writes for information only; accepted (a list-images file feeds straight back) and ignored. */
const OUTPUT_ONLY_KEYS = [
  'deployedImage',
  'registryImage',
  'object',
  'versionFilter',
  'deployTags',
  'deploymentDir',
  'kustomizeDir',
] as const
const ENTRY_KEYS: readonly string[] = [...KEYS, REGEX_KEY, ...OUTPUT_ONLY_KEYS]

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const KIND_NAME = /^[A-Za-z][A-Za-z0-9]*\/[^/\s]+$/

// --- validation shared by files and -F ---

/** Why a value cannot be a fixed image's field, or undefined when it is fine. */
function problem(key: (typeof KEYS)[number], value: string): string | undefined {
  switch (key) {
    case 'image': {
      if (value === '') return 'must not be empty'
      let ref: ReturnType<typeof parseImageReference>
      try {
        ref = parseImageReference(value)
      } catch (error) {
        return error instanceof InvalidReferenceError ? error.message : String(error)
      }
      if (ref.tag !== undefined || ref.digest !== undefined) {
        const at =
          value.length - (ref.digest ? ref.digest.length + 1 : 0) - (ref.tag ? ref.tag.length + 1 : 0)
        return `is a repository without tag or digest (the image as get_image receives it): write ${JSON.stringify(value.slice(0, at))}`
      }
      return undefined
    }
    case 'resultImage': {
      if (value === '') return 'must not be empty'
      try {
        parseImageReference(value)
      } catch (error) {
        return error instanceof InvalidReferenceError ? error.message : String(error)
      }
      return undefined
    }
    case 'namespace':
      // "" is kluctl's "objects without a namespace"; anything else must be a namespace name.
      return value === '' || DNS_LABEL.test(value)
        ? undefined
        : `${JSON.stringify(value)} is not a namespace name`
    case 'deployment':
      return value === '' || KIND_NAME.test(value)
        ? undefined
        : `expected Kind/name such as Deployment/web, got ${JSON.stringify(value)}`
    case 'container':
      return value === '' || DNS_LABEL.test(value)
        ? undefined
        : `${JSON.stringify(value)} is not a container name`
  }
}

// --- files ---

/** A version-like value YAML read as a number is the usual mistake here: say how to make it a string. */
const describe = (node: Node | null) => describeNode(node, { quoteHint: true })

/**
 * Parses a fixed-images file (`images:` list, as kluctl's --fixed-images-file and list-images). `file` is how
 * messages name it. Throws UserError `file:line: images[3].deployment: problem`.
 */
export function parseFixedImages(text: string, file: string): FixedImageRule[] {
  const yaml = YamlFile.parse(text, file)
  const doc = yaml.doc
  const fail = (node: Node | null | undefined, path: string, message: string): UserError =>
    yaml.fail(node, path, message)
  const deref = (node: unknown): Node | null => yaml.deref(node)
  const root = deref(doc.contents)
  if (root === null || (isScalar(root) && root.value === null)) return []
  if (!isMap(root)) throw fail(root, '', `expected a mapping with an images list, got ${describe(root)}`)
  let list: Node | null = null
  let listKey: Node | null = null
  for (const pair of root.items) {
    const key = pair.key as Node
    const name = isScalar(key) ? String(key.value) : undefined
    if (name !== 'images') throw fail(key, name ?? '', 'unknown key (a fixed-images file has only images)')
    listKey = key
    list = deref(pair.value)
  }
  if (list === null || (isScalar(list) && list.value === null)) return []
  if (!isSeq(list)) throw fail(list ?? listKey, 'images', `expected a list, got ${describe(list)}`)

  return list.items.map((raw, index) => {
    const path = `images[${index}]`
    const item = deref(raw)
    if (!isMap(item))
      throw fail(item ?? list, path, `expected a mapping with image and resultImage, got ${describe(item)}`)
    return readEntry(item as YAMLMap, path, `${file}:${yaml.line(item)} ${path}`, { fail, deref })
  })
}

function readEntry(
  item: YAMLMap,
  path: string,
  origin: string,
  c: {
    fail: (node: Node | null | undefined, path: string, message: string) => UserError
    deref: (node: unknown) => Node | null
  },
): FixedImageRule {
  const values = new Map<string, { key: Node; value: Node | null }>()
  for (const pair of item.items) {
    const key = pair.key as Node
    const name = isScalar(key) && typeof key.value === 'string' ? key.value : undefined
    if (name === undefined) throw c.fail(key, path, 'keys must be plain strings')
    if (!ENTRY_KEYS.includes(name)) {
      throw c.fail(key, `${path}.${name}`, `unknown key (expected ${[...KEYS, REGEX_KEY].join(', ')})`)
    }
    values.set(name, { key, value: c.deref(pair.value) })
  }
  const text = (name: string): string | undefined => {
    const entry = values.get(name)
    // `key:` with no value is Go's nil pointer: the same as leaving the key out.
    if (entry === undefined || (isScalar(entry.value) && entry.value.value === null)) return undefined
    const { key, value } = entry
    if (isScalar(value) && typeof value.value === 'string') return value.value
    throw c.fail(value ?? key, `${path}.${name}`, `expected a string, got ${describe(value)}`)
  }
  const rule: Partial<FixedImageRule> = { origin }
  for (const name of KEYS) {
    const value = text(name)
    if (value === undefined) continue
    const why = problem(name, value)
    if (why) throw c.fail(values.get(name)!.value, `${path}.${name}`, why)
    rule[name] = value
  }
  const regex = text(REGEX_KEY)
  if (regex !== undefined) {
    if (rule.image !== undefined) {
      throw c.fail(
        values.get(REGEX_KEY)!.key,
        path,
        'has both image and imageRegex; an entry takes exactly one',
      )
    }
    try {
      if (regex === '') throw new Error('must not be empty')
      rule.regex = compileGoRegex(regex)
    } catch (error) {
      throw c.fail(values.get(REGEX_KEY)!.value, `${path}.${REGEX_KEY}`, (error as Error).message)
    }
    rule.imageRegex = regex
  }
  if (rule.image === undefined && rule.imageRegex === undefined) throw c.fail(item, path, 'image is required')
  if (rule.resultImage === undefined) throw c.fail(item, path, 'resultImage is required')
  return rule as FixedImageRule
}

/** Reads a --fixed-images-file. A missing file is a usage error, as in kluctl. */
export async function readFixedImagesFile(path: string): Promise<FixedImageRule[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new UserError(`fixed-images file ${JSON.stringify(path)} not found`, { exitCode: ExitCode.usage })
    const reason = code === 'EISDIR' ? 'is a directory' : (error as Error).message
    throw new UserError(`fixed-images file ${path}: ${reason}`, { cause: error })
  }
  return parseFixedImages(text, path)
}

// --- -F image[:namespace[:deployment[:container]]]=result ---

export const FIXED_IMAGE_USAGE = "--fixed-image expects 'image<:namespace:deployment:container>=result'"

/**
 * Where the image ends on the left of `=`: at the first `:` that is not a registry port. A port is a `:` in
 * the first path component followed by digits up to the first `/` (`localhost:5000/app`, `[::1]:5000/app`).
 * Nothing after the image can contain such a `/`: a namespace never has one, and a deployment is `Kind/name`,
 * whose Kind starts with a letter. kluctl splits on every `:` and reads the port as the namespace.
 */
function imageEnd(left: string): number {
  let from = 0
  if (left.startsWith('[')) {
    const close = left.indexOf(']')
    if (close > 0) from = close + 1
  }
  const colon = left.indexOf(':', from)
  if (colon < 0) return left.length
  const slash = left.indexOf('/')
  if (slash > colon && /^[0-9]+$/.test(left.slice(colon + 1, slash))) {
    const next = left.indexOf(':', slash)
    return next < 0 ? left.length : next
  }
  return colon
}

/** Parses one `-F`. `n` numbers it in messages. Throws UserError (exit code 2). */
export function parseFixedImageArg(arg: string, n = 1): FixedImageRule {
  const fail = (why: string): UserError =>
    new UserError(`${FIXED_IMAGE_USAGE} (got ${JSON.stringify(arg)}: ${why})`, { exitCode: ExitCode.usage })
  const sides = arg.split('=')
  if (sides.length !== 2) throw fail(sides.length < 2 ? 'no =' : 'more than one =')
  const [left, resultImage] = sides as [string, string]
  const end = imageEnd(left)
  const image = left.slice(0, end)
  const rest = end < left.length ? left.slice(end + 1).split(':') : []
  if (rest.length > 3) throw fail('more than image, namespace, deployment and container on the left')
  const [namespace, deployment, container] = rest
  const rule: FixedImageRule = { image, resultImage, origin: `-F #${n} (${arg})` }
  if (namespace !== undefined) rule.namespace = namespace
  if (deployment !== undefined) rule.deployment = deployment
  if (container !== undefined) rule.container = container
  for (const key of KEYS) {
    const value = rule[key]
    if (value === undefined) continue
    const why = problem(key, value)
    if (why) throw fail(`${key} ${why}`)
  }
  return rule
}

// --- matching and precedence ---

/** Whether a rule applies to a container: the image equal (or imageRegex matching), each other key absent or equal. */
export function ruleMatches(rule: FixedImageRule, use: ImageUse): boolean {
  if (rule.image !== undefined ? rule.image !== use.image : !rule.regex?.test(use.image)) return false
  return (
    (rule.namespace === undefined || rule.namespace === use.namespace) &&
    (rule.deployment === undefined || rule.deployment === use.deployment) &&
    (rule.container === undefined || rule.container === use.container)
  )
}

/**
 * kluctl's getFixedImage: the list is scanned from the end and the first match wins. Build the list as
 * kluctl does, file entries in file order and then the `-F` entries in command-line order, so the last
 * `-F` wins, then later file entries.
 */
export function findFixedImage(rules: readonly FixedImageRule[], use: ImageUse): FixedImageRule | undefined {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!
    if (ruleMatches(rule, use)) return rule
  }
  return undefined
}

// --- output ---

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
/** An absent key sorts first, so a general entry precedes the specific ones it overlaps and kluctl, which takes the last match, picks the most specific. */
const cmpOptional = (a: string | undefined, b: string | undefined): number =>
  a === b ? 0 : a === undefined ? -1 : b === undefined ? 1 : cmp(a, b)

export function compareFixedImages(a: FixedImage, b: FixedImage): number {
  return (
    cmp(a.image, b.image) ||
    cmpOptional(a.namespace, b.namespace) ||
    cmpOptional(a.deployment, b.deployment) ||
    cmpOptional(a.container, b.container) ||
    cmp(a.resultImage, b.resultImage)
  )
}

/** Sorted (stable, by image, namespace, deployment, container) so the file diffs well in git. */
export function sortFixedImages(entries: readonly FixedImage[]): FixedImage[] {
  return [...entries].sort(compareFixedImages)
}

/** Only the keys kluctl accepts, in its struct order; absent keys left out. */
function clean(entry: FixedImage): FixedImage {
  const out: FixedImage = { image: entry.image, resultImage: entry.resultImage }
  if (entry.namespace !== undefined) out.namespace = entry.namespace
  if (entry.deployment !== undefined) out.deployment = entry.deployment
  if (entry.container !== undefined) out.container = entry.container
  return out
}

/** The document `{images: [...]}`: YAML like kluctl's yaml.v3 at indent 2, or the same data as JSON. */
export function renderFixedImages(entries: readonly FixedImage[], format: 'yaml' | 'json'): string {
  const doc = { images: sortFixedImages(entries).map(clean) }
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`
  // YAML 1.1 quoting: kluctl reads YAML with go-yaml, where an unquoted tag `on` or `yes` would be a boolean.
  return stringify(doc, { indent: 2, indentSeq: true, lineWidth: 0, version: '1.1' })
}

export interface SimpleConflict {
  image: string
  chosen: string
  /** Every result with how many entries asked for it, most used first. */
  results: { resultImage: string; count: number }[]
}

/**
 * `--simple`: one `{image, resultImage}` per image. When entries of one image disagree, the result most
 * containers use wins (on a tie, the newest under kluctl's LooseVersion order, then byte order) and the
 * conflict is returned for a warning: kluctl will apply that one result everywhere the image is used.
 */
export function simplifyFixedImages(entries: readonly FixedImage[]): {
  entries: FixedImage[]
  conflicts: SimpleConflict[]
} {
  const byImage = new Map<string, Map<string, number>>()
  for (const entry of entries) {
    const counts = byImage.get(entry.image) ?? new Map<string, number>()
    byImage.set(entry.image, counts)
    counts.set(entry.resultImage, (counts.get(entry.resultImage) ?? 0) + 1)
  }
  const out: FixedImage[] = []
  const conflicts: SimpleConflict[] = []
  for (const [image, counts] of byImage) {
    const results = [...counts]
      .map(([resultImage, count]) => ({ resultImage, count }))
      .sort(
        (a, b) =>
          b.count - a.count ||
          compareLoose(b.resultImage, a.resultImage) ||
          cmp(a.resultImage, b.resultImage),
      )
    const chosen = results[0]!.resultImage
    out.push({ image, resultImage: chosen })
    if (results.length > 1) conflicts.push({ image, chosen, results })
  }
  return { entries: sortFixedImages(out), conflicts }
}
