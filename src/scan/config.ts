// The user config file of `kubectl images scan` (docs/config.md): per-repository rules and built-in rule
// switches. Every validation error is one line naming the file, the line and the key.
import { readFile } from 'node:fs/promises'
import { homedir as osHomedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml'
import { compileGoRegex } from '../policy/goregex.ts'
import { PolicySyntaxError, parsePolicy } from '../policy/index.ts'
import { ExitCode, UserError } from '../util/errors.ts'
import { describeNode, YamlFile } from '../util/yaml-file.ts'
import {
  BUILTIN_RULES,
  imageMatcher,
  imageRegexMatcher,
  makeRule,
  type Rule,
  type RuleSpec,
} from './rules.ts'

export const CONFIG_API_VERSION = 'kubectl-images.io/v1alpha1'
export const CONFIG_KIND = 'Config'

export interface ScanConfig {
  /** The file that was read, as shown in messages (`~/.config/...`); undefined when there was none. */
  path: string | undefined
  /** In file order; labelled `config rule N (pattern)`, N from 1. */
  rules: Rule[]
  /** Built-in rule ids to turn off; `*` turns off all (see builtinRules()). */
  disableBuiltinRules: string[]
}

export interface LoadScanConfigOptions {
  /** `--config`: must exist. Without it the default path is read if it exists. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  homedir?: string
}

const EMPTY = (path: string | undefined): ScanConfig => ({ path, rules: [], disableBuiltinRules: [] })

/** `$XDG_CONFIG_HOME/kubectl-images/config.yaml`, else `~/.config/kubectl-images/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = osHomedir()): string {
  // The XDG spec says to ignore a relative XDG_CONFIG_HOME.
  const xdg = env.XDG_CONFIG_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.config')
  return join(base, 'kubectl-images', 'config.yaml')
}

/** `~/...` for paths under the home directory, so messages stay short and do not leak the user name. */
function displayPath(path: string, home: string): string {
  return home !== '' && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path
}

/**
 * Reads the config file. A missing default file is an empty config; a missing `--config` file, an unreadable
 * file or an invalid one is a UserError (`<file>:<line>: <key>: <problem>`).
 */
export async function loadScanConfig(opts: LoadScanConfigOptions = {}): Promise<ScanConfig> {
  const home = opts.homedir ?? osHomedir()
  const explicit = opts.path !== undefined
  let file: string
  let shown: string
  if (opts.path !== undefined) {
    file = resolve(opts.path.startsWith('~/') ? join(home, opts.path.slice(2)) : opts.path)
    shown = opts.path
  } else {
    file = defaultConfigPath(opts.env ?? process.env, home)
    shown = displayPath(file, home)
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && !explicit) return EMPTY(undefined)
    if (code === 'ENOENT') {
      throw new UserError(`config file ${shown} not found (--config)`, { exitCode: ExitCode.usage })
    }
    const reason = code === 'EISDIR' ? 'is a directory' : ((error as Error).message ?? String(error))
    throw new UserError(`config file ${shown}: ${reason}`, { cause: error })
  }
  return parseScanConfig(text, shown)
}

// --- validation ---

class Checker {
  private readonly yaml: YamlFile

  constructor(yaml: YamlFile) {
    this.yaml = yaml
  }

  line(node: Node | null | undefined, fallback = 1): number {
    return this.yaml.line(node, fallback)
  }

  fail(node: Node | null | undefined, path: string, message: string, fallbackLine?: number): UserError {
    return this.yaml.fail(node, path, message, fallbackLine)
  }

  deref(node: unknown): Node | null {
    return this.yaml.deref(node)
  }

  /** The map's entries by key; unknown and non-string keys are errors. */
  entries(
    map: YAMLMap,
    path: string,
    allowed: readonly string[],
  ): Map<string, { key: Node; value: Node | null }> {
    const out = new Map<string, { key: Node; value: Node | null }>()
    for (const pair of map.items) {
      const key = pair.key as Node
      const name = isScalar(key) ? String(key.value) : undefined
      const at = path === '' ? name : `${path}.${name}`
      if (name === undefined || !isScalar(key)) throw this.fail(key, path, 'keys must be plain strings')
      if (!allowed.includes(name)) {
        throw this.fail(key, at ?? '', `unknown key (expected one of ${allowed.join(', ')})`)
      }
      out.set(name, { key, value: this.deref(pair.value) })
    }
    return out
  }

  string(value: Node | null, key: Node, path: string): string {
    if (isScalar(value) && typeof value.value === 'string') return value.value
    throw this.fail(value ?? key, path, `expected a string, got ${describeNode(value)}`)
  }

  bool(value: Node | null, key: Node, path: string): boolean {
    if (isScalar(value) && typeof value.value === 'boolean') return value.value
    throw this.fail(value ?? key, path, `expected true or false, got ${describeNode(value)}`)
  }

  /** A list of strings; `key:` with no value counts as an empty list (every entry commented out). */
  strings(value: Node | null, key: Node, path: string): { text: string; node: Node }[] {
    if (isScalar(value) && value.value === null) return []
    if (!isSeq(value))
      throw this.fail(value ?? key, path, `expected a list of strings, got ${describeNode(value)}`)
    return value.items.map((raw, i) => {
      const item = this.deref(raw)
      return { text: this.string(item, (raw as Node | null) ?? value, `${path}[${i}]`), node: item ?? value }
    })
  }
}

const TOP_KEYS = ['apiVersion', 'kind', 'rules', 'disableBuiltinRules'] as const
const RULE_KEYS = ['image', 'imageRegex', 'policy', 'exclude', 'skip'] as const

/** Parses and validates config text; `file` is how messages name it. Throws UserError. */
export function parseScanConfig(text: string, file: string): ScanConfig {
  const yaml = YamlFile.parse(text, file)
  const doc = yaml.doc
  const c = new Checker(yaml)
  const root = c.deref(doc.contents)
  // A file of comments only (or nothing) is an empty config.
  if (root === null || (isScalar(root) && root.value === null)) return EMPTY(file)
  if (!isMap(root)) {
    throw c.fail(
      root,
      '',
      `expected a mapping with apiVersion: ${CONFIG_API_VERSION}, kind: Config and rules`,
    )
  }
  const top = c.entries(root, '', TOP_KEYS)

  const apiVersion = top.get('apiVersion')
  if (apiVersion === undefined) throw c.fail(root, 'apiVersion', `required (${CONFIG_API_VERSION})`)
  const version = c.string(apiVersion.value, apiVersion.key, 'apiVersion')
  if (version !== CONFIG_API_VERSION) {
    throw c.fail(
      apiVersion.value,
      'apiVersion',
      `expected ${CONFIG_API_VERSION}, got ${JSON.stringify(version)}`,
    )
  }
  const kindEntry = top.get('kind')
  if (kindEntry === undefined) throw c.fail(root, 'kind', `required (${CONFIG_KIND})`)
  const kind = c.string(kindEntry.value, kindEntry.key, 'kind')
  if (kind !== CONFIG_KIND) {
    throw c.fail(kindEntry.value, 'kind', `expected ${CONFIG_KIND}, got ${JSON.stringify(kind)}`)
  }

  const config = EMPTY(file)
  const disable = top.get('disableBuiltinRules')
  if (disable !== undefined) {
    const known = BUILTIN_RULES.map((rule) => rule.id!)
    for (const [i, { text: id, node }] of c
      .strings(disable.value, disable.key, 'disableBuiltinRules')
      .entries()) {
      if (id !== '*' && !known.includes(id)) {
        const list = [...known, '*'].join(', ')
        throw c.fail(
          node,
          `disableBuiltinRules[${i}]`,
          `unknown built-in rule ${JSON.stringify(id)} (known: ${list})`,
        )
      }
      config.disableBuiltinRules.push(id)
    }
  }

  const rulesEntry = top.get('rules')
  const rules = rulesEntry?.value ?? null
  if (rulesEntry === undefined || (isScalar(rules) && rules.value === null)) return config
  if (!isSeq(rules))
    throw c.fail(rules ?? rulesEntry.key, 'rules', `expected a list of rules, got ${describeNode(rules)}`)
  for (const [i, raw] of rules.items.entries()) {
    const path = `rules[${i}]`
    const item = c.deref(raw)
    if (!isMap(item))
      throw c.fail(
        item ?? rules,
        path,
        `expected a mapping with image or imageRegex, got ${describeNode(item)}`,
      )
    config.rules.push(checkRule(c, item, path, i))
  }
  return config
}

function checkRule(c: Checker, item: YAMLMap, path: string, index: number): Rule {
  const fields = c.entries(item, path, RULE_KEYS)
  const image = fields.get('image')
  const imageRegex = fields.get('imageRegex')
  if (image !== undefined && imageRegex !== undefined) {
    throw c.fail(imageRegex.key, path, 'has both image and imageRegex; a rule takes exactly one')
  }
  if (image === undefined && imageRegex === undefined) {
    throw c.fail(item, path, 'needs image (a glob such as "quay.io/jetstack/*") or imageRegex')
  }
  const spec: RuleSpec = {}
  if (image !== undefined) {
    const at = `${path}.image`
    spec.image = c.string(image.value, image.key, at)
    try {
      imageMatcher(spec.image)
    } catch (error) {
      throw c.fail(
        image.value,
        at,
        `invalid image pattern ${JSON.stringify(spec.image)}: ${(error as Error).message}`,
      )
    }
  } else if (imageRegex !== undefined) {
    const at = `${path}.imageRegex`
    spec.imageRegex = c.string(imageRegex.value, imageRegex.key, at)
    try {
      imageRegexMatcher(spec.imageRegex)
    } catch (error) {
      throw c.fail(imageRegex.value, at, (error as Error).message)
    }
  }
  const policy = fields.get('policy')
  if (policy !== undefined) {
    const at = `${path}.policy`
    spec.policy = c.string(policy.value, policy.key, at).trim()
    try {
      parsePolicy(spec.policy)
    } catch (error) {
      if (error instanceof PolicySyntaxError) throw c.fail(policy.value, at, error.message)
      throw error
    }
  }
  const exclude = fields.get('exclude')
  if (exclude !== undefined) {
    spec.exclude = c.strings(exclude.value, exclude.key, `${path}.exclude`).map(({ text, node }, i) => {
      try {
        compileGoRegex(text)
      } catch (error) {
        throw c.fail(node, `${path}.exclude[${i}]`, (error as Error).message)
      }
      return text
    })
  }
  const skip = fields.get('skip')
  if (skip !== undefined) spec.skip = c.bool(skip.value, skip.key, `${path}.skip`)
  return makeRule(spec, `config rule ${index + 1} (${spec.image ?? spec.imageRegex})`)
}
