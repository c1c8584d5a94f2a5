import { Flags } from '@oclif/core'

/** kubectl's flags for choosing a cluster and narrowing what is read, plus -f for rendered manifests. */
export const clusterFlags = {
  kubeconfig: Flags.string({ description: 'Path to the kubeconfig file.', helpGroup: 'CLUSTER' }),
  context: Flags.string({ description: 'Kubeconfig context to use.', helpGroup: 'CLUSTER' }),
  cluster: Flags.string({ description: 'Kubeconfig cluster to use.', helpGroup: 'CLUSTER' }),
  user: Flags.string({ description: 'Kubeconfig user to use.', helpGroup: 'CLUSTER' }),
  as: Flags.string({
    description: 'Username to impersonate (a user or system:serviceaccount:NAMESPACE:NAME).',
    helpGroup: 'CLUSTER',
  }),
  'as-group': Flags.string({
    description: 'Group to impersonate; repeat for several.',
    multiple: true,
    multipleNonGreedy: true,
    helpGroup: 'CLUSTER',
  }),
  'as-uid': Flags.string({ description: 'UID to impersonate.', helpGroup: 'CLUSTER' }),
  namespace: Flags.string({
    char: 'n',
    description: "Namespace to read (default: the context's).",
    helpGroup: 'CLUSTER',
  }),
  'all-namespaces': Flags.boolean({
    char: 'A',
    description: 'Read every namespace.',
    helpGroup: 'CLUSTER',
  }),
  selector: Flags.string({
    char: 'l',
    description: 'Label selector for workloads and pods.',
    helpGroup: 'CLUSTER',
  }),
  'disable-compression': Flags.boolean({
    description:
      "Do not ask the API server to gzip large answers (kubectl's flag). Never asked of a server on this machine.",
    helpGroup: 'CLUSTER',
  }),
  filename: Flags.string({
    char: 'f',
    description: 'Read rendered manifests instead of a cluster: a file, a directory, or - for stdin.',
    multiple: true,
    multipleNonGreedy: true,
    helpGroup: 'CLUSTER',
  }),
}

/** Opt-in: registry credentials from the cluster (see src/registry/pull-secrets.ts). */
export const pullSecretsFlags = {
  'use-pull-secrets': Flags.boolean({
    description:
      "Also use the workloads' imagePullSecrets (and their ServiceAccounts') as registry credentials.",
    helpGroup: 'CLUSTER',
  }),
}
