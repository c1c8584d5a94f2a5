// A list page's JSON read straight from its bytes, keeping only the members a reader asks for. JSON.parse of a
// whole page (or of each item) builds every field of every object - managedFields, volumes, conditions - only
// for the garbage collector to drop them again; on a large cluster that garbage made most of the scan's time
// in GC and most of its peak memory. Here a skipped member costs a scan over its bytes and allocates nothing.

/**
 * What to keep of a JSON value: `true` keeps it whole; an object keeps only the members it names (each through
 * its own pick) and, on an array, applies to every element. A value whose type the pick does not expect (a
 * string where an object was picked) is kept whole, so the reader sees what the server sent.
 */
export type FieldPick = true | { readonly [member: string]: FieldPick }

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function unexpected(b: Uint8Array, i: number): SyntaxError {
  return i >= b.length
    ? new SyntaxError('Unexpected end of JSON input')
    : new SyntaxError(`Unexpected token in JSON at position ${i}`)
}

/** A pick with its member names as UTF-8 bytes, so keys are matched without decoding them to strings. */
interface CompiledPick {
  names: string[]
  bytes: Buffer[]
  subs: Array<CompiledPick | true>
}

const compiledPicks = new WeakMap<object, CompiledPick>()

function compile(pick: FieldPick): CompiledPick | true {
  if (pick === true) return true
  let c = compiledPicks.get(pick)
  if (!c) {
    const names = Object.keys(pick)
    c = { names, bytes: names.map((n) => Buffer.from(n)), subs: names.map((n) => compile(pick[n]!)) }
    compiledPicks.set(pick, c)
  }
  return c
}

const ITEMS = Buffer.from('items')

class Reader {
  private readonly b: Buffer
  private i = 0
  private keyStart = 0
  private keyEnd = 0
  /** The open brackets of the value skip() is in; typed, because `array.length = 0` frees and regrows. */
  private stack = new Uint8Array(64)
  private readonly whole: (start: number, end: number) => unknown

  constructor(bytes: Uint8Array) {
    this.b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    // A UTF-8 byte order mark is not JSON, but some proxies add one.
    if (this.b[0] === 0xef && this.b[1] === 0xbb && this.b[2] === 0xbf) this.i = 3
    this.whole = (start, end) => JSON.parse(this.b.toString('utf8', start, end))
  }

