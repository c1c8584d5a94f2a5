// How far a running tag is from the latest one under a policy.
import { looseNumbers } from './looseversion.ts'
import type { TagPolicy } from './types.ts'

export type Distance = 'up-to-date' | 'patch' | 'minor' | 'major' | 'behind' | 'newer'

/** A policy that knows which part of a tag is its version (kluctl kinds and auto implement it). */
export interface VersionedPolicy extends TagPolicy {
  /** The part of `tag` holding its version numbers; undefined when the order is not by version numbers. */
  versionOf(tag: string): string | undefined
}

/**
 * The part of `tag` whose numbers are a version under `policy`, or undefined when the policy orders some other
 * way (build numbers, alphabetical, numerical). Policies without `versionOf` (Flux semver, alphabetical,
 * numerical) are judged by their expression: a Flux semver range orders tags by version.
 */
export function versionPart(policy: TagPolicy, tag: string): string | undefined {
  const versioned = policy as Partial<VersionedPolicy>
  if (typeof versioned.versionOf === 'function') return versioned.versionOf(tag)
  if (policy.expr.startsWith('semver(')) return tag
  if (/^filter(?:Tags)?\(.*, extract=(?:''|""), policy=semver\(/.test(policy.expr)) return tag
  return undefined
}

function semverLike(v: string): boolean {
  const c = v.charCodeAt(v.charCodeAt(0) === 118 ? 1 : 0)
  return c >= 48 && c <= 57
}

/**
 * Classifies the step from `current` to `latest` (the policy's pick):
 * - `up-to-date`: identical, or equal under the policy (`v1.0` vs `1.0` in kluctl order);
 * - `newer`: the running tag ranks above the latest (a hand-picked tag the policy would not choose);
 * - `major` / `minor` / `patch`: both are version-like (`v?` and a digit) under a version order, by the first
 *   numeric part that differs (LooseVersion numbers, missing parts count as 0); equal numbers (a prerelease,
 *   a variant or revision bump like `-r3` → `-r4`) count as `patch`;
 * - `behind`: any other order (build numbers, alphabetical, numerical), a tag that is not version-like, or a
 *   lone number that is a build number or date (`master-101`, `20241101`) rather than a major version.
 */
export function classify(current: string, latest: string, policy: TagPolicy): Distance {
  if (current === latest) return 'up-to-date'
  let order: number | undefined
  try {
    order = policy.compare(current, latest)
  } catch {
    // A running tag the policy cannot read at all is simply behind.
    order = undefined
  }
  if (order === 0) return 'up-to-date'
  if (order !== undefined && order > 0) return 'newer'
  const a = versionPart(policy, current)
  const b = versionPart(policy, latest)
  if (a === undefined || b === undefined || !semverLike(a) || !semverLike(b)) return 'behind'
  const na = looseNumbers(a)
  const nb = looseNumbers(b)
  // A lone number after a word (`master-101`) or a large one (`20241101`) is a build number or a date,
  // not a major version like `postgres:16`: moving on is `behind`, not `major`.
  if (na.length === 1 && nb.length === 1 && (!semverLike(current) || na[0]! >= 1000 || nb[0]! >= 1000)) {
    return 'behind'
  }
  for (let k = 0; k < Math.max(na.length, nb.length); k++) {
    if ((na[k] ?? 0) !== (nb[k] ?? 0)) return k === 0 ? 'major' : k === 1 ? 'minor' : 'patch'
  }
  return 'patch'
}
