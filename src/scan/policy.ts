// Which policy applies to each container, from the flags (--policy, --policy-for, --config), the config file
// and the built-in rules: one resolver for scan, pin --latest and vector.

import { ExitCode, UserError } from '../util/errors.ts'
import type { PolicyDecision, PolicyResolver } from './scan.ts'

export interface PolicyRequest {
  policy?: string
  'policy-for'?: string[]
  config?: string
}

/** Checks the policy flags and reads the config file; throws UserError before anything else is read. */
export async function makePolicyResolver(
  request: PolicyRequest,
  env: NodeJS.ProcessEnv,
): Promise<PolicyResolver> {
  const [{ loadScanConfig }, rules, { parsePolicy }] = await Promise.all([
    import('./config.ts'),
    import('./rules.ts'),
    import('../policy/index.ts'),
  ])
  const policyFor = (request['policy-for'] ?? []).map((value) => rules.parsePolicyFor(value))
  if (request.policy !== undefined) {
    try {
      parsePolicy(request.policy)
    } catch (error) {
      throw new UserError((error as Error).message, { exitCode: ExitCode.usage })
    }
  }
  const config = await loadScanConfig({ ...(request.config ? { path: request.config } : {}), env })
  const builtins = rules.builtinRules(config.disableBuiltinRules)
  return (usage, image) => {
    const resolution = rules.resolvePolicySource({
      image,
      container: usage.container,
      annotations: usage.annotations,
      policyFor,
      configRules: config.rules,
      builtinRules: builtins,
      policy: request.policy,
    })
    const decision: PolicyDecision = {
      expr: resolution.expr,
      source: resolution.source,
      excludes: resolution.excludes,
      skip: resolution.skip,
      ...(resolution.why ? { why: resolution.why } : {}),
      ...(resolution.warning ? { warning: resolution.warning } : {}),
    }
    return decision
  }
}
