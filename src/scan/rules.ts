// Per-repository rules (config file and built-in) and the policy resolution order of `kubectl images scan`.
//
//   --policy-for IMAGE=EXPR  >  annotation kubectl-images.io/policy.<container>  >  kubectl-images.io/policy
//   >  config rule  >  built-in rule  >  --policy  >  auto
//
// Everything here is pure: the scan core hands in what it read (flags, annotations, config) and gets back
// one decision per container, with the words `--explain` shows.
import { compileGoRegex } from '../policy/goregex.ts'
import { PolicySyntaxError, parsePolicy } from '../policy/index.ts'
import { InvalidReferenceError, parseImageReference } from '../reference/index.ts'
import { ExitCode, UserError } from '../util/errors.ts'

/** What a rule is matched against: a repository's canonical name and its familiar (Docker-short) name. */
export interface RepositoryName {
  /** `docker.io/library/nginx`, `quay.io/jetstack/cert-manager-controller` */
  readonly name: string
  /** `nginx`, `quay.io/jetstack/cert-manager-controller` */
  readonly familiarName: string
}

/** A container's image as `--policy-for` sees it: an exact reference may name a tag or digest. */
export interface ImageName extends RepositoryName {
  readonly tag?: string | undefined
  readonly digest?: string | undefined
}

/** A rule as written, in the config file or in BUILTIN_RULES. Exactly one of `image` / `imageRegex`. */
export interface RuleSpec {
  id?: string
  image?: string
  imageRegex?: string
  policy?: string
  exclude?: readonly string[]
  skip?: boolean
  why?: string
}

export interface Rule {
  /** How reports name the rule: `config rule 2 (quay.io/jetstack/*)`, `builtin rule cert-manager`. */
  readonly label: string
  readonly id: string | undefined
  readonly image: string | undefined
  readonly imageRegex: string | undefined
  readonly policy: string | undefined
  readonly exclude: readonly string[]
  readonly skip: boolean
  readonly why: string | undefined
  matches(repository: RepositoryName): boolean
}

// --- matching ---

const WILDCARD = /[*?]/

/** True when `pattern` has glob wildcards (`*`, `**`, `?`); a pattern without any is an exact name. */
export function isGlob(pattern: string): boolean {
  return WILDCARD.test(pattern)
}

const escapeRegex = (c: string): string => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')

/**
 * Compiles a repository glob: `*` and `?` stay within one path segment, `**` crosses segments (`a/**\/b`
 * also matches `a/b`), `\` escapes the next character. Anchored at both ends.
 */
export function compileGlob(pattern: string): RegExp {
  let out = ''
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!
    if (c === '\\') {
      if (i + 1 >= pattern.length) throw new Error('trailing backslash')
      out += escapeRegex(pattern[i + 1]!)
      i += 2
    } else if (pattern.startsWith('**', i)) {
      const segmentStart = i === 0 || pattern[i - 1] === '/'
      if (segmentStart && pattern[i + 2] === '/') {
        // `**/` may stand for no segment at all.
        out += '(?:.*/)?'
        i += 3
      } else {
        out += '.*'
        i += 2
      }
    } else if (c === '*') {
      out += '[^/]*'
      i++
    } else if (c === '?') {
      out += '[^/]'
      i++
    } else {
      out += escapeRegex(c)
      i++
    }
  }
  return new RegExp(`^${out}$`)
}

/**
 * Checks a rule's `image` (or `--policy-for` glob): a repository, never a tag or digest. A `:` is only allowed
 * as the port of the first segment (`localhost:5000/app/*`).
 */
function checkRepositoryPattern(pattern: string): void {
  if (pattern === '') throw new Error('must not be empty')
  if (/\s/.test(pattern)) throw new Error('must not contain whitespace')
  const at = pattern.indexOf('@')
  if (at >= 0)
    throw new Error(`matches repositories, not digests: write ${JSON.stringify(pattern.slice(0, at))}`)
  const slash = pattern.indexOf('/')
  const tagColon = pattern.indexOf(':', Math.max(slash, 0))
  if (tagColon >= 0) {
    throw new Error(`matches repositories, not tags: write ${JSON.stringify(pattern.slice(0, tagColon))}`)
  }
  // An IPv6 host is bracketed (`[::1]:5000/app`): its colons are not the port's.
  const hostEnd = pattern.startsWith('[') ? pattern.indexOf(']') + 1 : 0
  const port = slash < 0 ? -1 : pattern.indexOf(':', hostEnd)
  if (port >= 0 && !/^[0-9*?]+$/.test(pattern.slice(port + 1, slash))) {
    throw new Error(`bad registry port ${JSON.stringify(pattern.slice(port + 1, slash))}`)
  }
}

