// The policy API: parse an expression, pick the latest tag, classify how far behind a running tag is.
import { PolicyError, type TagPolicy } from './types.ts'

export { auto } from './auto.ts'
export { classify, type Distance } from './distance.ts'
export { number, prefix, regex, semver } from './kluctl.ts'
export { compareLoose } from './looseversion.ts'
export { parsePolicy } from './parse.ts'
export { PolicyError, PolicySyntaxError, type TagPolicy } from './types.ts'

/** The newest tag under `policy`. Throws PolicyError when no tag matches (or the policy cannot order them). */
export function latestTag(policy: TagPolicy, tags: readonly string[]): string {
  const latest = policy.rank(tags)[0]
  if (latest === undefined) {
    const seen = `${tags.length} tag${tags.length === 1 ? '' : 's'} seen`
    throw new PolicyError(`no tag matches policy ${policy.expr} (${seen})`)
  }
  return latest
}
