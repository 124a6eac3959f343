// The README's quick start and first steps, run as a newcomer runs them: `npm start` (a build when the
// sources changed, then the built server) on a fresh data folder, `npx sms-mirror init`, its printed
// export lines and curl example pasted into bash, then the README's callback block, ending with a
// delivery report received by a local receiver. Commands are the README's own fenced blocks.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from './support/paths.js'
import { freePort } from './support/ports.js'

const DEADLINE_MS = 240_000
t.setTimeout(600_000)

const children = new Set<ChildProcess>()
t.teardown(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** The fenced shell blocks of the README section that starts with `heading`, in order. */
function readmeBlocks(heading: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf(heading)
  const end = readme.indexOf('\n## ', start + heading.length)
  const section = readme.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string)
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  for (const key of ['DATABASE_URL', 'SECRET_KEY', 'PUBLIC_URL', 'TLS_CERT', 'TLS_KEY']) {
    if (!(key in extra)) delete env[key]
  }
  return env
}

async function run(
  command: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', command], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { code, out, err }
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  log: () => string,
) {
  const deadline = Date.now() + DEADLINE_MS
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`not ${what} within ${DEADLINE_MS} ms:\n${log()}`)
}

t.test('README quick start and first steps, to a callback received locally', async (t) => {
  const [startBlock, initBlock, receiverBlock, callbackBlock] = readmeBlocks(
    '### First steps after `npm start`',
  )
  t.equal(
    startBlock?.trim(),
    'CALLBACK_ALLOW_PRIVATE=true npm start',
    'the README starts the server this way',
  )
  t.match(initBlock, /npx sms-mirror init/)
  t.match(receiverBlock, /listen\(9999\)/)
  t.match(callbackBlock, /export CALLBACK_URL=http:\/\/127\.0\.0\.1:9999\/dlr/)

  const dataDir = mkdtempSync(join(tmpdir(), 'sms-mirror-first-steps-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`

  // Terminal 1: the README's start line, on a fresh data folder (PORT moved off 8080 for the test, and
  // SMPP_PORT off 2775: any other server on the machine may hold it).
  const smppPort = await freePort()
  const server = spawn('bash', ['-c', startBlock as string], {
    cwd: ROOT,
    env: baseEnv({
      PORT: String(port),
      SMPP_PORT: String(smppPort),
      DATA_DIR: dataDir,
      SIMULATOR_DELAY_MS: '200',
      ADMIN_TOKEN: '',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  children.add(server)
  t.teardown(() => {
    if (server.exitCode === null && server.pid) process.kill(-server.pid, 'SIGTERM')
  })
  let serverOut = ''
  server.stdout?.on('data', (c: Buffer) => {
    serverOut += c.toString()
  })
  server.stderr?.on('data', (c: Buffer) => {
    serverOut += c.toString()
  })
  const token = await until(
    'the admin token printed',
    () => /^ {4}([A-Za-z0-9]{40})$/m.exec(serverOut)?.[1],
    () => serverOut,
  )
  await until(
    'healthy',
    async () => {
      try {
        return (await fetch(`${base}/health`)).status === 200 ? true : undefined
      } catch {
        return undefined
      }
    },
    () => serverOut,
  )

  // Terminal 2: the README's init line with the printed token, then what init printed, pasted.
  const initCommand = (initBlock as string)
    .replace('<the token npm start printed>', token)
    .replace('http://127.0.0.1:8080', base)
  const init = await run(initCommand, baseEnv({}))
  t.equal(init.code, 0, `init: ${init.err}`)
  t.match(init.out, /^export OVH_CONSUMER_KEY=\w+$/m)
  t.match(init.out, /^export OAUTH_CLIENT_SECRET=\w+$/m)
  const pasted = init.out.slice(0, init.out.indexOf('# the official Node client'))
  const account = await run(pasted, baseEnv({}))
  t.equal(account.code, 0, `init's curl example: ${account.err}`)
  const accountBody = JSON.parse(account.out)
  t.equal(accountBody.creditsLeft, 100, 'the account, read with the bearer token, has its 100 credits')

  // Terminal 3: a receiver (the README's, on a free port instead of 9999).
  const received: string[] = []
  const receiver = http.createServer((request, response) => {
    received.push(request.url ?? '')
    response.end('ok')
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => receiver.close())
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/dlr`

  // Terminal 2 again: init's exports, then the README's callback block as written.
  const exports = init.out
    .split('\n')
    .filter((line) => line.startsWith('export ') && !line.startsWith('export TOKEN'))
    .join('\n')
  const tokenLines = pasted.slice(pasted.indexOf('export TOKEN'), pasted.indexOf('curl -s -H'))
  const callbacks = await run(
    `${exports}\n${tokenLines}\n${(callbackBlock as string).replace('http://127.0.0.1:9999/dlr', receiverUrl)}`,
    baseEnv({}),
  )
  t.equal(callbacks.code, 0, `callback block: ${callbacks.err}`)
  t.match(callbacks.out, /"ids":\[\d+\]/, 'the job was accepted')
  t.notMatch(callbacks.out, /"class":"Client::/, 'no call answered an error')

  const delivered = await until(
    'a delivered report received',
    () => received.find((url) => new URL(url, 'http://x').searchParams.get('ptt') === '4'),
    () => `${received.join('\n')}\n${serverOut}`,
  )
  t.match(delivered, /^\/dlr\?id=\d+&ptt=4&date=/, 'the receiver got ptt 4 (delivered)')
})
