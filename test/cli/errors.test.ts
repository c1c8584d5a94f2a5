// How the CLI reads its command line and reports what it cannot: one line, kubectl's words, usage exit code 2.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { errorLine } from '../../src/cli/base.ts'
import { runCli, userEnv } from '../support/cli.ts'

let dir: string
let env: NodeJS.ProcessEnv
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubectl-images-cli-errors-'))
  env = userEnv(dir)
})
after(() => rm(dir, { recursive: true, force: true }))

test("oclif's parse errors become one line that keeps the reason", () => {
  const parse = new Error(
    'Parsing --concurrency \n\tExpected an integer greater than or equal to 1 but received: 0\nSee more help with --help',
  )
  assert.equal(
    errorLine(parse),
    'Parsing --concurrency: Expected an integer greater than or equal to 1 but received: 0',
  )
  assert.equal(
    errorLine(new Error('command scan:extra not found')),
    'unknown command "scan extra"; run kubectl images --help',
  )
  assert.equal(
    errorLine(new Error('command --bogus not found')),
    'unknown flag "--bogus"; run kubectl images --help',
  )
})

test('unknown commands, -h, help COMMAND, and a repeatable flag before the arguments', async () => {
  const [unknown, short, help, repeated] = await Promise.all([
    runCli(['scan', 'extra'], { env }),
    runCli(['latest', '-h'], { env }),
    runCli(['help', 'latest'], { env }),
    // --exclude is repeatable: it takes one value per use, so both images stay arguments.
    runCli(
      ['latest', '--exclude', 'rc', '127.0.0.1:1/a/b', '127.0.0.1:1/c/d', '--insecure', '--retries', '0'],
      {
        env,
      },
    ),
  ])
  assert.deepEqual(
    [unknown.code, unknown.stderr],
    [2, 'error: unknown command "scan extra"; run kubectl images --help\n'],
  )
  assert.equal(short.code, 0)
  assert.match(short.stdout, /^Ask the registry for the newest tag/)
  assert.equal(help.stdout, short.stdout)
  assert.equal(repeated.code, 1, repeated.stderr)
  assert.match(repeated.stdout, /127\.0\.0\.1:1\/a\/b/)
  assert.match(repeated.stdout, /127\.0\.0\.1:1\/c\/d/)
})

test('output that cannot be written (a full disk) is one error line and exit code 1', {
  skip: existsSync('/dev/full') ? false : 'no /dev/full',
}, () => {
  const entry = new URL('../../bin/run.js', import.meta.url).pathname
  const run = spawnSync(process.execPath, [entry, '--help'], {
    stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'],
    env: { ...env, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  assert.equal(run.status, 1)
  assert.equal(run.stderr, 'error: cannot write the output: ENOSPC\n')
})
