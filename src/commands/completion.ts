import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import { Args, type Command, type Config } from '@oclif/core'
import { BaseCommand } from '../cli/base.ts'

export default class Completion extends BaseCommand {
  static override summary = 'Print a shell completion script (bash or zsh).'
  static override description =
    `Completes commands, flags and flag values (output formats, --fail-on levels, kubeconfig contexts) for the kubectl-images executable.

For \`kubectl images <TAB>\` (kubectl's own completion, kubectl 1.26 or later), put an executable named kubectl_complete-images on PATH that runs \`kubectl-images completion __complete -- "$@"\`: the release archives ship one next to the binary (see the README).`
  static override examples = [
    'source <(<%= config.bin %> <%= command.id %> bash)',
    '<%= config.bin %> <%= command.id %> zsh > ~/.zfunc/_kubectl-images   # a directory on $fpath',
  ]
  static override args = {
    shell: Args.string({
      description: 'shell to print the script for',
      options: ['bash', 'zsh'],
      required: true,
    }),
  }

  async run(): Promise<void> {
    // kubectl's plugin completion protocol (what kubectl_complete-images calls): the words after the plugin
    // name, the last one being completed, answered in Cobra's `__complete` format. No flag parsing here.
    if (this.argv[0] === '__complete') {
      this.parsed = true // deliberately: the words are the command line being completed, not ours
      const words = this.argv.slice(this.argv[1] === '--' ? 2 : 1)
      const { candidates, directive } = await complete(this.config, words.length ? words : [''])
      process.stdout.write(`${[...candidates, `:${directive}`].join('\n')}\n`)
      return
    }
    const { args } = await this.parse(Completion)
    process.stdout.write(args.shell === 'zsh' ? ZSH : BASH)
  }
}

/** Cobra's ShellCompDirective bits (kubectl hands them to its own completion scripts unchanged). */
export const Directive = { default: 0, error: 1, noSpace: 2, noFileComp: 4 } as const

type Flag = Command.Loadable['flags'][string]

/**
 * Candidates for the last word of `words` (the words after `kubectl images`), each `value` or
 * `value<TAB>description`, filtered by what is typed. For `--flag=pre` the candidates are values, as in Cobra.
 */
export async function complete(
  config: Config,
  words: string[],
): Promise<{ candidates: string[]; directive: number }> {
  const toComplete = words.at(-1) ?? ''
  const before = words.slice(0, -1)
  const commands = config.commands.filter((c) => !c.hidden)

  // The command: leading words that spell a command id (topics separated by spaces).
  let command: Command.Loadable | undefined
  let used = 0
  for (let n = 1; n <= before.length; n++) {
    const id = before.slice(0, n).join(':')
    const found = commands.find((c) => c.id === id)
    if (found) {
      command = found
      used = n
    }
  }
  if (!command) {
    if (toComplete.startsWith('-')) {
      return result(toComplete, ['--help\tShow help.', '--version\tShow the version.'], Directive.noFileComp)
    }
    const prefix = before.filter((w) => !w.startsWith('-'))
    const next = new Map<string, string>()
    for (const c of commands) {
      const parts = c.id.split(':')
      if (parts.length <= prefix.length || prefix.some((w, i) => parts[i] !== w)) continue
      const word = parts[prefix.length]!
      const summary = parts.length === prefix.length + 1 ? firstLine(c.summary ?? c.description) : ''
      if (!next.has(word) || summary) next.set(word, summary)
    }
    return result(
      toComplete,
      [...next].map(([word, summary]) => (summary ? `${word}\t${summary}` : word)),
      Directive.noFileComp,
    )
  }

  const flags = Object.values(command.flags).filter((f) => !f.hidden)
  const byName = (word: string): Flag | undefined => {
    if (word.startsWith('--')) return flags.find((f) => f.name === word.slice(2))
    if (/^-[^-]$/.test(word)) return flags.find((f) => f.char === word[1])
    return undefined
  }
  // Walk what was typed after the command: which flags are set, and how many positional arguments.
  const seen = new Set<string>()
  let positional = 0
  let valueFor: Flag | undefined
  let dashdash = false
  for (const word of before.slice(used)) {
    if (valueFor) {
      valueFor = undefined
      continue
    }
    if (dashdash || !word.startsWith('-') || word === '-') {
      positional++
      continue
    }
    if (word === '--') {
      dashdash = true
      continue
    }
    const eq = word.indexOf('=')
    const flag = byName(eq > 0 ? word.slice(0, eq) : word) ?? byName(word.slice(0, 2))
    if (!flag) continue
    seen.add(flag.name)
    // --flag value and -o value take the next word; --flag=value, -ovalue do not.
    if (flag.type === 'option' && eq < 0 && (word.startsWith('--') || word.length === 2)) valueFor = flag
  }

  if (valueFor) return flagValues(valueFor, toComplete, before)
  if (!dashdash && toComplete.startsWith('--') && toComplete.includes('=')) {
    const eq = toComplete.indexOf('=')
    const flag = byName(toComplete.slice(0, eq))
    if (flag?.type !== 'option') return result('', [], Directive.noFileComp)
    return flagValues(flag, toComplete.slice(eq + 1), before)
  }
  if (!dashdash && toComplete.startsWith('-')) {
    const candidates: string[] = []
    for (const flag of flags) {
      if (seen.has(flag.name) && !('multiple' in flag && flag.multiple)) continue
      const summary = firstLine(flag.summary ?? flag.description)
      candidates.push(`--${flag.name}${summary ? `\t${summary}` : ''}`)
      if (flag.char && !toComplete.startsWith('--'))
        candidates.push(`-${flag.char}${summary ? `\t${summary}` : ''}`)
    }
    candidates.push('--help\tShow help.')
    return result(toComplete, candidates, Directive.noFileComp)
  }
  const arg = Object.values(command.args)[positional]
  return result(toComplete, arg?.options ? [...arg.options] : [], Directive.noFileComp)
}

