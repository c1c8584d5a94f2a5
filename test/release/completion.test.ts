// Shell completion with the real shells: the bash script driven as bash drives it (COMP_LINE/COMP_POINT, then
// COMPREPLY), the zsh script with zsh's completion builtins stubbed, and the `completion __complete` protocol
// kubectl_complete-images speaks (the through-kubectl run is in smoke.test.ts). Runs the dev entry.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Config } from '@oclif/core'
import { complete as engine } from '../../src/commands/completion.ts'
import { loadOptions } from '../../src/main.ts'

const run = promisify(execFile)
const ENTRY = fileURLToPath(new URL('../../bin/kubectl-images', import.meta.url))
const CONTEXT = 'arn:aws:eks:us-east-1:123:cluster/prod'

describe('shell completion', () => {
  let dir: string
  let env: NodeJS.ProcessEnv
  const savedKubeconfig = process.env.KUBECONFIG

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-images-completion-'))
    await symlink(ENTRY, join(dir, 'kubectl-images'))
    await writeFile(
      join(dir, 'kubeconfig'),
      `apiVersion: v1
kind: Config
clusters: [{name: one, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: me, user: {token: t}}]
contexts:
  - {name: kind-dev, context: {cluster: one, user: me}}
  - {name: "${CONTEXT}", context: {cluster: one, user: me}}
current-context: kind-dev
`,
    )
    env = {
      PATH: `${dir}:${process.env.PATH}`,
      HOME: dir,
      KUBECONFIG: join(dir, 'kubeconfig'),
      NO_COLOR: '1',
    }
    process.env.KUBECONFIG = env.KUBECONFIG
  })
  after(async () => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG
    else process.env.KUBECONFIG = savedKubeconfig
    await rm(dir, { recursive: true, force: true })
  })

  /** The engine in-process, printed as `completion __complete` prints it. */
  const complete = async (...words: string[]) => {
    const { candidates, directive } = await engine(await Config.load(await loadOptions()), words)
    return [...candidates, `:${directive}`]
  }

  test('__complete answers in Cobra format: candidates (tab, description), then :directive', async () => {
    const { stdout } = await run(ENTRY, ['completion', '__complete', '--', 'scan', '--only', 'out'], {
      env,
      encoding: 'utf8',
    })
    assert.equal(stdout, 'outdated\n:4\n')
    const commands = await complete('')
    assert.equal(commands.at(-1), ':4')
    // Every command (others may be added), each with its summary.
    const names = commands.slice(0, -1).map((line) => line.split('\t')[0])
    for (const name of ['completion', 'latest', 'scan']) assert.ok(names.includes(name), names.join(' '))
    assert.ok(commands.slice(0, -1).every((line) => /^[a-z][\w-]*\t\S/.test(line)))
    assert.deepEqual(await complete('scan', '-o', ''), ['table', 'wide', 'json', 'yaml', ':4'])
    assert.deepEqual(await complete('scan', '--output=j'), ['json', ':4'])
    assert.deepEqual(await complete('scan', '--fail-on', 'minor', '--fail-on', ''), [
      'patch',
      'minor',
      'major',
      'any',
      'unknown',
      ':4',
    ])
    assert.deepEqual(await complete('completion', ''), ['bash', 'zsh', ':4'])
    // File arguments fall back to the shell's file names (directive 0, no candidates).
    assert.deepEqual(await complete('scan', '-f', ''), [':0'])
    assert.deepEqual(await complete('scan', '--context', ''), ['kind-dev', CONTEXT, ':4'])
    // Flags already given are not offered again (unless repeatable); --help stays; the words after --help too.
    const flags = (await complete('scan', '-A', '--a')).map((line) => line.split('\t')[0])
    assert.ok(!flags.includes('--all-namespaces'))
    assert.deepEqual(await complete('scan', '--help', ''), [':4'])
  })

  test('bash: the script registers for kubectl-images and fills COMPREPLY like bash would', async () => {
    const script = `
      source <(kubectl-images completion bash)
      complete -p kubectl-images
      comp() {
        COMP_LINE=$1 COMP_POINT=\${#1}
        read -r -a COMP_WORDS <<<"$COMP_LINE"
        COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _kubectl_images 2>/dev/null
        local IFS='|'
        echo "[$1] \${COMPREPLY[*]}"
      }
      comp 'kubectl-images sc'
      comp 'kubectl-images scan -o '
      comp 'kubectl-images scan --output=ya'
      comp 'kubectl-images scan --context arn:aws:eks:us-'
      comp 'kubectl-images latest --al'
    `
    const { stdout } = await run('bash', ['-c', script], { env, encoding: 'utf8', timeout: 60_000 })
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      'complete -o default -F _kubectl_images kubectl-images',
      '[kubectl-images sc] scan',
      '[kubectl-images scan -o ] table|wide|json|yaml',
      '[kubectl-images scan --output=ya] yaml',
      // Readline replaces only the text after the last ':' (COMP_WORDBREAKS).
      '[kubectl-images scan --context arn:aws:eks:us-] us-east-1:123:cluster/prod',
      '[kubectl-images latest --al] --all',
    ])
  })

  test('zsh: the script defines _kubectl-images, which hands _describe the candidates', {
    skip: existsSync('/usr/bin/zsh') || existsSync('/bin/zsh') ? false : 'zsh is not installed',
  }, async () => {
    const script = `
      compdef() { print -r -- "compdef $*" }
      _describe() { print -r -- "describe $1 $2 $3 \${(@)argv[5,-1]}"; print -rl -- "\${(@P)4}" }
      _files() { print -r -- files }
      source <(kubectl-images completion zsh)
      words=(kubectl-images scan -o ''); CURRENT=4; _kubectl-images
      words=(kubectl-images scan --output=ya); CURRENT=3; _kubectl-images
      words=(kubectl-images s); CURRENT=2; _kubectl-images
      words=(kubectl-images scan -f ''); CURRENT=4; _kubectl-images
    `
    const { stdout } = await run('zsh', ['-f', '-c', script], { env, encoding: 'utf8', timeout: 60_000 })
    const lines = stdout.trimEnd().split('\n')
    assert.equal(lines[0], 'compdef _kubectl-images kubectl-images')
    assert.deepEqual(lines.slice(1, 6), [
      'describe -t values kubectl-images -P ',
      'table',
      'wide',
      'json',
      'yaml',
    ])
    assert.deepEqual(lines.slice(6, 8), ['describe -t values kubectl-images -P --output=', 'yaml'])
    assert.equal(lines[8], 'describe -t values kubectl-images -P ')
    assert.match(lines[9]!, /^scan:Compare the images/)
    assert.equal(lines[10], 'files')
  })
})
