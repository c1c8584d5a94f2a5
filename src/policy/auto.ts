// `auto`: the default policy. It keeps the shape of the running tag (see docs/policies.md).
//
// A tag reads as <prefix><N(.N)*><suffix>: the prefix is everything before the first digit (`v`, `release-`),
// the suffix is split into an optional prerelease (-rc1, -beta.2, -SNAPSHOT, ...) and a variant whose digit
// runs are wildcards (-alpine3.19 has the template -alpine#.#). Candidates have the same prefix, the same
// number of numeric parts and the same variant template; prereleases only when the running tag is one.
import type { VersionedPolicy } from './distance.ts'
import { quoteArg } from './kluctl.ts'
import { compareLoose, rankByKeys } from './looseversion.ts'

const MAX_INT32 = 2147483647

// A whole token of the suffix, with its number (`rc1`, `rc.1`, `beta-2`). preview before pre: longest first.
const PRERELEASE = /(?:^|[-._+])(alpha|beta|rc|preview|pre|dev|snapshot)(?:[-._]?([0-9]+))?(?=$|[-._+])/i
const LABEL_RANK: Record<string, number> = {
  dev: 0,
  snapshot: 0,
  alpha: 1,
  beta: 2,
  pre: 3,
  preview: 3,
  rc: 4,
}

// Sort-key markers: a release sorts above every prerelease of the same numbers.
const PRE = '\u0000'
const RELEASE = '\u0001'

