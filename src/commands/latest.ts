import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.ts'
import { registryFlags } from '../cli/registry-flags.ts'
import { UserError } from '../util/errors.ts'

export default class Latest extends BaseCommand {
  static override summary =
    'Ask the registry for the newest tag of image repositories under a version policy.'
  static override description =
    `Lists the tags of each repository, drops excluded ones (cosign signatures, attestations, SBOMs and --exclude patterns), and picks the newest under the policy. With IMAGE:TAG and the default policy "auto", the tag's shape is kept: 1.25-alpine only moves to newer -alpine tags.

Policies (see docs/policies.md): auto, semver(), prefix('master-', suffix=number()), number(), regex('...'), semver('>=1.2 <2'), alphabetical(order='desc'), numerical(), filter('^main-(?P<ts>[0-9]+)$', extract='$ts', policy=numerical()).

Exit codes: 0 every image resolved, 1 at least one failed (its row says why), 2 bad flags.`
  static override strict = false
  static override args = {
    image: Args.string({
      description: 'image repository, optionally with the tag whose shape to keep',
      required: true,
    }),
  }
  static override examples = [
    '<%= config.bin %> <%= command.id %> nginx:1.25-alpine',
    '<%= config.bin %> <%= command.id %> ghcr.io/fluxcd/source-controller --policy "semver(\'>=1.0 <2\')"',
    '<%= config.bin %> <%= command.id %> registry.gitlab.com/g/app --policy "prefix(\'master-\', suffix=number())" -o name',
    '<%= config.bin %> <%= command.id %> quay.io/jetstack/cert-manager-controller --all -o json',
  ]
  static override flags = {
    policy: Flags.string({ char: 'p', description: 'Version policy expression.', default: 'auto' }),
    all: Flags.boolean({ description: 'List every matching tag, newest first.' }),
    digest: Flags.boolean({ description: 'Also resolve the digest the newest tag points at.' }),
    output: Flags.string({
      char: 'o',
      description: 'Output format.',
      options: ['table', 'json', 'yaml', 'name'],
      default: 'table',
    }),
    'no-headers': Flags.boolean({ description: 'Omit the table header.' }),
    ...registryFlags,
  }

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Latest)
    const images = (argv as string[]).filter((image) => image.trim() !== '')
    if (images.length === 0)
      throw new UserError('no image given; try: kubectl images latest nginx', { exitCode: 2 })
    const [{ setupRegistry }, { resolveLatest }, { renderLatest }, { parsePolicy }] = await Promise.all([
      import('../cli/registry-flags.ts'),
      import('../latest/latest.ts'),
      import('../render/latest.ts'),
      import('../policy/index.ts'),
    ])
    // A malformed policy is a usage error for the whole command, not one row per image.
    try {
      parsePolicy(flags.policy)
    } catch (error) {
      throw new UserError((error as Error).message, { exitCode: 2 })
    }
    const setup = await setupRegistry(flags, this.config.version)
    try {
      const results = await resolveLatest(
        images.map((image) => ({ image, policy: flags.policy })),
        {
          client: setup.client,
          exclusions: setup.exclusions,
          all: flags.all,
          digest: flags.digest,
          signal: setup.signal,
        },
      )
      process.stdout.write(
        renderLatest(results, {
          format: flags.output as 'table' | 'json' | 'yaml' | 'name',
          all: flags.all,
          digest: flags.digest,
          noHeaders: flags['no-headers'],
          color: (await import('../render/output.ts')).colorEnabled(process.stdout),
        }),
      )
      const failed = results.filter((result) => result.error)
      if (flags.output !== 'table')
        for (const result of failed) process.stderr.write(`error: ${result.error}\n`)
      if (failed.length > 0) process.exitCode = 1
    } finally {
      await setup.client.close()
    }
  }
}
