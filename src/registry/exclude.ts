import { compileGoRegex } from '../policy/goregex.ts'

/**
 * Tags dropped before any policy sees them: cosign signatures, attestations and SBOMs
 * (`sha256-<hex>.sig` and friends). User patterns are added to these, never silently replace them.
 */
export const DEFAULT_EXCLUDES = ['^sha256-[a-f0-9]{64}', '\\.sig$', '\\.att$', '\\.sbom$']

/** A compiled exclusion list: a tag is dropped when any pattern matches anywhere in it (Flux semantics). */
export class TagExclusions {
  readonly patterns: string[]
  /** One alternation of every pattern: one test per tag instead of one per pattern. */
  private readonly regex: Matcher | undefined

  constructor(userPatterns: readonly string[] = [], options: { defaults?: boolean } = {}) {
    this.patterns = [...(options.defaults === false ? [] : DEFAULT_EXCLUDES), ...userPatterns]
    // Each pattern is checked (and its error reported) on its own first.
    const regexes = this.patterns.map((pattern) => compileGoRegex(pattern))
    this.regex = combine(regexes)
  }

  apply(tags: readonly string[]): string[] {
    const regex = this.regex
    if (regex === undefined) return [...tags]
    return tags.filter((tag) => !regex.test(tag))
  }
}

/**
 * `(?:a)|(?:b)|…`: matches where any of them matches (unanchored test()). Patterns that cannot share one
 * RegExp (the same group name twice) are tested one by one instead.
 */
function combine(regexes: readonly RegExp[]): Matcher | undefined {
  if (regexes.length <= 1) return regexes[0]
  try {
    return new RegExp(regexes.map((regex) => `(?:${regex.source})`).join('|'))
  } catch {
    return { test: (tag) => regexes.some((regex) => regex.test(tag)) }
  }
}

interface Matcher {
  test(tag: string): boolean
}