interface Parsed {
  prefix: string
  parts: number
  template: string
  prerelease: boolean
  /** Numbers, then release/prerelease (label, number), then the variant's numbers; fixed width per shape. */
  key: string
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function int32(v: number): string {
  return String.fromCharCode(v >>> 16, v & 0xffff)
}

/**
 * What scanTag() read of the last tag: its key as numbers, the marker (0 prerelease, 1 release) at index
 * `parts`. Shared and overwritten by every call, so reading a list's tags builds nothing per tag.
 */
const scanned = {
  key: new Int32Array(32),
  length: 0,
  prefixEnd: 0,
  parts: 0,
  template: '',
  prerelease: false,
}

function push(v: number): void {
  if (scanned.length === scanned.key.length) {
    const longer = new Int32Array(scanned.key.length * 2)
    longer.set(scanned.key)
    scanned.key = longer
  }
  scanned.key[scanned.length++] = v
}

/** Reads a tag's shape and key into `scanned`; false when it has no digit at all (`latest`, `main`). */
function scanTag(tag: string): boolean {
  const n = tag.length
  let i = 0
  while (i < n && !isDigit(tag.charCodeAt(i))) i++
  if (i === n) return false
  scanned.prefixEnd = i
  scanned.length = 0
  let parts = 0
  for (;;) {
    let v = 0
    while (i < n && isDigit(tag.charCodeAt(i))) v = Math.min(v * 10 + tag.charCodeAt(i++) - 48, MAX_INT32)
    push(v)
    parts++
    if (i + 1 < n && tag.charCodeAt(i) === 46 && isDigit(tag.charCodeAt(i + 1))) i++
    else break
  }
  scanned.parts = parts
  scanned.prerelease = false
  if (i === n) {
    push(1)
    scanned.template = ''
    return true
  }
  let variant = tag.slice(i)
  const m = PRERELEASE.exec(variant)
  if (m !== null) {
    scanned.prerelease = true
    push(0)
    push(LABEL_RANK[m[1]!.toLowerCase()]!)
    push(Math.min(Number(m[2] ?? 0), MAX_INT32))
    variant = variant.slice(0, m.index) + variant.slice(m.index + m[0].length)
  } else push(1)
  // Digits inside the variant are the variant's own version (alpine3.19 → 3.20): wildcards, ordered last.
  let template = ''
  for (let j = 0; j < variant.length; ) {
    if (!isDigit(variant.charCodeAt(j))) {
      template += variant[j++]
      continue
    }
    let v = 0
    while (j < variant.length && isDigit(variant.charCodeAt(j))) {
      v = Math.min(v * 10 + variant.charCodeAt(j++) - 48, MAX_INT32)
    }
    template += '#'
    push(v)
  }
  scanned.template = template
  return true
}

/** The shape and sort key of a tag, or undefined when it has no digit at all (`latest`, `main`). */
export function parseAutoTag(tag: string): Parsed | undefined {
  if (!scanTag(tag)) return undefined
  let key = ''
  for (let k = 0; k < scanned.length; k++) {
    const v = scanned.key[k]!
    key += k === scanned.parts ? (v === 0 ? PRE : RELEASE) : int32(v)
  }
  return {
    prefix: tag.slice(0, scanned.prefixEnd),
    parts: scanned.parts,
    template: scanned.template,
    prerelease: scanned.prerelease,
    key,
  }
}

/** The newest tag of one shape (prefix, count of numbers, variant template) in a list: a release, or any. */
interface ShapeBest {
  releaseKey?: Int32Array
  releaseLength: number
  releaseTag?: string
  anyKey?: Int32Array
  anyLength: number
  anyTag?: string
}

/**
 * scanned.key against another key of its shape, as their strings compare: element by element, then the shorter
 * first (a marker is one element as it is one character, and numbers of one shape line up).
 */
function compareScanned(other: Int32Array, otherLength: number): number {
  const n = Math.min(scanned.length, otherLength)
  for (let k = 0; k < n; k++) {
    const d = scanned.key[k]! - other[k]!
    if (d !== 0) return d
  }
  return scanned.length - otherLength
}

function keep(into: Int32Array | undefined): Int32Array {
  const key = into && into.length >= scanned.length ? into : new Int32Array(scanned.length + 3)
  for (let k = 0; k < scanned.length; k++) key[k] = scanned.key[k]!
  return key
}

/**
 * The newest tag of every shape in a (frozen) list, worked out once: a scan asks one repository's list for the
 * best tag of each running tag's shape. Tags are compared as numbers where they are read: keeping every tag's
 * parsed form (or a key string per tag) was most of what a scan gave the garbage collector.
 */
const bestByShapeOfList = new WeakMap<readonly string[], Map<string, ShapeBest>>()

function shapeKey(prefix: string, parts: number, template: string): string {
  return `${prefix}\u0000${parts}\u0000${template}`
}

function samePrefix(a: string, b: string, length: number): boolean {
  for (let k = 0; k < length; k++) if (a.charCodeAt(k) !== b.charCodeAt(k)) return false
  return true
}

function bestByShape(tags: readonly string[]): Map<string, ShapeBest> {
  let shapes = bestByShapeOfList.get(tags)
  if (shapes) return shapes
  shapes = new Map()
  let lastTag = ''
  let lastPrefixEnd = -1
  let lastParts = -1
  let lastTemplate = ''
  let best: ShapeBest = { releaseLength: 0, anyLength: 0 }
  for (let i = 0; i < tags.length; i++) {
    const tag = tags[i]!
    if (!scanTag(tag)) continue
    // Neighbours in a sorted list mostly share a shape: no key string for them.
    const sameShape =
      scanned.prefixEnd === lastPrefixEnd &&
      scanned.parts === lastParts &&
      scanned.template === lastTemplate &&
      samePrefix(tag, lastTag, lastPrefixEnd)
    if (!sameShape) {
      const shape = shapeKey(tag.slice(0, scanned.prefixEnd), scanned.parts, scanned.template)
      const known = shapes.get(shape)
      best = known ?? { releaseLength: 0, anyLength: 0 }
      if (!known) shapes.set(shape, best)
      lastTag = tag
      lastPrefixEnd = scanned.prefixEnd
      lastParts = scanned.parts
      lastTemplate = scanned.template
    }
    // rankByKeys' order: the highest key, and of equal keys the later tag.
    if (
      !scanned.prerelease &&
      (best.releaseKey === undefined || compareScanned(best.releaseKey, best.releaseLength) >= 0)
    ) {
      best.releaseKey = keep(best.releaseKey)
      best.releaseLength = scanned.length
      best.releaseTag = tag
    }
    if (best.anyKey === undefined || compareScanned(best.anyKey, best.anyLength) >= 0) {
      best.anyKey = keep(best.anyKey)
      best.anyLength = scanned.length
      best.anyTag = tag
    }
  }
  if (Object.isFrozen(tags)) bestByShapeOfList.set(tags, shapes)
  return shapes
}

/**
 * parseAutoTag of each tag of a list, kept while the list lives: a scan ranks one repository's (frozen) tag
 * list once for every running tag of that repository, and parsing was most of that work.
 */
const parsedLists = new WeakMap<readonly string[], ReadonlyArray<Parsed | undefined>>()

function parsedList(tags: readonly string[]): ReadonlyArray<Parsed | undefined> {
  let parsed = parsedLists.get(tags)
  if (!parsed) {
    parsed = tags.map(parseAutoTag)
    if (Object.isFrozen(tags)) parsedLists.set(tags, parsed)
  }
  return parsed
}

/** No usable running tag: plain releases `X.Y.Z` or `vX.Y.Z`, by their numbers. */
function releaseKey(tag: string): string | undefined {
  const n = tag.length
  let i = tag.charCodeAt(0) === 118 ? 1 : 0
  let key = ''
  for (let part = 0; part < 3; part++) {
    if (part > 0) {
      if (tag.charCodeAt(i) !== 46) return undefined
      i++
    }
    const start = i
    let v = 0
    while (i < n && isDigit(tag.charCodeAt(i))) v = Math.min(v * 10 + tag.charCodeAt(i++) - 48, MAX_INT32)
    if (i === start) return undefined
    key += int32(v)
  }
  return i === n ? key : undefined
}

/**
 * The default policy. With a running tag that has a number, candidates keep its shape (prefix, count of
 * numeric parts, variant template) and never turn a release into a prerelease; without one (or for `latest`),
 * candidates are plain `X.Y.Z` / `vX.Y.Z` releases. Ordered by the numbers, then release above prerelease
 * (label dev/snapshot < alpha < beta < pre/preview < rc, then its number), then the variant's numbers.
 */
export function auto(currentTag?: string): VersionedPolicy {
  const expr = currentTag === undefined ? 'auto()' : `auto(current=${quoteArg(currentTag)})`
  const current = currentTag === undefined ? undefined : parseAutoTag(currentTag)
  let keyOf: (tag: string) => string | undefined
  let versionOf: (tag: string) => string
  // A candidate's key, from its parsed form.
  const candidateKey = (t: Parsed | undefined): string | undefined =>
    current === undefined ||
    t === undefined ||
    t.prefix !== current.prefix ||
    t.parts !== current.parts ||
    t.template !== current.template ||
    (t.prerelease && !current.prerelease)
      ? undefined
      : t.key
  if (current === undefined) {
    keyOf = releaseKey
    versionOf = (tag) => tag
  } else {
    keyOf = (tag) => (tag.startsWith(current.prefix) ? candidateKey(parseAutoTag(tag)) : undefined)
    // `release-1.2` is version 1.2 for classify().
    versionOf = (tag) => (tag.startsWith(current.prefix) ? tag.slice(current.prefix.length) : tag)
  }
  return {
    expr,
    matches: (tag) => keyOf(tag) !== undefined,
    rank(tags) {
      const kept: string[] = []
      const keys: string[] = []
      const parsed = current === undefined ? undefined : parsedList(tags)
      for (let i = 0; i < tags.length; i++) {
        const key = parsed ? candidateKey(parsed[i]) : keyOf(tags[i]!)
        if (key === undefined) continue
        kept.push(tags[i]!)
        keys.push(key)
      }
      return rankByKeys(kept, keys)
    },
    best(tags) {
      if (current !== undefined) {
        // Candidates share the running tag's shape; prereleases only when it is one.
        const best = bestByShape(tags).get(shapeKey(current.prefix, current.parts, current.template))
        return current.prerelease ? best?.anyTag : best?.releaseTag
      }
      // rankByKeys' order: the highest key, and of equal keys the later tag.
      let best: string | undefined
      let bestKey = ''
      for (const tag of tags) {
        const key = releaseKey(tag)
        if (key === undefined || (best !== undefined && key < bestKey)) continue
        best = tag
        bestKey = key
      }
      return best
    },
    compare(a, b) {
      const ka = keyOf(a)
      const kb = keyOf(b)
      // Not both candidates (a running tag of another shape): kluctl's loose order on the versions.
      if (ka === undefined || kb === undefined) return compareLoose(versionOf(a), versionOf(b))
      return ka < kb ? -1 : ka > kb ? 1 : 0
    },
    versionOf,
  }
}
