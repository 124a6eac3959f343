import t from 'tap'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { ApiError } from '../../src/errors.js'
import { createSendQueue, sendMessages } from '../../src/sending/service.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

// Group commit (src/sending/group-commit.ts): concurrent sends are written together, and each still
// gets its own answer; a quota is never overdrawn and a refused request writes nothing.

const { app, deps, clock } = await buildTestApp(t, { credits: 1000 })
const { db } = deps.database
const account = await db
  .selectFrom('accounts')
  .select('id')
  .where('service_name', '=', SERVICE)
  .executeTakeFirstOrThrow()
await db
  .insertInto('senders')
  .values([
    { account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' },
    { account_id: account.id, sender: 'WAITING', type: 'alpha' },
  ])
  .execute()
await db
  .insertInto('blacklist')
  .values({ account_id: account.id, number: '+33699999999', created_at: clock.now() })
  .execute()

const base = `/1.0/sms/${SERVICE}`
for (const login of ['quota001', 'nquota01', 'alert001']) {
  await call(app, 'POST', `${base}/users`, { login, password: 'abcd1234' })
}
await call(app, 'PUT', `${base}/users/quota001`, {
  quotaInformations: { quotaStatus: 'active', quotaLeft: 30 },
})
await call(app, 'PUT', `${base}/users/alert001`, {
  quotaInformations: { quotaStatus: 'active', quotaLeft: 10 },
  alertThresholdInformations: { alertThreshold: 5, support: 'mail', alertEmail: 'ops@example.com' },
})

const receiver = (n: number) => `+3361${String(n).padStart(7, '0')}`
const send = (login: string, n: number, extra: Record<string, unknown> = {}) =>
  call(app, 'POST', `${base}/users/${login}/jobs`, {
    message: 'Hello',
    receivers: [receiver(n)],
    sender: 'ACME',
    noStopClause: true,
    ...extra,
  })
const credits = async () =>
  (
    await db
      .selectFrom('accounts')
      .select('credits_left')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow()
  ).credits_left

t.test('60 concurrent sends on a quota of 30: 30 accepted, 30 refused', async (t) => {
  const answers = await Promise.all(Array.from({ length: 60 }, (_, n) => send('quota001', n)))
  const accepted = answers.filter((a) => a.status === 200)
  const refused = answers.filter((a) => a.status !== 200)
  t.equal(accepted.length, 30)
  t.equal(refused.length, 30)
  for (const a of refused) {
    t.equal(a.status, 400)
    t.match(a.body.message, /^Not enough credits: the user's quota has 0 credits left, 1 needed/)
  }
  const ids = accepted.map((a) => a.body.ids[0])
  t.equal(new Set(ids).size, 30, 'distinct ids')
  const rows = await db
    .selectFrom('outgoing')
    .select(['id', 'receiver'])
    .where('login', '=', 'quota001')
    .execute()
  t.equal(rows.length, 30)
  for (const a of accepted) {
    const row = rows.find((r) => r.id === a.body.ids[0])
    t.equal(row?.receiver, a.body.validReceivers[0], 'each answer names its own row')
  }
  const user = await db
    .selectFrom('sms_users')
    .select('quota_left')
    .where('login', '=', 'quota001')
    .executeTakeFirstOrThrow()
  t.equal(user.quota_left, 0)
  const spends = await db
    .selectFrom('credit_ledger')
    .select(['quota_delta', 'reference'])
    .where('login', '=', 'quota001')
    .where('kind', '=', 'spend')
    .execute()
  t.equal(spends.length, 30, 'one ledger row per accepted request')
  t.ok(spends.every((s) => s.quota_delta === -100 && s.reference?.startsWith('batch:')))
})

t.test('requests queued while a batch is written go together in the next one', async (t) => {
  await call(app, 'PUT', `${base}/users/quota001`, {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 20 },
  })
  const batcher = createSendQueue(db, deps.config.rates, { maxBatch: 256, concurrency: 1 })
  const sending = { queue: batcher, clock }
  const target = { scope: ALL_OWNERS, serviceName: SERVICE, login: 'quota001' }
  // sendMessages does not wait before it queues: 25 calls in one tick are queued together.
  const settled = await Promise.allSettled(
    Array.from({ length: 25 }, (_, n) =>
      sendMessages(sending, target, { message: 'Hi', receivers: [receiver(500 + n)], sender: 'ACME' }),
    ),
  )
  t.same(batcher.stats, { batches: 2, requests: 25, largest: 24 }, 'the first alone, then the 24 others')
  const fulfilled = settled.filter((s) => s.status === 'fulfilled')
  t.equal(fulfilled.length, 20, 'as many as the quota pays')
  const rejected = settled.filter((s) => s.status === 'rejected')
  t.equal(rejected.length, 5)
  t.ok(rejected.every((s) => s.reason instanceof ApiError && s.reason.statusCode === 400))
  t.same(
    settled.map((s) => s.status),
    [...Array(20).fill('fulfilled'), ...Array(5).fill('rejected')],
    'paid in the order they came',
  )
})

t.test('a batch of mixed requests: each gets its own answer', async (t) => {
  const creditsBefore = await credits()
  const [ok, unknownUser, disabledSender, blacklisted, fromAccount, unknownService] = await Promise.all([
    send('nquota01', 100),
    send('nobody01', 101),
    send('nquota01', 102, { sender: 'WAITING' }),
    call(app, 'POST', `${base}/users/nquota01/jobs`, {
      message: 'Hello',
      receivers: ['+33699999999'],
      sender: 'ACME',
    }),
    send('nquota01', 103, { message: 'x'.repeat(200) }),
    call(app, 'POST', '/1.0/sms/sms-zz99999-1/users/nquota01/jobs', {
      message: 'Hello',
      receivers: [receiver(104)],
      sender: 'ACME',
    }),
  ])
  t.equal(ok.status, 200)
  t.equal(ok.body.ids.length, 1)
  t.equal(unknownUser.status, 404)
  t.match(unknownUser.body.message, /nobody01/)
  t.equal(disabledSender.status, 400)
  t.match(disabledSender.body.message, /WAITING/)
  t.equal(blacklisted.status, 200)
  t.same(blacklisted.body.ids, [])
  t.same(blacklisted.body.invalidReceivers, ['+33699999999'])
  t.equal(fromAccount.status, 200)
  t.equal(fromAccount.body.totalCreditsRemoved, 2, 'two parts')
  t.equal(unknownService.status, 404)
  t.equal(await credits(), creditsBefore - 300, 'the account paid 1 + 2 credits, nothing for the refused')
  const rows = await db.selectFrom('outgoing').select('receiver').where('login', '=', 'nquota01').execute()
  t.same(rows.map((r) => r.receiver).sort(), [receiver(100), receiver(103)])
})

t.test('a batch that crosses the alert threshold raises one alert', async (t) => {
  const answers = await Promise.all(Array.from({ length: 8 }, (_, n) => send('alert001', 200 + n)))
  t.ok(answers.every((a) => a.status === 200))
  const alerts = await db
    .selectFrom('alerts')
    .select(['threshold', 'quota_left'])
    .where('login', '=', 'alert001')
    .execute()
  t.equal(alerts.length, 1)
  t.ok((alerts[0]?.quota_left ?? 1000) <= 500, 'the quota left after the batch that crossed')
})
