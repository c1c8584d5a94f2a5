import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.ts'
import { clusterFlags, pullSecretsFlags } from '../cli/cluster-flags.ts'
import { registryFlags } from '../cli/registry-flags.ts'
import { ExitCode, UserError } from '../util/errors.ts'

/** Flags that shape a pin file; --check compares one instead. */
const PIN_ONLY = [
  'latest',
  'include',
  'digest',
  'digest-only',
  'platform',
  'from-running',
  'simple',
  'fixed-images-file',
  'fixed-image',
  'output-file',
  'policy',
  'policy-for',
  'config',
] as const

export default class Pin extends BaseCommand {
  static override summary =
    'Write what is deployed (or the newest tags) as a kluctl fixed-images file, by tag or by digest; or check one.'
  static override description =
    `Reads the same workloads as scan (a kube context, or rendered manifests with -f) and writes one kluctl fixed-images entry per workload container: image (the repository as written), resultImage, namespace, deployment (Kind/name) and container, sorted so the file diffs well. kluctl accepts it with --fixed-images-file.

Result per container: a matching entry of --fixed-images-file or -F (the last match wins: -F in order after the files, as in kluctl), else with --latest the newest tag under scan's policy for the images --include names, else the image as deployed. --digest pins each result to repo:tag@sha256:... (a multi-arch tag: its index digest; --platform picks one platform's manifest); --from-running takes the digest the pods run.

-F image[:namespace[:deployment[:container]]]=result: a ':' followed by digits and '/' is a registry port (localhost:5000/app), not a field separator.

--check FILE compares a fixed-images file with the cluster and the registry. Exit codes: 0 no drift, 1 something could not be read or checked, 2 bad flags, 3 drift (the deployed image differs, the tag or digest is gone, the tag moved).`
  static override examples = [
    '<%= config.bin %> <%= command.id %> -A --digest -o yaml',
    '<%= config.bin %> <%= command.id %> -n shop --latest --include "ghcr.io/acme/*" --output-file pins.yaml',
    '<%= config.bin %> <%= command.id %> -A -F localhost:5000/app:shop:Deployment/web:web=localhost:5000/app:1.4.2',
    'helm template ./chart | <%= config.bin %> <%= command.id %> -f - --digest --platform linux/arm64',
    '<%= config.bin %> <%= command.id %> -A --check pins.yaml',
  ]
  static override flags = {
    ...clusterFlags,
    ...pullSecretsFlags,
    latest: Flags.boolean({
      char: 'u',
      description:
        "Pin to the newest tag under each image's policy (scan's resolution) instead of the deployed one.",
      helpGroup: 'PIN',
    }),
    include: Flags.string({
      description:
        'With --latest, move only images matching this glob or name (repeatable); others stay as deployed.',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'PIN',
    }),
    digest: Flags.boolean({
      description: 'Pin each result to repo:tag@sha256:... (a multi-arch tag: its index digest).',
      helpGroup: 'PIN',
    }),
    'digest-only': Flags.boolean({
      description: 'Pin to repo@sha256:... (implies --digest).',
      helpGroup: 'PIN',
    }),
    platform: Flags.string({
      description:
        "Pin to this platform's manifest of a multi-arch image: os/arch[/variant] (implies --digest).",
      helpGroup: 'PIN',
    }),
    'from-running': Flags.boolean({
      description: 'Pin deployed images to the digest their pods run (implies --digest).',
      helpGroup: 'PIN',
    }),
    simple: Flags.boolean({
      description: 'Only image and resultImage, one entry per image (as kluctl list-images --simple).',
      helpGroup: 'PIN',
    }),
    'fixed-images-file': Flags.string({
      description: 'kluctl fixed-images file whose entries override what is read (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'PIN',
    }),
    'fixed-image': Flags.string({
      char: 'F',
      description:
        'Fixed image image[:namespace[:deployment[:container]]]=result (repeatable; the last match wins).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'PIN',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Output format (default yaml; table only with --check).',
      options: ['yaml', 'json', 'table'],
    }),
    'output-file': Flags.string({
      description: 'Write the result to this file atomically instead of stdout.',
      helpGroup: 'PIN',
    }),
    check: Flags.string({
      description: 'Compare this fixed-images file with the cluster and the registry; exit 3 on drift.',
      helpGroup: 'PIN',
    }),
    'no-headers': Flags.boolean({ description: 'Omit the table header (--check).' }),
    policy: Flags.string({
      char: 'p',
      description: 'With --latest: policy for images no rule or annotation covers (default: auto).',
      helpGroup: 'POLICY',
    }),
    'policy-for': Flags.string({
      description: 'With --latest: policy for matching images, IMAGE=EXPR (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'POLICY',
    }),
    config: Flags.string({
      description: 'Config file with rules (default ~/.config/kubectl-images/config.yaml).',
      helpGroup: 'POLICY',
    }),
    ...registryFlags,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Pin)
    const usage = (message: string) => new UserError(message, { exitCode: ExitCode.usage })
    if (flags.filename && (flags['all-namespaces'] || flags.context || flags.selector)) {
      throw usage('-f reads manifests; it cannot be combined with -A, --context or -l')
    }
    if (flags.check !== undefined) {
      const given = PIN_ONLY.filter((name) => {
        const value = flags[name]
        return Array.isArray(value) ? value.length > 0 : value !== undefined && value !== false
      })
      if (given.length)
        throw usage(`--check compares a file; it cannot be combined with --${given.join(', --')}`)
      const [{ checkPins, checkExitCode }, { renderCheck, checkNotes }, { API_VERSION }] = await Promise.all([
        import('../pins/check.ts'),
        import('../render/pin.ts'),
        import('../render/output.ts'),
      ])
      const report = await checkPins({
        ...flags,
        check: flags.check,
        version: this.config.version,
        apiVersion: API_VERSION,
      })
      const format = (flags.output ?? 'table') as 'table' | 'json' | 'yaml'
      process.stdout.write(renderCheck(report, { format, noHeaders: flags['no-headers'] }))
      if (format === 'table') for (const line of checkNotes(report)) process.stderr.write(`${line}\n`)
      process.exitCode = checkExitCode(report)
      return
    }
    if (flags.output === 'table') throw usage('-o table is for --check; pin writes yaml or json')

    const [{ collectPins }, { renderPins }] = await Promise.all([
      import('../pins/pin.ts'),
      import('../render/pin.ts'),
    ])
    const outcome = await collectPins({ ...flags, version: this.config.version })
    for (const line of outcome.warnings) process.stderr.write(`warning: ${line}\n`)
    if (outcome.errors.length > 0) {
      for (const line of outcome.errors) process.stderr.write(`error: ${line}\n`)
      const n = outcome.errors.length
      throw new UserError(
        `${n} container${n === 1 ? '' : 's'} could not be pinned; nothing was written${flags['output-file'] ? ` (${flags['output-file']} is unchanged)` : ''}`,
      )
    }
    const text = renderPins(outcome.entries, (flags.output ?? 'yaml') as 'yaml' | 'json')
    if (flags['output-file'] !== undefined) {
      const { writeFileAtomic } = await import('../pins/write.ts')
      await writeFileAtomic(flags['output-file'], text)
      const n = outcome.entries.length
      process.stderr.write(`wrote ${n} entr${n === 1 ? 'y' : 'ies'} to ${flags['output-file']}\n`)
    } else {
      process.stdout.write(text)
    }
  }
}
