import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { systemClock } from '../../src/clock.js'
import { createSecretBox, type SecretBox } from '../../src/crypto/secret-box.js'
import { createDb, type Db } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { countedAddress, LOCKOUT, LoginGuard } from '../../src/http2sms/lockout.js'
import { enableSender } from '../../src/senders/service.js'
import { createUser, updateUserSettings } from '../../src/users/service.js'
import { buildTestApp, SERVICE, usingPostgres } from '../helpers.js'
import { freePort } from '../support/ports.js'
import { freshDatabaseOn } from '../support/postgres.js'
import { spawnServer, waitHealthy } from '../support/server-process.js'

// The http2sms credential cache and the lockout's kept verdicts (src/http2sms/credential-cache.ts,
// LoginGuard): a change made by another process — a password, IP restrictions, failures counted for
// the login, the user's deletion — is obeyed by the very next request, with no waiting. On
// PostgreSQL the requests go to a real server process and the changes are made from this one.

const SECRET_KEY = 'http2sms-credentials-test-secret-0123456789'
const LOGIN = 'credlogin1'

type Target = { base: string; db: Db; box: SecretBox; now: () => Date }

function get(base: string, params: Record<string, string>, localAddress = '127.0.0.1'): Promise<string> {
  const url = new URL(`${base}/cgi-bin/sms/http2sms.cgi?${new URLSearchParams(params).toString()}`)
  return new Promise((resolve, reject) => {
    http
      .get(
        { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, localAddress },
        (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => {
            body += chunk
          })
          res.on('end', () => resolve(body))
        },
      )
      .on('error', reject)
  })
}

let receiver = 33_600_000_000
const send = (target: Target, password: string, localAddress?: string) =>
  get(
    target.base,
    {
      account: SERVICE,
      login: LOGIN,
      password,
      from: 'ACME',
      to: `+${++receiver}`,
      message: 'credential cache',
      noStop: '1',
      contentType: 'application/json',
    },
    localAddress,
  ).then((body) => JSON.parse(body) as { status: number; message?: string })

async function seed(db: Db, box: SecretBox): Promise<void> {
  await enableSender(db, systemClock, SERVICE, 'ACME')
  await createUser(db, box, ALL_OWNERS, SERVICE, { login: LOGIN, password: 'first123' })
}

async function scenario(t: Test, target: Target): Promise<void> {
  const { db, box } = target
  // Warm: the first success trusts 127.0.0.1 for the login, the next ones are served from memory.
  for (let i = 0; i < 3; i++) t.equal((await send(target, 'first123')).status, 100, `send ${i + 1} accepted`)

  await updateUserSettings(db, box, ALL_OWNERS, SERVICE, LOGIN, { password: 'second45' })
  t.equal((await send(target, 'first123')).status, 401, 'the old password is refused at once')
  t.equal((await send(target, 'second45')).status, 100, 'the new one is taken at once')
  t.equal((await send(target, 'second45')).status, 100)

  // Straight SQL, as another client of the database would write it.
  await sql`update sms_users set password_enc = ${box.seal('third678')} where login = ${LOGIN}`.execute(db)
  t.equal((await send(target, 'second45')).status, 401, 'a password written by SQL: the old one refused')
  t.equal((await send(target, 'third678')).status, 100)

  await updateUserSettings(db, box, ALL_OWNERS, SERVICE, LOGIN, { ipRestrictions: ['127.0.0.2'] })
  t.equal((await send(target, 'third678')).status, 401, 'an address no longer allowed is refused at once')
  t.equal((await send(target, 'third678', '127.0.0.2')).status, 100, 'the allowed one is taken')
  await updateUserSettings(db, box, ALL_OWNERS, SERVICE, LOGIN, { ipRestrictions: [] })
  t.equal((await send(target, 'third678')).status, 100, 'restrictions lifted: taken again at once')
  t.equal((await send(target, 'third678')).status, 100)

  // Failures counted elsewhere (another replica's LoginGuard) for this login from 127.0.0.1: the
  // verdict kept for that pair is dropped, the right password is refused until the window ends.
  const guard = new LoginGuard(db)
  const attempt = { account: SERVICE, login: LOGIN, address: countedAddress('127.0.0.1') }
  for (let i = 0; i < LOCKOUT.perPair; i++) await guard.failed(attempt, target.now())
  const locked = await send(target, 'third678')
  t.equal(locked.status, 401, 'locked out at once by failures counted in another process')
  t.match(locked.message, /Too many failed attempts/)
  t.equal((await send(target, 'third678', '127.0.0.2')).status, 100, 'another address is not locked')
  await db.deleteFrom('http2sms_guard').execute()
  t.equal((await send(target, 'third678')).status, 100, 'failures forgotten: taken again')
  t.equal((await send(target, 'third678')).status, 100)

  // The login under attack from many addresses: its trusted address still gets in, until that trust
  // is deleted (by another process): then the kept verdict must not let it in.
  for (let i = 0; i < LOCKOUT.perLogin; i++) {
    await guard.failed({ ...attempt, address: `198.51.100.${i}` }, target.now())
  }
  t.equal((await send(target, 'third678')).status, 100, 'the trusted address is exempt from the login block')
  await sql`delete from http2sms_guard where subject like 'trusted:%'`.execute(db)
  const blocked = await send(target, 'third678')
  t.equal(blocked.status, 401, 'its trust deleted elsewhere: blocked with the login at once')
  t.match(blocked.message, /many addresses/)
  await db.deleteFrom('http2sms_guard').execute()
  t.equal((await send(target, 'third678')).status, 100)

  await sql`delete from sms_users where login = ${LOGIN}`.execute(db)
  t.equal((await send(target, 'third678')).status, 401, 'a deleted user is refused at once')
  await createUser(db, box, ALL_OWNERS, SERVICE, { login: LOGIN, password: 'fourth90' })
  t.equal(
    (await send(target, 'third678')).status,
    401,
    'created again with another password: the old refused',
  )
  t.equal((await send(target, 'fourth90')).status, 100)
}

t.test('one process (PGlite or PostgreSQL): every credential change obeyed at once', async (t) => {
  const { app, deps } = await buildTestApp(t, { credits: 100 })
  await seed(deps.database.db, deps.secretBox)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  await scenario(t, {
    base: `http://127.0.0.1:${port}`,
    db: deps.database.db,
    box: deps.secretBox,
    now: () => deps.clock.now(),
  })
})

t.test(
  'a server process on PostgreSQL obeys changes made by another process at once',
  { skip: usingPostgres ? false : 'needs PostgreSQL: two processes share one database' },
  async (t) => {
    const url = await freshDatabaseOn(t, process.env.DATABASE_URL as string)
    const handle = await createDb({ kind: 'postgres', url })
    t.teardown(() => handle.close())
    await migrateToLatest(handle)
    const box = createSecretBox(SECRET_KEY)
    const owner = await createOwner(handle.db, 'acme')
    await createAccount(handle.db, { ownerId: owner.id, serviceName: SERVICE, credits: 100 })
    await seed(handle.db, box)
    const port = await freePort()
    const server = spawnServer(t, {
      DATABASE_URL: url,
      SECRET_KEY,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    })
    const base = `http://127.0.0.1:${port}`
    await waitHealthy(server, base)
    await scenario(t, { base, db: handle.db, box, now: () => new Date() })
  },
)
