// Starting the real server (`node src/server.ts` as a child process) the way a newcomer does, and the
// start-up failures an operator can fix: each ends with one line saying what to fix, not a stack.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer, type Server as NetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { TEST_SECRET, usingPostgres } from './helpers.js'
import { nodeCommand, ROOT } from './support/paths.js'
import { freePort } from './support/ports.js'

const READY_DEADLINE_MS = 90_000

type Child = {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

const children = new Set<ChildProcess>()
t.teardown(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-startup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function start(env: Record<string, string>, command: string[] = nodeCommand('src/server.ts')) {
  // SMPP on a free port: the default 2775 may be held by anything else on the machine.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, SMPP_PORT: '0', ...env }
  for (const key of ['DATABASE_URL', 'SECRET_KEY', 'PUBLIC_URL', 'ADMIN_TOKEN']) {
    if (!(key in env)) delete childEnv[key]
  }
  const [file, ...args] = command as [string, ...string[]]
  const child = spawn(file, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exited } satisfies Child
}

async function until(what: string, child: Child, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS
  let exitCode: number | null | undefined
  void child.exited.then((code) => {
    exitCode = code
  })
  while (Date.now() < deadline) {
    if (await check()) return
    if (exitCode !== undefined) {
      throw new Error(`exited (${exitCode}) before ${what}:\n${child.stdout()}${child.stderr()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`not ${what} within ${READY_DEADLINE_MS} ms:\n${child.stdout()}${child.stderr()}`)
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200
  } catch {
    return false
  }
}

async function listening(server: NetServer, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : 0)
    })
  })
}

async function stopped(child: Child): Promise<void> {
  if (child.child.exitCode === null) child.child.kill('SIGTERM')
  await child.exited
}

/** The lines a child wrote to stderr that are not empty. */
const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '')

t.test(
  'a generated admin token is printed alone on its line, never logged; logs are JSON in a pipe',
  async (t) => {
    const port = await freePort()
    const server = start({ PORT: String(port), DATA_DIR: tempDir(t) })
    await until('healthy', server, () => healthy(port))
    await until('the token is printed', server, () => /^ {4}\S{40}$/m.test(server.stderr()))
    const token = /^ {4}(\S{40})$/m.exec(server.stderr())?.[1] as string
    t.match(server.stderr(), /ADMIN_TOKEN was not set\. The admin token of this run/)
    t.match(server.stderr(), `export ADMIN_TOKEN=${token}`)
    // It is the token: the admin API takes it.
    const owners = await fetch(`http://127.0.0.1:${port}/admin/v1/owners`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'acme' }),
    })
    t.equal(owners.status, 200)
    const logLines = lines(server.stdout())
    t.ok(logLines.length > 0, 'the server logged')
    for (const line of logLines)
      t.doesNotThrow(() => JSON.parse(line), `a JSON log line: ${line.slice(0, 80)}`)
    t.notOk(server.stdout().includes(token), 'the token is not in the log')
    await stopped(server)
  },
)

const hasScript = existsSync('/usr/bin/script')
const scriptSkip = hasScript ? false : 'util-linux script(1) is needed to give the server a terminal'

t.test('on a terminal the log is readable lines, not JSON', { skip: scriptSkip }, async (t) => {
  const port = await freePort()
  const dir = tempDir(t)
  // script(1) runs the server on a pseudo-terminal and copies what it shows to our pipe.
  const inner = nodeCommand('src/server.ts').join(' ')
  const server = start(
    { PORT: String(port), DATA_DIR: dir, ADMIN_TOKEN: 'a-token-of-16-characters-or-more' },
    ['/usr/bin/script', '-qefc', inner, '/dev/null'],
  )
  await until('healthy', server, () => healthy(port))
  await until('listening is logged', server, () => /Server listening at/.test(server.stdout()))
  t.match(server.stdout(), /INFO.*Server listening at http:\/\/127\.0\.0\.1/)
  t.notMatch(server.stdout(), /"level":/, 'no JSON line on a terminal')
  await stopped(server)
})

t.test('a port in use stops the start before the database is opened', async (t) => {
  const occupant = createServer()
  const port = await listening(occupant)
  t.teardown(() => new Promise((resolve) => occupant.close(resolve)))
  const dir = tempDir(t)
  const server = start({ PORT: String(port), DATA_DIR: dir })
  t.equal(await server.exited, 1)
  t.same(lines(server.stderr()), [
    `sms-mirror: cannot listen on 127.0.0.1:${port} (HOST/PORT): the port is already in use (another sms-mirror, or another program): stop it or set PORT`,
  ])
  t.notOk(existsSync(join(dir, 'pgdata')), 'the embedded database was never opened')
})

t.test(
  'a second server on an embedded data folder in use says so in one line; a stale lock is taken over',
  async (t) => {
    const dir = tempDir(t)
    // A lock left by a process that is gone (killed): the first server takes it over.
    const gone = spawn(process.execPath, ['-e', ''])
    await new Promise((resolve) => gone.once('exit', resolve))
    writeFileSync(join(dir, 'sms-mirror.lock'), `${gone.pid}\n`)

    const firstPort = await freePort()
    const first = start({
      PORT: String(firstPort),
      DATA_DIR: dir,
      ADMIN_TOKEN: 'a-token-of-16-characters-or-more',
    })
    await until('healthy', first, () => healthy(firstPort))

    const second = start({ PORT: String(await freePort()), DATA_DIR: dir })
    t.equal(await second.exited, 1)
    t.same(lines(second.stderr()), [
      `sms-mirror: DATA_DIR ${dir} is in use by another sms-mirror process (pid ${first.child.pid}): stop that process, ` +
        'or set DATA_DIR to another folder (the embedded database serves one process; use DATABASE_URL for several)',
    ])
    t.ok(await healthy(firstPort), 'the first server still answers')
    await stopped(first)
    t.notOk(existsSync(join(dir, 'sms-mirror.lock')), 'the lock is released at close')
  },
)

t.test('a DATABASE_URL that refuses: one line naming it, password hidden', async (t) => {
  const port = await freePort() // nothing listens there
  const server = start({
    PORT: String(await freePort()),
    DATABASE_URL: `postgres://someone:hunter2-secret@127.0.0.1:${port}/sms`,
    SECRET_KEY: TEST_SECRET,
    DATABASE_WAIT_S: '0',
  })
  t.equal(await server.exited, 1)
  t.same(lines(server.stderr()), [
    `sms-mirror: cannot reach the database at DATABASE_URL=postgres://someone:***@127.0.0.1:${port}/sms: connect ECONNREFUSED 127.0.0.1:${port}`,
  ])
  t.notOk((server.stdout() + server.stderr()).includes('hunter2'), 'the password is never shown')
})

t.test(
  'a database still starting is waited for, then the server starts',
  { skip: usingPostgres ? false : 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const url = new URL(process.env.DATABASE_URL as string)
    const database = `t_start_${randomBytes(5).toString('hex')}`
    const admin = new pg.Client({ connectionString: url.toString() })
    await admin.connect()
    await admin.query(`create database ${database}`)
    t.teardown(async () => {
      await admin.query(`drop database if exists ${database} with (force)`)
      await admin.end()
    })

    // The server is pointed at a port where nothing listens yet; a TCP relay to the real server opens
    // there once the server said it waits: a PostgreSQL that comes up after its clients.
    const relayPort = await freePort()
    const target = new URL(url.toString())
    target.host = `127.0.0.1:${relayPort}`
    target.pathname = `/${database}`
    const port = await freePort()
    const server = start({
      PORT: String(port),
      DATABASE_URL: target.toString(),
      SECRET_KEY: TEST_SECRET,
      DATABASE_WAIT_S: '600',
      ADMIN_TOKEN: 'a-token-of-16-characters-or-more',
    })
    await until('waiting', server, () =>
      server.stderr().includes('sms-mirror: waiting for the database at DATABASE_URL='),
    )
    const relay = createServer((socket) => {
      const upstream = createConnection(Number(url.port || 5432), url.hostname)
      socket.on('error', () => upstream.destroy())
      upstream.on('error', () => socket.destroy())
      socket.pipe(upstream).pipe(socket)
    })
    await listening(relay, relayPort)
    t.teardown(() => new Promise((resolve) => relay.close(resolve)))
    await until('healthy', server, () => healthy(port))
    t.pass('started once the database answered')
    await stopped(server)
  },
)
