import { compileGoRegex } from '../policy/goregex.ts'

/**
 * Tags dropped before any policy sees them: cosign signatures, attestations and SBOMs
 * (`sha256-<hex>.sig` and friends). User patterns are added to these, never silently replace them.
 */
export const DEFAULT_EXCLUDES = ['^sha256-[a-f0-9]{64}', '\\.sig$', '\\.att$', '\\.sbom$']

/** A compiled exclusion list: a tag is dropped when any pattern matches anywhere in it (Flux semantics). */
export class TagExclusions {
  readonly patterns: string[]
  private readonly regexes: RegExp[]

  constructor(userPatterns: readonly string[] = [], options: { defaults?: boolean } = {}) {
    this.patterns = [...(options.defaults === false ? [] : DEFAULT_EXCLUDES), ...userPatterns]
    this.regexes = this.patterns.map((pattern) => compileGoRegex(pattern))
  }

  apply(tags: readonly string[]): string[] {
    if (this.regexes.length === 0) return [...tags]
    return tags.filter((tag) => !this.regexes.some((regex) => regex.test(tag)))
  }
}