/**
 * The matcher for a rule's `image`. A glob is tried on the canonical and the familiar name, so `nginx*` and
 * `docker.io/library/nginx*` both work. A pattern without wildcards is read as an image name and normalised,
 * so `nginx`, `library/nginx` and `docker.io/nginx` all mean `docker.io/library/nginx`.
 * Throws an Error with a short reason on a bad pattern.
 */
export function imageMatcher(pattern: string): (repository: RepositoryName) => boolean {
  checkRepositoryPattern(pattern)
  if (!isGlob(pattern)) {
    let name: string
    try {
      name = parseImageReference(pattern).name
    } catch (error) {
      throw new Error(error instanceof InvalidReferenceError ? error.message : String(error))
    }
    return (repository) => repository.name === name
  }
  // index.docker.io is docker.io, as in references (`index.docker.io/library/*` matches `nginx`).
  const regex = compileGlob(pattern.replace(/^index\.docker\.io\//, 'docker.io/'))
  return (repository) => regex.test(repository.name) || regex.test(repository.familiarName)
}

/**
 * The matcher for a rule's `imageRegex`: an unanchored RE2 regex (the policy code's compiler), tried on the
 * canonical and the familiar name. Throws PolicyError (`error parsing regexp: ...`) on a bad regex.
 */
export function imageRegexMatcher(source: string): (repository: RepositoryName) => boolean {
  if (source === '') throw new Error('must not be empty')
  const regex = compileGoRegex(source)
  return (repository) => regex.test(repository.name) || regex.test(repository.familiarName)
}

/** Builds a rule. Throws an Error naming the bad field; the config loader validates fields first for line numbers. */
export function makeRule(spec: RuleSpec, label: string): Rule {
  if ((spec.image === undefined) === (spec.imageRegex === undefined)) {
    throw new Error(`${label}: needs exactly one of image and imageRegex`)
  }
  let matches: (repository: RepositoryName) => boolean
  try {
    matches = spec.image !== undefined ? imageMatcher(spec.image) : imageRegexMatcher(spec.imageRegex!)
  } catch (error) {
    const field = spec.image !== undefined ? 'image' : 'imageRegex'
    throw new Error(`${label}: ${field}: ${(error as Error).message}`)
  }
  return {
    label,
    id: spec.id,
    image: spec.image,
    imageRegex: spec.imageRegex,
    policy: spec.policy,
    exclude: [...(spec.exclude ?? [])],
    skip: spec.skip ?? false,
    why: spec.why,
    matches,
  }
}

/** The first rule that matches the repository (callers list user rules before built-ins). */
export function matchRule(rules: readonly Rule[], repository: RepositoryName): Rule | undefined {
  return rules.find((rule) => rule.matches(repository))
}

// --- built-in rules ---

/**
 * Repositories whose tag lists are known to hold tags that are not releases. Built-in rules only exclude such
 * tags; none forces a policy, so `auto` (or the user's choice) still decides. A config rule's policy wins over
 * them, their exclusions add to a config rule's, and `disableBuiltinRules` in the config file turns them off.
 * Each `why` is shown by `--explain`; docs/config.md lists the sources.
 */
export const BUILTIN_RULE_SPECS: readonly (RuleSpec & { id: string; why: string })[] = [
  {
    id: 'cert-manager',
    image: 'quay.io/jetstack/cert-manager-*',
    // cmrel builds one image per architecture before it joins them in a manifest list; an architecture
    // copy is never the release to move to.
    exclude: ['-(amd64|arm64|arm|ppc64le|s390x)$'],
    why: 'cert-manager builds one image per architecture (amd64, arm64, arm, ppc64le, s390x) before joining them in a multi-arch release; architecture-suffixed tags are not releases',
  },
  {
    id: 'velero',
    image: 'velero/velero*',
    // hack/docker-push.sh: `main` follows the main branch, `release-X.Y-dev` the release branches,
    // and tags with alpha/beta/rc are prereleases.
    exclude: ['^main$', '^release-.*-dev$', '-(alpha|beta|rc)\\.?[0-9]*$'],
    why: 'velero pushes `main` and `release-X.Y-dev` on every commit and `-alpha`/`-beta`/`-rc` prereleases next to its releases',
  },
  {
    id: 'grafana',
    image: 'grafana/grafana*',
    // `-ubuntu` is a maintained variant (auto keeps variants apart) and `-security-NN` tags are real
    // security releases, so neither is excluded.
    exclude: ['^(main|master|nightly)(-|$)', '[0-9]pre(-|$)'],
    why: 'grafana updates `main`/`main-ubuntu` (formerly `master`) on every build and pushes `<version>-<build>pre` CI builds; `-ubuntu` variants and `-security-NN` releases are kept',
  },
  {
    id: 'ingress-nginx',
    // controller-chroot is a separate repository with the same tags, not a tag variant.
    imageRegex: '^(registry\\.k8s\\.io|k8s\\.gcr\\.io)/ingress-nginx/controller(-chroot)?$',
    exclude: ['-(alpha|beta)\\.[0-9]+$'],
    why: 'ingress-nginx publishes `-alpha.N`/`-beta.N` prereleases of the controller (and controller-chroot) next to its releases',
  },
]

export const BUILTIN_RULES: readonly Rule[] = BUILTIN_RULE_SPECS.map((spec) =>
  makeRule(spec, `builtin rule ${spec.id}`),
)

/** The built-in rules minus the ids in `disabled` (`*` disables all). */
export function builtinRules(disabled: readonly string[] = []): readonly Rule[] {
  if (disabled.length === 0) return BUILTIN_RULES
  if (disabled.includes('*')) return []
  return BUILTIN_RULES.filter((rule) => !disabled.includes(rule.id!))
}

// --- --policy-for ---

export interface PolicyFor {
  /** As written: a glob (`quay.io/jetstack/*`) or an exact reference (`nginx`, `nginx:1.25`). */
  readonly image: string
  readonly expr: string
  matches(image: ImageName): boolean
}

const usage = (message: string): UserError => new UserError(message, { exitCode: ExitCode.usage })

/**
 * Parses one `--policy-for IMAGE=EXPR`. Image references never contain `=`, so the first `=` ends IMAGE and
 * the rest is the policy (which may hold `=` itself: `prefix('v', suffix=number())`). The policy is parsed
 * here so a typo fails before any request. Throws UserError (exit code 2) on bad input.
 */
export function parsePolicyFor(value: string): PolicyFor {
  const eq = value.indexOf('=')
  const example = `e.g. --policy-for "quay.io/jetstack/*=semver('^1.x')"`
  if (eq < 0) throw usage(`--policy-for ${JSON.stringify(value)}: expected IMAGE=POLICY, ${example}`)
  const image = value.slice(0, eq).trim()
  const expr = value.slice(eq + 1).trim()
  if (image === '') throw usage(`--policy-for ${JSON.stringify(value)}: IMAGE is empty, ${example}`)
  if (expr === '') throw usage(`--policy-for ${JSON.stringify(value)}: the policy is empty, ${example}`)
  try {
    parsePolicy(expr)
  } catch (error) {
    if (error instanceof PolicySyntaxError) throw usage(`--policy-for ${image}: ${error.message}`)
    throw error
  }
  if (isGlob(image)) {
    let matches: (repository: RepositoryName) => boolean
    try {
      matches = imageMatcher(image)
    } catch (error) {
      throw usage(`--policy-for ${image}: ${(error as Error).message}`)
    }
    return { image, expr, matches }
  }
  // An exact reference: its repository, and its tag or digest when it names one.
  let ref: ReturnType<typeof parseImageReference>
  try {
    ref = parseImageReference(image)
  } catch (error) {
    if (error instanceof InvalidReferenceError) throw usage(`--policy-for ${image}: ${error.message}`)
    throw error
  }
  return {
    image,
    expr,
    matches: (target) =>
      target.name === ref.name &&
      // A container's `nginx` runs `nginx:latest` (but `nginx@sha256:…` runs no tag).
      (ref.tag === undefined || (target.tag ?? (target.digest ? undefined : 'latest')) === ref.tag) &&
      (ref.digest === undefined || target.digest === ref.digest),
  }
}

// --- resolution ---

export const ANNOTATION_POLICY = 'kubectl-images.io/policy'
export const ANNOTATION_SKIP = 'kubectl-images.io/skip'

export interface PolicyContext {
  image: ImageName
  /** The container's name, for `kubectl-images.io/policy.<container>` and `kubectl-images.io/skip.<container>`. */
  container: string
  /** The workload's annotations. */
  annotations?: Readonly<Record<string, string>> | undefined
  /** Parsed `--policy-for` flags, in command-line order (the first match wins). */
  policyFor?: readonly PolicyFor[] | undefined
  /** The config file's rules (ScanConfig.rules). */
  configRules?: readonly Rule[] | undefined
  /** Defaults to BUILTIN_RULES; pass builtinRules(config.disableBuiltinRules) to honour the config. */
  builtinRules?: readonly Rule[] | undefined
  /** The `--policy` flag. */
  policy?: string | undefined
}

export interface PolicyResolution {
  /** The policy expression to parse (with the running tag as `currentTag`); '' when skipped. */
  expr: string
  /**
   * What decided: `flag --policy-for`, `annotation kubectl-images.io/policy.web`, `config rule 2 (…)`,
   * `builtin rule cert-manager`, `flag --policy`, `default`; for a skip, the annotation or rule that asked.
   */
  source: string
  /** Tag exclusions from the matching config rule, then the matching built-in rule (add to the defaults). */
  excludes: string[]
  skip: boolean
  /** The matching built-in rule's reason, for `--explain`. */
  why?: string
  configRule?: Rule
  builtinRule?: Rule
  /** A malformed skip annotation that was ignored; show it once per workload. */
  warning?: string
}

type SkipValue = boolean | 'invalid' | undefined

function readSkip(value: string | undefined): SkipValue {
  if (value === undefined) return undefined
  const v = value.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  return 'invalid'
}

/**
 * Decides the policy for one container. Levels, highest first: `--policy-for`; the annotations
 * (per-container before workload-wide; within one, `skip: "true"` before a policy); the config rule; the
 * built-in rule; `--policy`; `auto`. A skip is decided at its own level, so a higher level's policy (or an
 * annotation `skip: "false"`) overrides a config rule's `skip: true`.
 */
export function resolvePolicySource(ctx: PolicyContext): PolicyResolution {
  const configRule = matchRule(ctx.configRules ?? [], ctx.image)
  const builtinRule = matchRule(ctx.builtinRules ?? BUILTIN_RULES, ctx.image)
  const excludes = [...(configRule?.exclude ?? []), ...(builtinRule?.exclude ?? [])]
  const base: Omit<PolicyResolution, 'expr' | 'source' | 'skip'> = { excludes }
  if (builtinRule !== undefined) base.builtinRule = builtinRule
  if (builtinRule?.why !== undefined) base.why = builtinRule.why
  if (configRule !== undefined) base.configRule = configRule
  const decide = (expr: string, source: string): PolicyResolution => ({ ...base, expr, source, skip: false })
  const skipped = (source: string): PolicyResolution => ({
    ...base,
    excludes: [],
    expr: '',
    source,
    skip: true,
  })

  const flag = ctx.policyFor?.find((p) => p.matches(ctx.image))
  if (flag !== undefined) return decide(flag.expr, 'flag --policy-for')

  const annotations = ctx.annotations ?? {}
  let unskipped = false
  for (const suffix of [`.${ctx.container}`, '']) {
    const skipKey = ANNOTATION_SKIP + suffix
    const skip = readSkip(annotations[skipKey])
    if (skip === 'invalid') {
      base.warning = `annotation ${skipKey}: ${JSON.stringify(annotations[skipKey])} is neither "true" nor "false"; ignored`
    } else if (skip === true && !unskipped) {
      return skipped(`annotation ${skipKey}`)
    } else if (skip === false) {
      unskipped = true
    }
    const policyKey = ANNOTATION_POLICY + suffix
    const policy = annotations[policyKey]
    if (policy !== undefined) return decide(policy.trim(), `annotation ${policyKey}`)
  }

  if (configRule !== undefined) {
    if (configRule.skip && !unskipped) return skipped(configRule.label)
    if (configRule.policy !== undefined) return decide(configRule.policy, configRule.label)
  }
  if (builtinRule !== undefined) {
    if (builtinRule.skip && !unskipped) return skipped(builtinRule.label)
    if (builtinRule.policy !== undefined) return decide(builtinRule.policy, builtinRule.label)
  }
  if (ctx.policy !== undefined) return decide(ctx.policy, 'flag --policy')
  return decide('auto', 'default')
}
