import { Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.ts'
import { clusterFlags, pullSecretsFlags } from '../cli/cluster-flags.ts'
import { cacheFlags, cacheTtlMs, registryFlags } from '../cli/registry-flags.ts'
import { FAIL_ON, SCAN_STATUSES } from '../scan/statuses.ts'
import { UserError } from '../util/errors.ts'

export default class Scan extends BaseCommand {
  static override summary =
    'Compare the images deployed in a cluster (or rendered manifests) with the newest tags in their registries.'
  static override description =
    `Reads every workload (Deployments, StatefulSets, DaemonSets, CronJobs, and the Jobs, ReplicaSets, ReplicationControllers and Pods no controller owns), with init and ephemeral containers and the digests their pods really run, and compares each image with the newest tag under its policy.

Policy per image, first match wins: --policy-for, the workload annotation kubectl-images.io/policy.<container> or kubectl-images.io/policy, a rule in the config file, a built-in rule for repositories with noisy tags, --policy, then auto. --explain shows which one decided. The annotation kubectl-images.io/skip: "true" skips a workload.

Statuses: up-to-date, patch, minor, major (how far behind, for version-like tags), behind (other orderings), newer, pinned-digest (with whether the tag still points at the digest), unknown (with the reason), skipped.

Exit codes: 0 done, 1 the cluster or manifests could not be read, 2 bad flags, 3 an image tripped --fail-on.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> -A',
    '<%= config.bin %> <%= command.id %> -n shop -o wide --explain',
    '<%= config.bin %> <%= command.id %> -A -o json --fail-on minor',
    'helm template ./chart | <%= config.bin %> <%= command.id %> -f -',
  ]
  static override flags = {
    ...clusterFlags,
    ...pullSecretsFlags,
    policy: Flags.string({
      char: 'p',
      description: 'Policy for images no rule or annotation covers (default: auto).',
      helpGroup: 'POLICY',
    }),
    'policy-for': Flags.string({
      description:
        'Policy for matching images: IMAGE=EXPR, IMAGE a reference or a glob (repeatable; beats everything).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'POLICY',
    }),
    config: Flags.string({
      description:
        'Config file with rules (default $XDG_CONFIG_HOME/kubectl-images/config.yaml, or ~/.config/kubectl-images/config.yaml).',
      helpGroup: 'POLICY',
    }),
    explain: Flags.boolean({
      description: 'Show which policy decided each row and why.',
      helpGroup: 'POLICY',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Output format.',
      options: ['table', 'wide', 'json', 'yaml'],
      default: 'table',
    }),
    'no-headers': Flags.boolean({ description: 'Omit the table header.' }),
    only: Flags.string({
      description: 'Show only these rows: outdated, or a status (repeatable).',
      options: ['outdated', ...SCAN_STATUSES],
      multiple: true,
      multipleNonGreedy: true,
    }),
    'fail-on': Flags.string({
      description:
        'Exit with code 3 when an image is this far behind (patch includes minor and major) or unknown (repeatable).',
      options: Object.keys(FAIL_ON),
      multiple: true,
      multipleNonGreedy: true,
    }),
    ...cacheFlags,
    ...registryFlags,
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Scan)
    if (flags.filename && (flags['all-namespaces'] || flags.context || flags.selector)) {
      throw new UserError('-f scans manifests; it cannot be combined with -A, --context or -l', {
        exitCode: 2,
      })
    }
    const cacheTtl = cacheTtlMs(flags)
    const [{ collectScan }, { failingRows }, { renderScan, scanNotes, filterRows }, output] =
      await Promise.all([
        import('../scan/run.ts'),
        import('../scan/scan.ts'),
        import('../render/scan.ts'),
        import('../render/output.ts'),
      ])
    const progress = process.stderr.isTTY ? new Progress(process.stderr) : undefined
    const { report } = await collectScan({
      ...flags,
      cacheTtlMs: cacheTtl,
      version: this.config.version,
      apiVersion: output.API_VERSION,
      ...(progress ? { onProgress: (done: number, total: number) => progress.update(done, total) } : {}),
    })
    progress?.clear()
    const format = flags.output as 'table' | 'wide' | 'json' | 'yaml'
    process.stdout.write(
      renderScan(filterRows(report, flags.only ?? []), {
        format,
        noHeaders: flags['no-headers'],
        explain: flags.explain,
        color: output.colorEnabled(process.stdout),
      }),
    )
    // Structured output carries warnings and errors inside the document; tables get them on stderr.
    if (format === 'table' || format === 'wide')
      for (const line of scanNotes(report)) process.stderr.write(`${line}\n`)
    const failing = failingRows(report, flags['fail-on'] ?? [])
    if (failing.length > 0) {
      process.stderr.write(
        `error: ${failing.length} image${failing.length === 1 ? '' : 's'} tripped --fail-on ${(flags['fail-on'] ?? []).join(',')}\n`,
      )
      process.exitCode = 3
    }
  }
}

/** "resolving 12/40 repositories" on a terminal's stderr, redrawn in place. */
class Progress {
  private readonly stream: NodeJS.WriteStream
  private shown = false
  constructor(stream: NodeJS.WriteStream) {
    this.stream = stream
  }
  update(done: number, total: number): void {
    if (total === 0) return
    this.stream.write(`\rlooking up tags ${done}/${total}`)
    this.shown = true
  }
  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K')
  }
}
