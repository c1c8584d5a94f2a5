// kluctl's LooseVersion (pkg/utils/versions/looseversion.go @ 65ce9dfe), the comparator behind every kluctl
// filter. A tag is `^v?(N(.N)*)?(.*)$`: the numbers (int32, clamped; [0] when there are none) and a suffix
// split into components (digit runs as ints, letter runs and the text between them as strings, `.` dropped).
//
// Speed: each tag is encoded once into a key of 16-bit units whose plain order is exactly kluctl's order:
// rank() sorts 100k tags by comparing a packed number and, on ties, a few units; compare() uses key strings.
//
// Key layout (markers sort below every int and content unit, so keys are prefix-free):
//   int:          one unit v+0x10 up to 0xffee, else 0xffff hi lo   (order-preserving, short for small ints;
//                                               v+0x10 stays below the 0xffff marker)
//   numbers:      int... 1                      (a shorter list is less: 1 < 1.0)
//   no suffix:    3                             (beats any suffix: 1.0-rc1 < 1.0)
//   suffix:       2 components 1                (a shorter list is less: 1.1-2 < 1.1-2-1)
//     int:        int                           (any string < any int)
//     string:     2 bytes 0                     (UTF-8, byte-wise; a shorter string is less; bytes 0 and 1
//                                               are escaped as 1 1 and 1 2)

const MAX_INT32 = 2147483647
const SMALL = 0xffee
const NUMS_END = 1
const NO_SUFFIX = 3
const SUFFIX = 2
const SUFFIX_END = 1
const STR = 2
const STR_END = 0

const encoder = new TextEncoder()

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** Units a key of `tag` may need at most: 5 per char (a one-char component, or UTF-8 with markers), plus markers. */
function maxKeyLength(tag: string): number {
  return 5 * tag.length + 8
}

function putInt(out: Uint16Array, at: number, v: number): number {
  if (v <= SMALL) {
    out[at] = v + 0x10
    return at + 1
  }
  out[at] = 0xffff
  out[at + 1] = v >>> 16
  out[at + 2] = v & 0xffff
  return at + 3
}

function putStr(out: Uint16Array, at: number, tag: string, start: number, end: number): number {
  out[at++] = STR
  for (let k = start; k < end; k++) {
    const c = tag.charCodeAt(k)
    if (c < 2) {
      out[at++] = 1
      out[at++] = c + 1
    } else if (c <= 0x7f) {
      out[at++] = c
    } else {
      // Go compares strings as UTF-8 bytes, which UTF-16 units do not order the same way.
      for (const b of encoder.encode(tag.slice(k, end))) {
        if (b < 2) out[at++] = 1
        out[at++] = b < 2 ? b + 1 : b
      }
      break
    }
  }
  out[at++] = STR_END
  return at
}

/** Writes the key of `tag` at `out[at]` (room for maxKeyLength(tag) units) and returns where it ends. */
function encode(tag: string, out: Uint16Array, at: number): number {
  const n = tag.length
  let i = tag.charCodeAt(0) === 118 /* v */ ? 1 : 0
  if (i < n && isDigit(tag.charCodeAt(i))) {
    for (;;) {
      let v = 0
      // strconv.ParseInt(x, 10, 32) returns MaxInt32 on overflow and kluctl ignores the error.
      while (i < n && isDigit(tag.charCodeAt(i))) v = Math.min(v * 10 + tag.charCodeAt(i++) - 48, MAX_INT32)
      at = putInt(out, at, v)
      if (i + 1 < n && tag.charCodeAt(i) === 46 && isDigit(tag.charCodeAt(i + 1))) i++
      else break
    }
  } else {
    at = putInt(out, at, 0)
  }
  out[at++] = NUMS_END
  if (i >= n) {
    out[at++] = NO_SUFFIX
    return at
  }
  out[at++] = SUFFIX
  while (i < n) {
    const start = i
    const c = tag.charCodeAt(i)
    if (isDigit(c)) {
      let v = 0
      while (i < n && isDigit(tag.charCodeAt(i))) v = v * 10 + tag.charCodeAt(i++) - 48
      // A suffix digit run that does not fit int32 fails ParseInt and stays a string.
      at = v <= MAX_INT32 ? putInt(out, at, v) : putStr(out, at, tag, start, i)
    } else if (isLetter(c)) {
      while (i < n && isLetter(tag.charCodeAt(i))) i++
      at = putStr(out, at, tag, start, i)
    } else if (c === 46) {
      i++
    } else {
      // The text between regex matches (`-`, `_`, `+`, `~`, ...) is a component of its own.
      for (;;) {
        i++
        if (i >= n) break
        const d = tag.charCodeAt(i)
        if (isDigit(d) || isLetter(d) || d === 46) break
      }
      at = putStr(out, at, tag, start, i)
    }
  }
  out[at++] = SUFFIX_END
  return at
}