  /**
   * The top-level object, each element of its `items` array read through `itemPick` and handed to `onItem`
   * as soon as it is read; the other members are kept whole and returned.
   */
  list(itemPick: FieldPick, onItem: (item: unknown) => void): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    this.space()
    const pick = compile(itemPick)
    if (this.open(OPEN_OBJECT, CLOSE_OBJECT)) {
      do {
        this.readKey()
        if (this.keyIs(this.keyStart, this.keyEnd, ITEMS) && this.b[this.i] === OPEN_ARRAY) {
          if (this.open(OPEN_ARRAY, CLOSE_ARRAY)) {
            do onItem(this.value(pick))
            while (this.next(CLOSE_ARRAY))
          }
        } else {
          // As JSON.parse does: a member named __proto__ is an own property, not the prototype.
          Object.defineProperty(out, this.decode(this.keyStart - 1, this.keyEnd + 1), {
            value: this.value(true),
            enumerable: true,
            writable: true,
            configurable: true,
          })
        }
      } while (this.next(CLOSE_OBJECT))
    }
    this.space()
    if (this.i !== this.b.length) throw unexpected(this.b, this.i)
    return out
  }

  private value(pick: CompiledPick | true): unknown {
    const c = this.b[this.i]
    // Loops rather than callbacks: a closure per object read was most of the parse's garbage.
    if (pick !== true && c === OPEN_OBJECT) {
      const out: Record<string, unknown> = {}
      if (this.open(OPEN_OBJECT, CLOSE_OBJECT)) {
        do {
          this.readKey()
          const j = this.member(pick, this.keyStart, this.keyEnd)
          if (j < 0) this.skip()
          else out[pick.names[j]!] = this.value(pick.subs[j]!)
        } while (this.next(CLOSE_OBJECT))
      }
      return out
    }
    if (pick !== true && c === OPEN_ARRAY) {
      const out: unknown[] = []
      if (this.open(OPEN_ARRAY, CLOSE_ARRAY)) {
        do out.push(this.value(pick))
        while (this.next(CLOSE_ARRAY))
      }
      return out
    }
    const start = this.i
    if (c === QUOTE) {
      this.i = this.stringEnd(start)
      return this.decode(start, this.i)
    }
    this.skip()
    return this.whole(start, this.i)
  }

  /** The string whose quotes are at `start` and `end - 1`. Most hold no escape: no JSON.parse for them. */
  private decode(start: number, end: number): string {
    for (let k = start + 1; k < end - 1; k++) {
      if (this.b[k] === BACKSLASH) return this.whole(start, end) as string
    }
    return this.b.toString('utf8', start + 1, end - 1)
  }

  /** Whether the key between `start` and `end` (no quotes) is `name`, compared as bytes. */
  private keyIs(start: number, end: number, name: Buffer): boolean {
    if (end - start !== name.length) return false
    for (let k = 0; k < name.length; k++) if (this.b[start + k] !== name[k]) return false
    return true
  }

  /** The index in `pick` of the key between `start` and `end`, or -1. */
  private member(pick: CompiledPick, start: number, end: number): number {
    for (let j = 0; j < pick.bytes.length; j++) if (this.keyIs(start, end, pick.bytes[j]!)) return j
    // A key written with escapes (`"na\u006de"`) is the same member: compare it decoded.
    for (let k = start; k < end; k++) {
      if (this.b[k] === BACKSLASH) return pick.names.indexOf(this.decode(start - 1, end + 1))
    }
    return -1
  }

  /** At `open` (`{` or `[`): consumes it; whether a member or element follows (then the reader is at it). */
  private open(open: number, close: number): boolean {
    this.expect(open)
    this.space()
    if (this.b[this.i] !== close) return true
    this.i++
    return false
  }

  /** After a member or element: whether another follows (reader at it) or `close` ended the collection. */
  private next(close: number): boolean {
    this.space()
    if (this.b[this.i] === COMMA) {
      this.i++
      this.space()
      return true
    }
    this.expect(close)
    return false
  }

  /** At a member's key: its bytes between the quotes go to keyStart/keyEnd, the reader to its value. */
  private readKey(): void {
    if (this.b[this.i] !== QUOTE) throw unexpected(this.b, this.i)
    this.keyStart = this.i + 1
    this.i = this.stringEnd(this.i)
    this.keyEnd = this.i - 1
    this.space()
    this.expect(COLON)
    this.space()
  }

  /** Moves past the value at the reader: brackets balanced and strings closed, nothing built. */
  private skip(): void {
    const b = this.b
    const c = b[this.i]
    if (c === QUOTE) {
      this.i = this.stringEnd(this.i)
      return
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      // A stack of the open brackets, so `{]` is an error rather than a silent mismatch.
      let depth = 0
      for (let j = this.i; j < b.length; ) {
        const d = b[j]!
        if (d === QUOTE) {
          j = this.stringEnd(j)
          continue
        }
        if (d === OPEN_OBJECT || d === OPEN_ARRAY) {
          if (depth === this.stack.length) {
            const deeper = new Uint8Array(depth * 2)
            deeper.set(this.stack)
            this.stack = deeper
          }
          this.stack[depth++] = d
        } else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
          if (depth === 0 || this.stack[--depth] !== d - 2) throw unexpected(b, j)
          if (depth === 0) {
            this.i = j + 1
            return
          }
        }
        j++
      }
      throw unexpected(b, b.length)
    }
    // A number, true, false or null: up to the next delimiter; JSON.parse checks it when it is kept.
    let j = this.i
    while (j < b.length) {
      const d = b[j]
      if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isSpace(d)) break
      if (d === QUOTE || d === OPEN_OBJECT || d === OPEN_ARRAY || d === COLON) throw unexpected(b, j)
      j++
    }
    if (j === this.i) throw unexpected(b, j)
    this.i = j
  }

  /** The index after the string that opens at `start`. */
  private stringEnd(start: number): number {
    // A plain loop: JSON strings are mostly short keys and names, for which Buffer#indexOf's call costs more
    // than the scan itself.
    const b = this.b
    const n = b.length
    for (let j = start + 1; j < n; j++) {
      const c = b[j]
      if (c === QUOTE) return j + 1
      if (c === BACKSLASH) j++
    }
    throw unexpected(b, n)
  }

  private space(): void {
    while (isSpace(this.b[this.i])) this.i++
  }

  private expect(c: number): void {
    if (this.b[this.i] !== c) throw unexpected(this.b, this.i)
    this.i++
  }
}

/**
 * Reads a list object (`{"kind":..., "metadata":..., "items":[...]}`) from its JSON bytes: each element of the
 * top-level `items` array goes through `itemPick` (default: kept whole) to `onItem` as soon as it is read, then
 * can be dropped; the other members are returned. Malformed JSON is a SyntaxError, as from JSON.parse; inside a
 * skipped member only the brackets and strings are checked.
 */
export function parseList(
  bytes: Uint8Array,
  onItem: (item: unknown) => void,
  itemPick: FieldPick = true,
): Record<string, unknown> {
  return new Reader(bytes).list(itemPick, onItem)
}
