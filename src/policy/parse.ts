// The policy expression language: one grammar for kluctl's filters, Flux's ImagePolicy kinds and `auto`.
//
//   policy := 'auto' | call
//   call   := name '(' [arg (',' arg)*] ')'         positional args first, then key=value
//   arg    := [name '='] value
//   value  := 'string' | "string" | int | name | call
//
// This is kluctl's ParseLatestVersion grammar (latest_version_parse.go): strings take ' or ", their quotes
// are stripped and escapes are NOT processed (a backslash only keeps the next char from closing the string),
// booleans are names that Go's strconv.ParseBool accepts. Where we are stricter than kluctl: an unknown name,
// a duplicate key and text after the policy are errors (kluctl returns nil, lets the last key win, and
// ignores trailing tokens). Every error is a PolicySyntaxError pointing at the offending token.
import { auto } from './auto.ts'
import { alphabetical, filterTags, fluxSemver, numerical } from './flux.ts'
import { number, prefix, regex, semver } from './kluctl.ts'
import { PolicySyntaxError, type TagPolicy } from './types.ts'

type Token =
  | { kind: 'name' | 'int'; text: string; pos: number }
  | { kind: 'string'; text: string; quote: string; pos: number }
  | { kind: '(' | ')' | ',' | '=' | 'end'; text: string; pos: number }

type Value =
  | { kind: 'string' | 'name' | 'int'; text: string; pos: number }
  | { kind: 'call'; call: Call; pos: number }

interface Arg {
  /** undefined for a positional argument */
  name: string | undefined
  pos: number
  value: Value
}

interface Call {
  name: string
  pos: number
  args: Arg[]
  /** position of the closing parenthesis */
  close: number
}

const MAX_DEPTH = 8
const KINDS = 'semver, prefix, number, regex, alphabetical, numerical, filter, auto'
// Go's strconv.ParseBool, minus "1"/"0": those scan as ints, which kluctl rejects for a bool.
const TRUE = new Set(['t', 'T', 'true', 'TRUE', 'True'])
const FALSE = new Set(['f', 'F', 'false', 'FALSE', 'False'])

function isNameStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_'
}

function isNamePart(c: string): boolean {
  return isNameStart(c) || (c >= '0' && c <= '9')
}

class Parser {
  readonly expr: string
  private at = 0
  private readonly ahead: Token[] = []

  constructor(expr: string) {
    this.expr = expr
  }

  error(pos: number, reason: string): PolicySyntaxError {
    return new PolicySyntaxError(this.expr, pos + 1, reason)
  }

  private lex(): Token {
    const s = this.expr
    while (this.at < s.length && ' \t\r\n'.includes(s[this.at]!)) this.at++
    const pos = this.at
    if (pos >= s.length) return { kind: 'end', text: '', pos }
    const c = s[pos]!
    if (c === '(' || c === ')' || c === ',' || c === '=') {
      this.at++
      return { kind: c, text: c, pos }
    }
    if (c === "'" || c === '"') {
      let i = pos + 1
      for (;;) {
        if (i >= s.length || s[i] === '\n') throw this.error(pos, 'unterminated string')
        if (s[i] === c) break
        // The backslash stays in the value; it only stops the next char from ending the string.
        i += s[i] === '\\' ? 2 : 1
      }
      this.at = i + 1
      return { kind: 'string', text: s.slice(pos + 1, i), quote: c, pos }
    }
    if (isNameStart(c)) {
      let i = pos + 1
      while (i < s.length && isNamePart(s[i]!)) i++
      this.at = i
      return { kind: 'name', text: s.slice(pos, i), pos }
    }
    if (c >= '0' && c <= '9') {
      let i = pos + 1
      while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++
      this.at = i
      return { kind: 'int', text: s.slice(pos, i), pos }
    }
    throw this.error(pos, `unexpected character ${JSON.stringify(c)}`)
  }

  peek(k = 0): Token {
    while (this.ahead.length <= k) this.ahead.push(this.lex())
    return this.ahead[k]!
  }

  next(): Token {
    const t = this.peek()
    this.ahead.shift()
    return t
  }

  describe(t: Token): string {
    if (t.kind === 'end') return 'end of input'
    if (t.kind === 'string') return `string ${t.quote}${t.text}${t.quote}`
    return `'${t.text}'`
  }