/** The sort key of a tag: `looseKey(a) < looseKey(b)` exactly when kluctl's LooseVersion says a < b. */
export function looseKey(tag: string): string {
  const out = new Uint16Array(maxKeyLength(tag))
  const end = encode(tag, out, 0)
  // apply() takes the typed array as is; a spread would iterate it (several times slower).
  return String.fromCharCode.apply(null, out.subarray(0, end) as unknown as number[])
}

/** The numeric parts as LooseVersion reads them: `v1.2.3-rc1` → [1, 2, 3], `latest` → [0]. */
export function looseNumbers(tag: string): number[] {
  const nums: number[] = []
  const n = tag.length
  let i = tag.charCodeAt(0) === 118 ? 1 : 0
  while (i < n && isDigit(tag.charCodeAt(i))) {
    let v = 0
    while (i < n && isDigit(tag.charCodeAt(i))) v = Math.min(v * 10 + tag.charCodeAt(i++) - 48, MAX_INT32)
    nums.push(v)
    if (i + 1 < n && tag.charCodeAt(i) === 46 && isDigit(tag.charCodeAt(i + 1))) i++
    else break
  }
  return nums.length === 0 ? [0] : nums
}

/** kluctl's `LooseVersion.Compare`: -1, 0 or 1. `v1.0` and `1.0` are equal, as are `007` and `7`. */
export function compareLoose(a: string, b: string): number {
  const ka = looseKey(a)
  const kb = looseKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

/**
 * Sorts `tags` by precomputed keys, newest first. Equal keys: the later tag in input order first, so that
 * element 0 is what Go's `sort.Stable` ascending puts last (kluctl's latest).
 */
export function rankByKeys(tags: readonly string[], keys: readonly string[]): string[] {
  const n = tags.length
  const order = new Array<number>(n)
  for (let i = 0; i < n; i++) order[i] = i
  order.sort((x, y) => {
    const kx = keys[x]!
    const ky = keys[y]!
    return kx < ky ? 1 : kx > ky ? -1 : y - x
  })
  const out = new Array<string>(n)
  for (let i = 0; i < n; i++) out[i] = tags[order[i]!]!
  return out
}

/**
 * The tags that `matches` keeps, sorted by LooseVersion, newest first; equal ones later-in-input first, so
 * element 0 is kluctl's latest (the last of Go's `sort.Stable` ascending).
 *
 * All keys go into one buffer (no string per tag), and the first three key units, which hold
 * major.minor.patch for most tags, are packed into one number that decides most comparisons.
 */
export function rankLoose(tags: readonly string[], matches: (tag: string) => boolean = () => true): string[] {
  const kept: string[] = []
  for (const tag of tags) if (matches(tag)) kept.push(tag)
  const m = kept.length
  const starts = new Int32Array(m + 1)
  let pool = new Uint16Array(Math.max(256, 12 * m))
  let at = 0
  for (let k = 0; k < m; k++) {
    const tag = kept[k]!
    const need = at + maxKeyLength(tag)
    if (need > pool.length) {
      const bigger = new Uint16Array(Math.max(need, 2 * pool.length))
      bigger.set(pool)
      pool = bigger
    }
    starts[k] = at
    at = encode(tag, pool, at)
  }
  starts[m] = at
  const prim = new Float64Array(m)
  for (let k = 0; k < m; k++) {
    // Every key has at least 3 units: a number, the end of the numbers, a suffix marker.
    const s = starts[k]!
    prim[k] = pool[s]! * 4294967296 + pool[s + 1]! * 65536 + pool[s + 2]!
  }
  // Start from the reverse: tags come sorted ascending byte-wise, which is close to ascending version order,
  // and TimSort profits from the runs that leaves for a newest-first sort.
  const order = new Array<number>(m)
  for (let k = 0; k < m; k++) order[k] = m - 1 - k
  order.sort((x, y) => {
    const d = prim[y]! - prim[x]!
    if (d !== 0) return d
    let i = starts[x]! + 3
    let j = starts[y]! + 3
    const ie = starts[x + 1]!
    const je = starts[y + 1]!
    for (; i < ie && j < je; i++, j++) {
      const a = pool[i]!
      const b = pool[j]!
      if (a !== b) return b - a
    }
    return je - j - (ie - i) || y - x
  })
  const out = new Array<string>(m)
  for (let k = 0; k < m; k++) out[k] = kept[order[k]!]!
  return out
}
