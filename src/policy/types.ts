/**
 * A version policy: decides which tags of a repository are candidates and orders them.
 * Implementations: kluctl's filters, Flux's ImagePolicy kinds, and `auto`.
 */
export interface TagPolicy {
  /** Canonical expression that parses back to the same policy, e.g. `semver(allow_no_nums=false)`. */
  readonly expr: string
  /** Whether a tag is a candidate under this policy. */
  matches(tag: string): boolean
  /**
   * The candidates among `tags`, newest first. Ties are broken as the upstream tool does, given
   * that callers pass tags sorted ascending byte-wise (the order we fetch them in).
   * Throws PolicyError when the policy cannot order the tags at all (e.g. Flux numerical on a non-number).
   */
  rank(tags: readonly string[]): string[]
  /** `rank(tags)[0]` without ordering the rest, where a policy can do that in one pass. */
  best?(tags: readonly string[]): string | undefined
  /** Orders two candidate tags: negative when a is older than b, 0 when equal, positive when newer. */
  compare(a: string, b: string): number
}

/** A policy expression that does not parse; `column` is 1-based. */
export class PolicySyntaxError extends Error {
  readonly expr: string
  readonly column: number
  constructor(expr: string, column: number, reason: string) {
    super(`invalid policy "${expr}" at column ${column}: ${reason}`)
    this.name = 'PolicySyntaxError'
    this.expr = expr
    this.column = column
  }
}

/** A policy that parsed but cannot be applied to a tag list (no match, unparsable number...). */
export class PolicyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PolicyError'
  }
}