  call(depth: number): Call {
    const name = this.next()
    if (name.kind !== 'name') {
      throw this.error(
        name.pos,
        name.kind === 'end'
          ? 'expected a policy'
          : `unexpected ${this.describe(name)}, expected a policy name`,
      )
    }
    if (depth > MAX_DEPTH) throw this.error(name.pos, 'policies nested too deeply')
    const open = this.next()
    if (open.kind !== '(') throw this.error(open.pos, `expected '(' after ${name.text}`)
    const args: Arg[] = []
    for (;;) {
      let t = this.peek()
      if (t.kind === ')') break
      if (args.length > 0) {
        if (t.kind === 'end') throw this.error(t.pos, "expected ')'")
        if (t.kind !== ',') throw this.error(t.pos, `unexpected ${this.describe(t)}, expected ')' or ','`)
        this.next()
        t = this.peek()
      } else if (t.kind === 'end') {
        throw this.error(t.pos, "expected ')'")
      }
      let argName: string | undefined
      if (t.kind === 'name' && this.peek(1).kind === '=') {
        argName = t.text
        this.next()
        this.next()
      } else if (args.some((a) => a.name !== undefined) && ['string', 'name', 'int'].includes(t.kind)) {
        throw this.error(t.pos, "can't have unnamed args after named args")
      }
      args.push({ name: argName, pos: t.pos, value: this.value(depth) })
    }
    const close = this.next()
    return { name: name.text, pos: name.pos, args, close: close.pos }
  }

  value(depth: number): Value {
    const t = this.peek()
    if (t.kind === 'name' && this.peek(1).kind === '(')
      return { kind: 'call', call: this.call(depth + 1), pos: t.pos }
    this.next()
    if (t.kind === 'string' || t.kind === 'name' || t.kind === 'int')
      return { kind: t.kind, text: t.text, pos: t.pos }
    if (t.kind === 'end') throw this.error(t.pos, 'expected a value')
    throw this.error(t.pos, `unexpected ${this.describe(t)}, expected a string, name, int or policy`)
  }
}

/** Arguments bound to parameter names; `positional` names the params that may be given without a key. */
class Args {
  private readonly values = new Map<string, Value>()
  private readonly argPos = new Map<string, number>()
  private readonly call: Call
  private readonly p: Parser

  constructor(p: Parser, call: Call, positional: readonly string[], named: readonly string[] = positional) {
    this.p = p
    this.call = call
    const byKey = new Set<string>()
    let index = 0
    for (const arg of call.args) {
      if (arg.name === undefined) {
        const param = positional[index++]
        if (param === undefined) {
          throw p.error(
            arg.pos,
            positional.length === 0
              ? `${call.name}() takes no arguments`
              : `too many arguments for ${call.name}()`,
          )
        }
        this.values.set(param, arg.value)
        this.argPos.set(param, arg.pos)
      } else {
        if (!named.includes(arg.name)) {
          const known = named.length === 0 ? 'it takes none' : `expected ${named.join(', ')}`
          throw p.error(arg.pos, `unknown arg ${arg.name} for ${call.name}() (${known})`)
        }
        if (byKey.has(arg.name)) throw p.error(arg.pos, `duplicate arg ${arg.name}`)
        if (this.values.has(arg.name)) {
          throw p.error(arg.pos, `named arg ${arg.name} has already been provided via unnamed args`)
        }
        byKey.add(arg.name)
        this.values.set(arg.name, arg.value)
        this.argPos.set(arg.name, arg.pos)
      }
    }
  }

  get(name: string): Value | undefined {
    return this.values.get(name)
  }

  /** Where the argument starts (its key when named); -1 when absent. */
  pos(name: string): number {
    return this.argPos.get(name) ?? -1
  }

  required(name: string): Value {
    const v = this.values.get(name)
    if (v === undefined) throw this.p.error(this.call.close, `required arg ${name} not found`)
    return v
  }

  string(v: Value, name: string): string {
    if (v.kind !== 'string')
      throw this.p.error(v.pos, `invalid value for arg ${name}, must be a quoted string`)
    return v.text
  }

  bool(v: Value, name: string): boolean {
    if (v.kind === 'name' && TRUE.has(v.text)) return true
    if (v.kind === 'name' && FALSE.has(v.text)) return false
    throw this.p.error(v.pos, `invalid value for arg ${name}, must be a bool`)
  }

  /** Flux's order: a string or a bare name (`order=desc`). */
  order(): string {
    const v = this.get('order')
    if (v === undefined) return ''
    if (v.kind !== 'string' && v.kind !== 'name') {
      throw this.p.error(v.pos, 'invalid value for arg order, must be asc or desc')
    }
    return v.text
  }
}

