import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { RowChanges } from '../../src/db/row-changes.js'
import { buildTestApp, call, SERVICE, sameSigningAs, usingPostgres } from '../helpers.js'
import { waitFor } from '../support/wait.js'

const users = `/1.0/sms/${SERVICE}/users`

/**
 * Reads the user until a read stores it: on PostgreSQL a read that overlaps the notification of an
 * earlier change (its creation, another test file's statements on the shared channel) is not stored.
 */
async function readUntilCached(t: Test, app: FastifyInstance, login: string) {
  await waitFor(`${login} cached`, async () => {
    t.equal((await call(app, 'GET', `${users}/${login}`)).status, 200)
    return app.userCache.size === 1
  })
}

t.test('one process: a change made by any statement is read back at once, never a stale entry', async (t) => {
  const { app } = await buildTestApp(t)
  const { db } = app
  t.equal((await call(app, 'POST', users, { login: 'cached01', password: 'abcd1234' })).status, 200)
  t.equal((await call(app, 'GET', `${users}/cached01`)).body.callBack, null)
  await readUntilCached(t, app, 'cached01')
  const served = await call(app, 'GET', `${users}/cached01`)
  t.equal(served.status, 200, 'served while cached')

  // Straight SQL, not through the routes: only the trigger's notification can tell the cache.
  await sql`update sms_users set call_back = 'https://example.com/direct' where login = 'cached01'`.execute(
    db,
  )
  t.equal((await call(app, 'GET', `${users}/cached01`)).body.callBack, 'https://example.com/direct')

  for (let i = 1; i <= 5; i++) {
    const put = await call(app, 'PUT', `${users}/cached01`, {
      alertThresholdInformations: { alertThreshold: i },
    })
    t.equal(put.status, 200)
    const read = await call(app, 'GET', `${users}/cached01`)
    t.equal(read.body.alertThresholdInformations.alertThreshold, i, `change ${i} read back at once`)
  }

  // Renaming the account moves its users: the old name answers 404, the new one the user.
  await sql`update accounts set service_name = 'sms-renamed-1' where service_name = ${SERVICE}`.execute(db)
  t.equal((await call(app, 'GET', `${users}/cached01`)).status, 404, 'the old service name no longer answers')
  t.equal((await call(app, 'GET', '/1.0/sms/sms-renamed-1/users/cached01')).status, 200)
  await sql`update accounts set service_name = ${SERVICE} where service_name = 'sms-renamed-1'`.execute(db)

  t.equal((await call(app, 'GET', `${users}/cached01`)).status, 200)
  await sql`delete from sms_users where login = 'cached01'`.execute(db)
  t.equal((await call(app, 'GET', `${users}/cached01`)).status, 404, 'deleted: not served from the cache')
  t.equal(app.userCache.size, 0)
})

t.test('another owner never reads a cached user', async (t) => {
  const { app } = await buildTestApp(t)
  t.equal((await call(app, 'POST', users, { login: 'owned01', password: 'abcd1234' })).status, 200)
  await readUntilCached(t, app, 'owned01')
  const other = await app.userCache.find(app.db, { ownerId: -1 }, SERVICE, 'owned01')
  t.equal(other, undefined, 'a scope of another owner gets nothing from the cached entry')
})

t.test('a row read while a change to it is heard is not stored', async (t) => {
  const changes = new RowChanges()
  changes.heard({ table: 'all' })
  t.equal(changes.mark(), -1, 'nothing stored while not following')
  ;(changes as unknown as { following: boolean }).following = true
  const mark = changes.mark()
  t.notOk(
    changes.changedSince(mark, () => true),
    'nothing heard since',
  )
  changes.heard({ table: 'sms_users', keys: [[7, 'other']] })
  t.notOk(
    changes.changedSince(
      mark,
      (c) => c.table === 'sms_users' && c.keys.some(([a, l]) => a === 7 && l === 'me'),
    ),
    'a change to another row does not count',
  )
  changes.heard({ table: 'sms_users', keys: [[7, 'me']] })
  t.ok(
    changes.changedSince(
      mark,
      (c) => c.table === 'sms_users' && c.keys.some(([a, l]) => a === 7 && l === 'me'),
    ),
    'a change to the row does',
  )
  for (let i = 0; i < 10_000; i++) changes.heard({ table: 'accounts', ids: [i + 100] })
  t.ok(
    changes.changedSince(mark, () => false),
    'a mark older than the log counts as changed',
  )
  t.notOk(
    changes.changedSince(changes.mark(), () => true),
    'a fresh mark after the churn is clean',
  )
})

t.test(
  'two app instances on one PostgreSQL database: a change in one is read in the other at once',
  { skip: usingPostgres ? false : 'needs PostgreSQL: processes hear row changes through LISTEN/NOTIFY' },
  async (t) => {
    const { app: first, deps } = await buildTestApp(t)
    const second = await buildApp(deps, { logger: false, workers: false })
    t.teardown(() => second.close())
    sameSigningAs(second, first)
    t.equal((await call(first, 'POST', users, { login: 'shared01', password: 'abcd1234' })).status, 200)
    await readUntilCached(t, second, 'shared01')

    // No waiting: each read follows the change's answer, and must already see it.
    for (let i = 1; i <= 20; i++) {
      const put = await call(first, 'PUT', `${users}/shared01`, {
        alertThresholdInformations: { alertThreshold: i },
      })
      t.equal(put.status, 200)
      const read = await call(second, 'GET', `${users}/shared01`)
      if (read.body.alertThresholdInformations?.alertThreshold !== i) {
        t.fail(`change ${i} not seen by the other instance: ${JSON.stringify(read.body)}`)
        return
      }
    }
    t.pass('20 changes in the first instance, each read back at once by the second')

    // A change from outside both (another client of the database) reaches the second too.
    const client = new pg.Client({
      connectionString: process.env.DATABASE_URL,
      options: `-c search_path=${deps.database.schema}`,
    })
    await client.connect()
    t.teardown(() => client.end())
    await client.query(`update sms_users set password_enc = $1 where login = 'shared01'`, [
      deps.secretBox.seal('changed99'),
    ])
    t.equal((await call(second, 'GET', `${users}/shared01`)).body.password, 'changed99')

    // Reads racing writes: once the writes are acknowledged, the next read shows the last one.
    const writes = (async () => {
      for (let i = 100; i < 130; i++) {
        await client.query(`update sms_users set alert_threshold = $1 where login = 'shared01'`, [i])
      }
    })()
    const reads = (async () => {
      let done = false
      void writes.then(() => {
        done = true
      })
      while (!done) await Promise.all([1, 2, 3, 4].map(() => call(second, 'GET', `${users}/shared01`)))
    })()
    await Promise.all([writes, reads])
    const last = await call(second, 'GET', `${users}/shared01`)
    t.equal(last.body.alertThresholdInformations.alertThreshold, 129, 'the last write is what is served')
    await readUntilCached(t, second, 'shared01')
    const cached = await call(second, 'GET', `${users}/shared01`)
    t.equal(cached.body.alertThresholdInformations.alertThreshold, 129, 'and from the cache again')
  },
)