async function flagValues(
  flag: Flag,
  typed: string,
  before: string[],
): Promise<{ candidates: string[]; directive: number }> {
  if (flag.type !== 'option') return result('', [], Directive.noFileComp)
  if (flag.options?.length) return result(typed, [...flag.options], Directive.noFileComp)
  if (flag.name === 'context' || flag.name === 'cluster' || flag.name === 'user') {
    return result(typed, await kubeconfigNames(`${flag.name}s`, before), Directive.noFileComp)
  }
  // Paths: let the shell complete file names.
  if (/\b(file|files|directory|path)\b/i.test(`${flag.summary ?? ''} ${flag.description ?? ''}`)) {
    return { candidates: [], directive: Directive.default }
  }
  return result(typed, [], Directive.noFileComp)
}

/** Names of the kubeconfig's contexts, clusters or users (--kubeconfig, else $KUBECONFIG, else ~/.kube/config). */
async function kubeconfigNames(section: string, before: string[]): Promise<string[]> {
  let paths: string[]
  const at = before.findIndex((w) => w === '--kubeconfig' || w.startsWith('--kubeconfig='))
  if (at >= 0) {
    const word = before[at]!
    paths = [word.includes('=') ? word.slice(word.indexOf('=') + 1) : (before[at + 1] ?? '')]
  } else if (process.env.KUBECONFIG) {
    paths = process.env.KUBECONFIG.split(delimiter).filter(Boolean)
  } else {
    paths = [join(homedir(), '.kube', 'config')]
  }
  const { parse } = await import('yaml')
  const names = new Set<string>()
  for (const path of paths) {
    try {
      const doc = parse(await readFile(path, 'utf8')) as Record<string, unknown> | null
      const list = doc?.[section]
      if (!Array.isArray(list)) continue
      for (const entry of list) {
        const name = (entry as { name?: unknown } | null)?.name
        if (typeof name === 'string' && name) names.add(name)
      }
    } catch {}
  }
  return [...names]
}

function result(
  typed: string,
  candidates: string[],
  directive: number,
): { candidates: string[]; directive: number } {
  return { candidates: candidates.filter((c) => c.startsWith(typed)), directive }
}

function firstLine(text: string | undefined): string {
  const line = (text ?? '').split('\n')[0]!.trim()
  return line.length > 80 ? `${line.slice(0, 77)}...` : line
}

// Both scripts ask the program itself (`completion __complete`, the same answer kubectl_complete-images gives
// kubectl) and apply Cobra's directives: no space after the word, no file-name fallback.
const BASH = `# bash completion for kubectl-images: source <(kubectl-images completion bash)
_kubectl_images() {
  local line=\${COMP_LINE:0:COMP_POINT} cur prog out directive typed rlword strip i c
  local -a words candidates
  read -r -a words <<<"$line"
  [[ $line =~ [[:space:]]$ ]] && words+=("")
  ((\${#words[@]} < 2)) && words+=("")
  cur=\${words[\${#words[@]}-1]}
  prog=\${words[0]/#\\~/$HOME}
  out=$("$prog" completion __complete -- "\${words[@]:1}" 2>/dev/null) || return 0
  directive=\${out##*:}
  [[ $directive =~ ^[0-9]+$ ]] || directive=0
  out=\${out%:*}
  # Readline replaces only the text after the last COMP_WORDBREAKS character (= and : by default).
  typed=$cur
  [[ $cur == --*=* ]] && typed=\${cur#*=}
  rlword=$typed
  for ((i = \${#typed} - 1; i >= 0; i--)); do
    c=\${typed:i:1}
    if [[ $COMP_WORDBREAKS == *"$c"* ]]; then rlword=\${typed:i+1}; break; fi
  done
  strip=\${typed%"$rlword"}
  COMPREPLY=()
  while IFS= read -r c; do
    [[ -z $c ]] && continue
    c=\${c%%$'\\t'*}
    COMPREPLY+=("\${c#"$strip"}")
  done <<<"$out"
  if ((directive & 2)); then compopt -o nospace 2>/dev/null; fi
  if ((directive & 4)); then compopt +o default 2>/dev/null; fi
  return 0
}
complete -o default -F _kubectl_images kubectl-images
`

const ZSH = `#compdef kubectl-images
# zsh completion for kubectl-images: source <(kubectl-images completion zsh), or save as _kubectl-images in $fpath
_kubectl-images() {
  local out directive line cur prefix=''
  local -a lines comps
  cur=\${words[CURRENT]}
  out=$("\${words[1]/#\\~/$HOME}" completion __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]#:}
  [[ $directive == <-> ]] || directive=0
  lines=("\${(@)lines[1,-2]}")
  [[ $cur == --*=* ]] && prefix="\${cur%%=*}="
  for line in "\${lines[@]}"; do
    [[ -z $line ]] && continue
    if [[ $line == *$'\\t'* ]]; then
      comps+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
    else
      comps+=("\${line//:/\\\\:}")
    fi
  done
  if (( \${#comps} )); then
    local -a opts
    opts=(-P "$prefix")
    (( directive & 2 )) && opts+=(-S '')
    _describe -t values 'kubectl-images' comps "\${opts[@]}"
  elif (( ! (directive & 4) )); then
    _files
  fi
}
if [[ "\${funcstack[1]}" == _kubectl-images ]]; then
  _kubectl-images "$@"
else
  compdef _kubectl-images kubectl-images
fi
`