/** Runs a constructor; its PolicyError (bad regex, range, order) becomes a syntax error at `pos`. */
function at<T>(p: Parser, pos: number, make: () => T): T {
  try {
    return make()
  } catch (error) {
    if (error instanceof PolicySyntaxError) throw error
    throw p.error(pos, error instanceof Error ? error.message : String(error))
  }
}

function build(p: Parser, call: Call): TagPolicy {
  const nested = (v: Value, reason: string): TagPolicy => {
    if (v.kind !== 'call') throw p.error(v.pos, reason)
    if (v.call.name === 'auto') throw p.error(v.pos, 'auto() can only be used on its own')
    return build(p, v.call)
  }
  switch (call.name) {
    case 'semver': {
      // A string range is Flux's SemVer policy; otherwise kluctl's loose semver(allow_no_nums).
      const first = call.args[0]
      const flux = first?.name === undefined && first?.value.kind === 'string'
      const args = new Args(p, call, [flux ? 'range' : 'allow_no_nums'], ['allow_no_nums', 'range'])
      const range = args.get('range')
      const allow = args.get('allow_no_nums')
      if (range !== undefined && allow !== undefined) {
        const later = Math.max(args.pos('range'), args.pos('allow_no_nums'))
        throw p.error(later, 'semver() takes a range (Flux) or allow_no_nums (kluctl), not both')
      }
      if (range !== undefined) {
        const r = args.string(range, 'range')
        return at(p, range.pos, () => fluxSemver(r))
      }
      return semver(allow === undefined ? false : args.bool(allow, 'allow_no_nums'))
    }
    case 'prefix': {
      const args = new Args(p, call, ['prefix', 'suffix'])
      const v = args.required('prefix')
      const text = args.string(v, 'prefix')
      const s = args.get('suffix')
      const suffix = s === undefined ? undefined : nested(s, 'invalid suffix, must be a filter')
      return at(p, v.pos, () => prefix(text, suffix))
    }
    case 'number':
      new Args(p, call, [])
      return number()
    case 'regex': {
      const args = new Args(p, call, ['pattern'])
      const v = args.required('pattern')
      const pattern = args.string(v, 'pattern')
      if (pattern === '') throw p.error(v.pos, "pattern can't be empty")
      return at(p, v.pos, () => regex(pattern))
    }
    case 'alphabetical':
    case 'numerical': {
      const args = new Args(p, call, ['order'])
      const order = args.order()
      const make = call.name === 'alphabetical' ? alphabetical : numerical
      return at(p, args.get('order')?.pos ?? call.pos, () => make(order))
    }
    case 'filter':
    case 'filterTags': {
      const args = new Args(p, call, ['pattern', 'extract', 'policy'])
      const v = args.required('pattern')
      const pattern = args.string(v, 'pattern')
      const e = args.get('extract')
      const extract = e === undefined ? '' : args.string(e, 'extract')
      // Flux has no default policy under filterTags, and guessing one would hide what orders the tags.
      const inner = nested(args.required('policy'), 'invalid policy, must be a policy such as numerical()')
      return at(p, v.pos, () => filterTags(pattern, extract, inner))
    }
    case 'auto': {
      const args = new Args(p, call, ['current'])
      const v = args.get('current')
      return auto(v === undefined ? undefined : args.string(v, 'current'))
    }
    default:
      throw p.error(call.pos, `unknown policy ${call.name} (expected one of ${KINDS})`)
  }
}

/**
 * Parses a policy expression: kluctl's `semver()`, `prefix('master-', suffix=number())`, `number()`,
 * `regex('...')`; Flux's `semver('>=1.0 <2')`, `alphabetical(order='desc')`, `numerical()`,
 * `filter('^main-(\d+)$', extract='$1', policy=numerical())`; and `auto` (shaped by `opts.currentTag`, or by
 * `auto(current='...')`, which wins). Throws PolicySyntaxError, and nothing else, on bad input.
 */
export function parsePolicy(expr: string, opts: { currentTag?: string } = {}): TagPolicy {
  const p = new Parser(expr)
  try {
    const first = p.peek()
    if (first.kind === 'name' && first.text === 'auto' && p.peek(1).kind === 'end')
      return auto(opts.currentTag)
    const call = p.call(0)
    const rest = p.peek()
    if (rest.kind !== 'end') throw p.error(rest.pos, `unexpected ${p.describe(rest)} after the policy`)
    if (call.name === 'auto' && call.args.length === 0) return auto(opts.currentTag)
    return build(p, call)
  } catch (error) {
    if (error instanceof PolicySyntaxError) throw error
    // A bug of ours (or a stack overflow) must still reach the user as a policy error.
    throw p.error(0, error instanceof Error ? error.message : String(error))
  }
}
