import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { CredentialStore } from '../src/auth/credentials.js'
import { systemClock } from '../src/clock.js'
import { loadConfig } from '../src/config.js'
import { createSecretBox, resolveSecret } from '../src/crypto/secret-box.js'
import { createDb } from '../src/db/index.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { type Keys, signedHeaders } from './helpers.js'
import { freePort } from './support/ports.js'
import { spawnServer, waitHealthy } from './support/server-process.js'

const SERVICE = 'sms-ab12345-1'
const PASSWORD = 'abcd1234'

/** The real server on `env` (DATABASE_URL, SECRET_KEY, … not inherited unless given), killed at the end of the file. */
const start = (env: Record<string, string>) => spawnServer(t, env)

let keys: Keys

/** A signed call, as the official client makes it. */
async function json(url: string, init?: RequestInit) {
  const { host, pathname, search } = new URL(url)
  const body = typeof init?.body === 'string' ? init.body : ''
  const method = init?.method ?? 'GET'
  const now = Math.floor(Date.now() / 1000)
  const response = await fetch(url, {
    ...init,
    headers: {
      ...signedHeaders(keys, method, pathname + search, body, now, host),
      ...(init?.body ? { 'content-type': 'application/json' } : {}),
    },
  })
  const text = await response.text()
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) }
}

t.test('a user survives SIGKILL and restart on the same DATA_DIR; secrets stay secret', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sms-mirror-server-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

  // PGlite is single-process: seed the account before the server opens the folder.
  const seed = await createDb({ kind: 'pglite', dataDir })
  await migrateToLatest(seed)
  const owner = await createOwner(seed.db, 'acme')
  await createAccount(seed.db, { ownerId: owner.id, serviceName: SERVICE, credits: 200 })
  const secret = resolveSecret(loadConfig({ DATA_DIR: dataDir }))
  const store = new CredentialStore({ db: seed.db, box: createSecretBox(secret), clock: systemClock })
  const application = await store.createApplication(owner.id, 'server test')
  const credential = await store.createCredential({
    applicationKey: application.applicationKey,
    accessRules: [
      { method: 'GET', path: '/sms/*' },
      { method: 'POST', path: '/sms/*' },
    ],
    state: 'validated',
  })
  keys = { ...application, consumerKey: credential.consumerKey }
  await seed.close()

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }
  const users = `${base}/1.0/sms/${SERVICE}/users`
  const logs: string[] = []

  const first = start(env)
  await waitHealthy(first, base)
  t.same(
    await json(users, { method: 'POST', body: JSON.stringify({ login: 'persist01', password: PASSWORD }) }),
    { status: 200, body: null },
  )
  const created = await json(`${users}/persist01`)
  t.equal(created.status, 200)
  t.match(created.body, { login: 'persist01', password: PASSWORD })

  first.child.kill('SIGKILL')
  await first.exited
  logs.push(first.output())

  const second = start(env)
  await waitHealthy(second, base)
  const reread = await json(`${users}/persist01`)
  t.equal(reread.status, 200, 'still there after SIGKILL + restart')
  t.match(reread.body, { login: 'persist01', password: PASSWORD })

  second.child.kill('SIGTERM')
  t.equal((await second.exited).code, 0, 'graceful exit on SIGTERM')
  logs.push(second.output())

  const allLogs = logs.join('\n')
  t.match(allLogs, /persist01|\/users/, 'the server did log requests')
  t.notOk(allLogs.includes(PASSWORD), 'logs never contain the password')

  t.ok(existsSync(join(dataDir, 'secret.key')), 'secret.key created in DATA_DIR')
  const check = await createDb({ kind: 'pglite', dataDir })
  t.teardown(() => check.close())
  const { rows } = await sql<{ password_enc: string }>`select password_enc from sms_users`.execute(check.db)
  t.equal(rows.length, 1)
  t.notOk(rows[0]?.password_enc.includes(PASSWORD), 'password not stored in plain text')
})

/** Starts the server with a bad configuration; resolves with its exit code and stderr lines. */
async function badConfig(env: Record<string, string>) {
  const server = start({ DATA_DIR: 'memory', ...env })
  // No kill timer: under load a process takes well over 15 s to load its modules, and a killed one
  // failed this test (code null). tap's file timeout bounds a server that would never exit.
  const { code } = await server.exited
  return { code, stderr: server.stderr(), lines: server.stderr().split('\n').filter(Boolean) }
}

t.test('PORT=notaport → exit 1 with one line naming PORT', async (t) => {
  const { code, stderr, lines } = await badConfig({ PORT: 'notaport' })
  t.equal(code, 1, 'exits with code 1')
  t.equal(lines.length, 1, `stderr is one line: ${stderr}`)
  t.match(lines[0], /PORT/)
})

t.test('DATABASE_URL without SECRET_KEY → exit 1 naming SECRET_KEY, URL not echoed', async (t) => {
  const url = 'postgres://x@127.0.0.1:1/db'
  const { code, stderr, lines } = await badConfig({ DATABASE_URL: url })
  t.equal(code, 1, 'exits with code 1')
  t.equal(lines.length, 1, `stderr is one line: ${stderr}`)
  t.match(lines[0], /SECRET_KEY/)
  t.notOk(stderr.includes(url), 'the DATABASE_URL value is not echoed')
  t.notOk(stderr.includes('127.0.0.1:1'), 'no part of the DATABASE_URL is echoed')
})
