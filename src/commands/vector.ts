import { Args, Flags } from '@oclif/core'
import { BaseCommand } from '../cli/base.ts'
import { clusterFlags } from '../cli/cluster-flags.ts'
import { cacheFlags, cacheTtlMs, registryFlags } from '../cli/registry-flags.ts'
import { UserError } from '../util/errors.ts'

// -f reads manifests in scan; here the file argument is the vector and the cluster is always a kube context.
const { filename: _manifests, ...kubeFlags } = clusterFlags

export default class Vector extends BaseCommand {
  static override summary =
    'Resolve a Gardener image vector for a Kubernetes version, with its overwrites, and check it against the registry and the cluster.'
  static override description =
    `Reads an image vector (images: name, repository, tag, ref, version, runtimeVersion, targetVersion, architectures, ...), applies overwrites ($IMAGEVECTOR_OVERWRITE, --overwrite files, a component's overwrite with --component) with Gardener's merge rules, and resolves every name (or --name) the way Gardener's FindImage does: Masterminds constraints, exact pins scoring higher, single-architecture entries beating multi-architecture ones, ties to the first entry, and v<target version> as the tag of entries without one.

The target and runtime versions default to the current cluster's (/version); --no-cluster resolves without a cluster, with only the versions given. The table says which entry won and why; warnings name overwrite entries that never win.

--check-registry asks the registry whether each image exists (HEAD) and, under --policy (default auto), whether newer tags exist. --check-cluster compares the images deployed in the cluster with what the vector resolves to, matching them by repository.

Exit codes: 0 done, 1 the vector, an overwrite or the cluster could not be read, 2 bad flags, 3 a check failed (an image is missing from its registry, a deployed container differs) or --fail-on tripped.`
  static override args = {
    file: Args.string({ description: 'image vector file (YAML or JSON), or - for stdin', required: true }),
  }
  static override examples = [
    '<%= config.bin %> <%= command.id %> imagevector/containers.yaml',
    '<%= config.bin %> <%= command.id %> images.yaml --no-cluster --target-version 1.33.4 --arch arm64',
    'IMAGEVECTOR_OVERWRITE=mirror.yaml <%= config.bin %> <%= command.id %> images.yaml --name etcd -o vector',
    '<%= config.bin %> <%= command.id %> images.yaml --check-registry --check-cluster -A --fail-on minor',
  ]
  static override flags = {
    'target-version': Flags.string({
      description: "Kubernetes version the images act on (default: the cluster's).",
      helpGroup: 'VECTOR',
    }),
    'runtime-version': Flags.string({
      description: "Kubernetes version of the cluster the images run in (default: the cluster's).",
      helpGroup: 'VECTOR',
    }),
    arch: Flags.string({ description: 'CPU architecture.', default: 'amd64', helpGroup: 'VECTOR' }),
    name: Flags.string({
      description: 'Resolve only this name (repeatable).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'VECTOR',
    }),
    overwrite: Flags.string({
      description:
        'Image vector overwrite, or component overwrite file, merged after $IMAGEVECTOR_OVERWRITE (repeatable, in order).',
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'VECTOR',
    }),
    component: Flags.string({
      description:
        "Apply this component's overwrite from a components file (--overwrite or $IMAGEVECTOR_OVERWRITE_COMPONENTS).",
      helpGroup: 'VECTOR',
    }),
    'no-cluster': Flags.boolean({
      description: 'Do not contact a cluster: only the versions given are used.',
      helpGroup: 'VECTOR',
    }),
    'check-registry': Flags.boolean({
      description: 'Check that every resolved image exists, and look for newer tags.',
      helpGroup: 'CHECKS',
    }),
    policy: Flags.string({
      char: 'p',
      description: 'Policy for newer tags with --check-registry (default: auto).',
      helpGroup: 'CHECKS',
    }),
    'check-cluster': Flags.boolean({
      description: 'Compare the images deployed in the cluster with the resolved ones.',
      helpGroup: 'CHECKS',
    }),
    'fail-on': Flags.string({
      description:
        'Also exit with code 3 for: unresolved names, images behind by patch|minor|major|any (with --check-registry), unknown checks (repeatable).',
      options: ['unresolved', 'patch', 'minor', 'major', 'any', 'unknown'],
      multiple: true,
      multipleNonGreedy: true,
      helpGroup: 'CHECKS',
    }),
    output: Flags.string({
      char: 'o',
      description: 'Output format: vector prints the resolved, flattened vector as YAML.',
      options: ['table', 'json', 'yaml', 'vector'],
      default: 'table',
    }),
    'no-headers': Flags.boolean({ description: 'Omit the table header.' }),
    ...kubeFlags,
    ...cacheFlags,
    ...registryFlags,
  }

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Vector)
    const cacheTtl = cacheTtlMs(flags)
    const [{ collectVector, vectorFailures }, { VectorReadError }, render, output] = await Promise.all([
      import('../vector/run.ts'),
      import('../vector/read.ts'),
      import('../render/vector.ts'),
      import('../render/output.ts'),
    ])
    let outcome: Awaited<ReturnType<typeof collectVector>>
    try {
      outcome = await collectVector({
        ...flags,
        file: args.file,
        cacheTtlMs: cacheTtl,
        version: this.config.version,
        apiVersion: output.API_VERSION,
      })
    } catch (error) {
      // Every problem of an invalid file, one line each; then the usual one-line error.
      if (error instanceof VectorReadError) {
        for (const line of error.lines()) process.stderr.write(`error: ${line}\n`)
        throw new UserError(
          error.issues.length === 1
            ? `${error.file} is not a valid image vector`
            : `${error.file} is not a valid image vector (${error.issues.length} errors)`,
        )
      }
      throw error
    }
    const { report } = outcome
    const format = flags.output as 'table' | 'json' | 'yaml' | 'vector'
    if (format === 'vector')
      process.stdout.write(render.renderFlatVector(report, outcome.flat, outcome.caBundle))
    else
      process.stdout.write(
        render.renderVector(report, {
          format,
          noHeaders: flags['no-headers'],
          color: output.colorEnabled(process.stdout),
        }),
      )
    // JSON and YAML carry the warnings inside the document; the table and -o vector put them on stderr.
    if (format === 'table' || format === 'vector')
      for (const line of render.vectorNotes(report)) process.stderr.write(`${line}\n`)
    const failures = vectorFailures(report, flags['fail-on'] ?? [])
    if (failures.length > 0) {
      for (const failure of failures) process.stderr.write(`error: ${failure}\n`)
      process.exitCode = 3
    }
  }
}
