import { sql } from 'kysely'
import t from 'tap'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { ApiError } from '../../src/errors.js'
import { prepareSend } from '../../src/sending/request.js'
import { writeSends, writeSendsAtOnce } from '../../src/sending/send-steps.js'
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

t.test('the one-statement path pays many users and the account at once, or writes nothing', async (t) => {
  let n = 0
  const send = (login: string | null, receivers = 1) =>
    prepareSend(
      { scope: ALL_OWNERS, serviceName: SERVICE, login },
      {
        message: 'Hello',
        receivers: Array.from({ length: receivers }, () => `+3362${String(n++).padStart(7, '0')}`),
        sender: 'ACME',
        noStopClause: true,
      },
      clock.now(),
    )
  const ledgerRows = async () =>
    Number(
      (
        await db
          .selectFrom('credit_ledger')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('account_id', '=', account.id)
          .executeTakeFirstOrThrow()
      ).n,
    )
  const state = async () => ({
    plenty01: await quotaOf('plenty01'),
    plenty02: await quotaOf('plenty02'),
    account: await creditsLeft(),
    ledger: await ledgerRows(),
  })

  const before = await state()
  const batch = [send('plenty01', 2), send(null), send('inactive', 3), send('plenty02'), send('plenty01')]
  const outcomes = await writeSendsAtOnce(db, batch, deps.config.rates)
  t.ok(outcomes, 'written without a transaction')
  t.same(
    outcomes?.map((o) => (o.ok ? o.value.ids.length : 'refused')),
    [2, 1, 3, 1, 1],
  )
  t.equal(await quotaOf('plenty01'), before.plenty01 - 300, 'plenty01 paid its 3 SMS from its quota')
  t.equal(await quotaOf('plenty02'), before.plenty02 - 100)
  t.equal(
    await creditsLeft(),
    before.account - 400,
    'the account paid its own SMS and the inactive quota’s 3',
  )
  t.equal(await ledgerRows(), before.ledger + 5, 'one ledger row per request')
  const { rows } = await sql<{ login: string | null; spend_source: string; n: number }>`
    select login, spend_source, count(*)::int8 as n from outgoing
     where account_id = ${account.id} and receiver like '+3362%'
     group by login, spend_source order by login nulls first`.execute(db)
  t.same(
    rows.map((r) => [r.login, r.spend_source, Number(r.n)]),
    [
      [null, 'account', 1],
      ['inactive', 'account', 3],
      ['plenty01', 'quota', 3],
      ['plenty02', 'quota', 1],
    ],
    'each row says who paid it',
  )

  const refusedWhole = async (what: string, batch: ReturnType<typeof send>[]) => {
    const before = await state()
    t.equal(
      await writeSendsAtOnce(db, batch, deps.config.rates),
      null,
      `${what}: left to the transaction path`,
    )
    t.same(await state(), before, `${what}: nothing written`)
  }
  await refusedWhole('a quota short', [send('plenty01'), send('oneleft1')])
  await refusedWhole('an account short', [send('plenty01'), send('inactive', 900)])
  const unknown = await writeSendsAtOnce(db, [send('plenty02'), send('nobody01')], deps.config.rates)
  t.same(
    unknown?.map((o) => (o.ok ? o.value.ids.length : o.error instanceof ApiError && o.error.statusCode)),
    [1, 404],
    'an unknown user (refused by the read) is refused alone; the others are written at once',
  )
  await db
    .updateTable('sms_users')
    .set({ alert_threshold: 44 })
    .where('account_id', '=', account.id)
    .where('login', '=', 'plenty02')
    .execute()
  // plenty02 has 47 credits: spending 4 crosses its threshold of 44 (an alert to write).
  await refusedWhole('a quota crossing its alert threshold', [send('plenty01'), send('plenty02', 4)])
  const outcome = await writeSendsAtOnce(db, [send('plenty02', 2)], deps.config.rates)
  t.ok(outcome?.[0]?.ok, 'above the threshold after the spend: written at once')
})
