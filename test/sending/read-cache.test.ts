import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { SendReadCache } from '../../src/sending/read-cache.js'
import { buildTestApp, call, SERVICE, sameSigningAs, usingPostgres } from '../helpers.js'
import { waitFor } from '../support/wait.js'

// The send-read cache (src/sending/read-cache.ts): what a batch reads about its account (senders,
// blacklist) kept between batches, dropped by NOTIFY in every process, and never trusted: the write
// statement checks it again, so a change committed in one process is obeyed by the next send in
// another even before its notification arrives.

const jobs = `/1.0/sms/${SERVICE}/jobs`
let n = 0
const receiver = () => `+3361${String(n++).padStart(7, '0')}`
const send = (app: FastifyInstance, to = receiver(), sender = 'ACME') =>
  call(app, 'POST', jobs, { message: 'Hello', receivers: [to], sender, noStopClause: true })

/** Sends until a send is answered from the cache (a read overlapping a notification is not stored). */
async function warm(t: Test, app: FastifyInstance) {
  const cache = app.sending.readCache
  await waitFor('a send served from the cache', async () => {
    const hits = cache.stats.hits
    t.equal((await send(app)).status, 200)
    return cache.stats.hits > hits
  })
}

async function setUp(t: Test) {
  const built = await buildTestApp(t, { credits: 1000 })
  const { db } = built.app
  const account = await db
    .selectFrom('accounts')
    .select(['id', 'owner_id'])
    .where('service_name', '=', SERVICE)
    .executeTakeFirstOrThrow()
  await db
    .insertInto('senders')
    .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
    .execute()
  // The key the signed requests' scope (their owner) reads the account under.
  return { ...built, accountId: account.id, key: SendReadCache.key(account.owner_id, SERVICE) }
}

const rowsTo = async (app: FastifyInstance, number: string) =>
  Number(
    (
      await app.db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('receiver', '=', number)
        .executeTakeFirstOrThrow()
    ).n,
  )

t.test(
  'one process: a sender disabled or a number blacklisted by any statement is obeyed at once',
  async (t) => {
    const { app, accountId } = await setUp(t)
    await warm(t, app)
    await sql`update senders set status = 'disable' where account_id = ${accountId} and sender = 'ACME'`.execute(
      app.db,
    )
    const refused = await send(app)
    t.equal(refused.status, 400, 'disabled sender refused')
    t.match(refused.body.message, /not an enabled sender/)
    await sql`update senders set status = 'enable' where account_id = ${accountId} and sender = 'ACME'`.execute(
      app.db,
    )
    t.equal((await send(app)).status, 200, 'enabled again: sent')

    await warm(t, app)
    const listed = receiver()
    await sql`insert into blacklist (account_id, number, created_at) values (${accountId}, ${listed}, now())`.execute(
      app.db,
    )
    const dropped = await send(app, listed)
    t.equal(dropped.status, 200)
    t.same(dropped.body.invalidReceivers, [listed], 'the blacklisted number is reported invalid')
    t.equal(await rowsTo(app, listed), 0, 'and nothing is written for it')
    await sql`delete from blacklist where account_id = ${accountId} and number = ${listed}`.execute(app.db)
    const again = await send(app, listed)
    t.same(again.body.validReceivers, [listed], 'off the blacklist: sent')
  },
)

t.test('a stale entry is never obeyed: the write checks it again and falls back', async (t) => {
  const { app, accountId, key } = await setUp(t)
  await warm(t, app)
  const cache = app.sending.readCache
  // The notifications are not heard from now on: only the write statement's checks stand.
  const heard = cache.heard.bind(cache)
  cache.heard = () => {}
  t.teardown(() => {
    cache.heard = heard
  })
  await sql`update senders set status = 'disable' where account_id = ${accountId} and sender = 'ACME'`.execute(
    app.db,
  )
  t.equal(cache.get(key)?.senders.get('ACME'), 'enable', 'the cache still says enabled')
  const refused = await send(app)
  t.equal(refused.status, 400, 'refused all the same')
  t.equal(cache.get(key), undefined, 'and the stale entry is gone')
  await sql`update senders set status = 'enable' where account_id = ${accountId} and sender = 'ACME'`.execute(
    app.db,
  )
  await warm(t, app)
  const listed = receiver()
  await sql`insert into blacklist (account_id, number, created_at) values (${accountId}, ${listed}, now())`.execute(
    app.db,
  )
  t.notOk(cache.get(key)?.blacklisted.has(listed), 'the cache does not know the number is blacklisted')
  const dropped = await send(app, listed)
  t.same(dropped.body.invalidReceivers, [listed], 'blacklisted all the same')
  t.equal(await rowsTo(app, listed), 0)
})

t.test(
  'two app instances on one PostgreSQL database: a change in one is obeyed by the next send of the other',
  { skip: usingPostgres ? false : 'needs PostgreSQL: processes hear changes through LISTEN/NOTIFY' },
  async (t) => {
    const { app: first, deps, accountId, key } = await setUp(t)
    const second = await buildApp(deps, { logger: false, workers: false })
    t.teardown(() => second.close())
    sameSigningAs(second, first)
    await warm(t, first)

    // No waiting: each send follows the change's answer, and must obey it.
    for (let i = 0; i < 5; i++) {
      await sql`update senders set status = 'disable' where account_id = ${accountId} and sender = 'ACME'`.execute(
        second.db,
      )
      t.equal((await send(first)).status, 400, `round ${i}: disabled in the other instance: refused`)
      await sql`update senders set status = 'enable' where account_id = ${accountId} and sender = 'ACME'`.execute(
        second.db,
      )
      t.equal((await send(first)).status, 200, `round ${i}: enabled again: sent`)
      const listed = receiver()
      await sql`insert into blacklist (account_id, number, created_at) values (${accountId}, ${listed}, now())`.execute(
        second.db,
      )
      t.same((await send(first, listed)).body.invalidReceivers, [listed], `round ${i}: blacklisted: dropped`)
      t.equal(await rowsTo(first, listed), 0)
    }

    // The notification itself reaches the other process and drops its entry there.
    await warm(t, first)
    const cache = first.sending.readCache
    const dropped = cache.stats.dropped
    await sql`insert into blacklist (account_id, number, created_at) values (${accountId}, ${receiver()}, now())`.execute(
      second.db,
    )
    await waitFor('the entry dropped by the notification', () => cache.get(key) === undefined)
    t.ok(cache.stats.dropped > dropped, 'dropped by the notification, before any send')
  },
)

t.test('a read during which its account changed is not stored', async (t) => {
  const cache = new SendReadCache()
  ;(cache as unknown as { following: boolean }).following = true
  const entry = (id: number) => ({
    account: { id } as never,
    senders: new Map([['ACME', 'enable']]),
    defaultSender: 'ACME',
    blacklisted: new Set<string>(),
    logins: new Map<string, boolean>(),
  })
  const mark = cache.mark()
  cache.heard('[7]')
  cache.store('seven', mark, entry(7))
  t.equal(cache.get('seven'), undefined, 'account 7 changed during the read: not stored')
  cache.store('eight', mark, entry(8))
  t.ok(cache.get('eight'), 'another account is stored')
  cache.heard('[8]')
  t.equal(cache.get('eight'), undefined, 'and dropped by its own notification')
  cache.heard('not json')
  const late = cache.mark()
  cache.store('nine', mark, entry(9))
  t.equal(cache.get('nine'), undefined, 'an unreadable notification refuses every earlier read')
  cache.store('nine', late, entry(9))
  t.ok(cache.get('nine'), 'a read after it is stored')
})
