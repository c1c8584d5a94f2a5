// Exec credential plugins run as client-go runs them. client-node's ExecAuth leaves KUBERNETES_EXEC_INFO unset
// (plugins that read the cluster from it, like Pinniped's, fail), gives the plugin a stdin pipe it never closes
// (a plugin that asks for an MFA code waits forever) and keeps its stderr (a login URL never reaches the user).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { KubeConfig } from '@kubernetes/client-node'

interface ExecConfig {
  apiVersion?: string
  interactiveMode?: string
  provideClusterInfo?: boolean
}

type SpawnLike = (
  command: string,
  args: readonly string[] | undefined,
  opts: { env?: NodeJS.ProcessEnv },
) => unknown

/** The cluster as client-go's ExecCredential spec.cluster names it, for plugins with provideClusterInfo. */
function clusterInfo(raw: Record<string, unknown>): Record<string, unknown> {
  const info: Record<string, unknown> = { server: raw.server }
  for (const key of ['tls-server-name', 'insecure-skip-tls-verify', 'proxy-url', 'disable-compression'])
    if (raw[key] !== undefined) info[key] = raw[key]
  let ca =
    typeof raw['certificate-authority-data'] === 'string' ? raw['certificate-authority-data'] : undefined
  if (!ca && typeof raw['certificate-authority'] === 'string') {
    try {
      ca = readFileSync(raw['certificate-authority']).toString('base64')
    } catch {
      // Unreadable: the connection itself reports it.
    }
  }
  if (ca) info['certificate-authority-data'] = ca
  const extensions = raw.extensions
  if (Array.isArray(extensions)) {
    const own = extensions.find(
      (e) => (e as { name?: unknown })?.name === 'client.authentication.k8s.io/exec',
    ) as { extension?: unknown } | undefined
    if (own?.extension !== undefined) info.config = own.extension
  }
  return info
}

/**
 * Makes the current user's exec plugin run like kubectl runs it: KUBERNETES_EXEC_INFO set (with the cluster when
 * it asks for it), and, when it may be interactive and stdin is a terminal, the terminal's stdin and its stderr
 * shown to the user; otherwise stdin is closed, so a prompt fails at once instead of waiting. A plugin still
 * running when `signal` aborts (the run's --timeout) is killed.
 */
export function runExecPluginsLikeKubectl(
  kc: KubeConfig,
  rawCluster: Record<string, unknown>,
  stdinIsTerminal = Boolean(process.stdin.isTTY),
  signal?: AbortSignal,
): void {
  const exec = kc.getCurrentUser()?.exec as ExecConfig | undefined
  const authenticators = (kc as unknown as { authenticators?: Array<{ execFn?: SpawnLike }> }).authenticators
  const execAuth = authenticators?.find((a) => typeof a.execFn === 'function')
  if (!exec || !execAuth) return
  const interactive = exec.interactiveMode !== 'Never' && stdinIsTerminal
  const spec: Record<string, unknown> = { interactive }
  if (exec.provideClusterInfo) spec.cluster = clusterInfo(rawCluster)
  const info = JSON.stringify({
    apiVersion: exec.apiVersion ?? 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    spec,
  })
  execAuth.execFn = (command, args, opts) => {
    const child = spawn(command, args ?? [], {
      env: { ...(opts.env ?? process.env), KUBERNETES_EXEC_INFO: info },
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'],
    })
    // client-node reads stderr for its error; a user at a terminal also sees it as it comes.
    if (interactive) child.stderr.on('data', (chunk: Buffer | string) => process.stderr.write(chunk))
    if (signal) {
      // client-node waits for 'close': our ends of the pipes are closed too, as a grandchild (a shell's
      // `sleep`) may still hold theirs.
      const stop = () => {
        child.kill('SIGKILL')
        child.stdout.destroy()
        child.stderr.destroy()
      }
      if (signal.aborted) stop()
      else {
        signal.addEventListener('abort', stop, { once: true })
        // 'close', not 'exit': a plugin may exit while a process it started still holds its stdout.
        child.once('close', () => signal.removeEventListener('abort', stop))
      }
    }
    return child
  }
}
