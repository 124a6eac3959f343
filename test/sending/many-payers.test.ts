import { sql } from 'kysely'
import t from 'tap'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { ApiError } from '../../src/errors.js'
import { prepareSend } from '../../src/sending/request.js'
import { writeSends } from '../../src/sending/send-steps.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

// One batch of sends for many users (src/sending/send-steps.ts): the quotas that pay are spent by
// one statement for all of them (spendForPayers), the others each on their own path; every request
// gets the answer it would have got alone, and the books balance.

const { app, deps, clock } = await buildTestApp(t, { credits: 1000 })
const { db } = deps.database
const account = await db
  .selectFrom('accounts')
  .select('id')
  .where('service_name', '=', SERVICE)
  .executeTakeFirstOrThrow()
await db.insertInto('senders').values({ account_id: account.id, sender: 'ACME', status: 'enable' }).execute()

/** login → quota in credits (null: quota inactive, the account pays). */
const users: [string, number | null][] = [
  ['plenty01', 50],
  ['plenty02', 50],
  ['oneleft1', 1],
  ['inactive', null],
  ['emptyone', 0],
  ['plenty03', 50],
]
for (const [login, quota] of users) {
  const created = await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login, password: 'abcd1234' })
  if (created.status !== 200) throw new Error(`${login} not created: ${created.status}`)
  if (quota !== null) {
    const set = await call(app, 'PUT', `/1.0/sms/${SERVICE}/users/${login}`, {
      quotaInformations: { quotaStatus: 'active', quotaLeft: quota },
    })
    if (set.status !== 200) throw new Error(`${login}: quota not set: ${set.status}`)
  }
}

const quotaOf = async (login: string) =>
  (
    await db
      .selectFrom('sms_users')
      .select('quota_left')
      .where('account_id', '=', account.id)
      .where('login', '=', login)
      .executeTakeFirstOrThrow()
  ).quota_left
const creditsLeft = async () =>
  (
    await db
      .selectFrom('accounts')
      .select('credits_left')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow()
  ).credits_left

t.test('a batch over many users: each request answered as alone, quotas and ledger agree', async (t) => {
  const accountBefore = await creditsLeft()
  let n = 0
  const send = (login: string, receivers = 1) =>
    prepareSend(
      { scope: ALL_OWNERS, serviceName: SERVICE, login },
      {
        message: 'Hello',
        receivers: Array.from({ length: receivers }, () => `+3361${String(n++).padStart(7, '0')}`),
        sender: 'ACME',
        noStopClause: true,
      },
      clock.now(),
    )
  const batch = [
    send('plenty01', 3),
    send('oneleft1'),
    send('plenty02'),
    send('oneleft1'), // the quota had 1 credit: the second one is refused
    send('inactive', 2), // paid by the account
    send('emptyone'),
    send('nobody01'), // no such user
    send('plenty01'),
    send('plenty03', 2),
  ]
  const outcomes = await db.transaction().execute((trx) => writeSends(trx, batch, deps.config.rates))
  const summary = outcomes.map((o) =>
    o.ok ? o.value.ids.length : o.error instanceof ApiError ? o.error.statusCode : String(o.error),
  )
  t.same(summary, [3, 1, 1, 400, 2, 400, 404, 1, 2], 'ids per request, or the refusal status')
  const refusal = (i: number) => {
    const o = outcomes[i]
    return o && !o.ok && o.error instanceof ApiError ? o.error.message : ''
  }
  t.match(refusal(3), /quota has 0 credits left, 1 needed/, 'the second send of oneleft1: its quota is spent')
  t.match(refusal(5), /quota has 0 credits left/, 'emptyone: nothing in its quota')
  t.match(refusal(6), /nobody01/, 'the unknown user is named')

  t.equal(await quotaOf('plenty01'), 4600, 'plenty01: 50 − 4 credits')
  t.equal(await quotaOf('plenty02'), 4900)
  t.equal(await quotaOf('plenty03'), 4800)
  t.equal(await quotaOf('oneleft1'), 0)
  t.equal(await creditsLeft(), accountBefore - 200, 'the account paid the inactive quota’s 2 SMS')

  const { rows } = await sql<{ login: string; quota: number; account: number; spends: number }>`
    select login, sum(quota_delta)::int8 as quota, sum(account_delta)::int8 as account,
           count(*) filter (where kind = 'spend')::int8 as spends
      from credit_ledger where account_id = ${account.id} and login is not null
     group by login order by login`.execute(db)
  const byLogin = Object.fromEntries(rows.map((r) => [r.login, r]))
  for (const [login] of users) {
    t.equal(Number(byLogin[login]?.quota ?? 0), await quotaOf(login), `${login}: ledger rebuilds the quota`)
  }
  t.equal(Number(byLogin.plenty01?.spends), 2, 'one ledger row per paid request')
  t.equal(Number(byLogin.inactive?.account), -200, 'the inactive quota’s spend is on the account')
  const { rows: outgoing } = await sql<{ login: string; n: number }>`
    select login, count(*)::int8 as n from outgoing where account_id = ${account.id} group by login order by login`.execute(
    db,
  )
  t.same(
    outgoing.map((r) => [r.login, Number(r.n)]),
    [
      ['inactive', 2],
      ['oneleft1', 1],
      ['plenty01', 4],
      ['plenty02', 1],
      ['plenty03', 2],
    ],
    'outgoing rows only for the paid requests',
  )
})
