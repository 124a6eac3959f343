import t from 'tap'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { ApiError } from '../../src/errors.js'
import { createSendQueue, type Sending, type SendQueue, sendMessages } from '../../src/sending/service.js'
import { admin, buildTestApp, call, createKeys, SERVICE } from '../helpers.js'

// No request of one tenant may fail or hold up another tenant's requests written in the same group
// commit (src/sending/group-commit.ts): a user deleted mid-batch, a value the database refuses, a
// flood of requests, a request with many receivers.

const { app, deps, clock } = await buildTestApp(t, { credits: 100_000 })
const { db } = deps.database
const OTHER = 'sms-other-1'
const other = await admin(app, 'POST', '/admin/v1/owners', { name: 'umbrella' })
await admin(app, 'POST', '/admin/v1/accounts', { serviceName: OTHER, owner: other.body.id, credits: 100_000 })
const otherKeys = await createKeys(app, other.body.id, [
  { method: 'POST', path: '/*' },
  { method: 'GET', path: '/*' },
])
for (const serviceName of [SERVICE, OTHER]) {
  const { id } = await db
    .selectFrom('accounts')
    .select('id')
    .where('service_name', '=', serviceName)
    .executeTakeFirstOrThrow()
  await db.insertInto('senders').values({ account_id: id, sender: 'ACME', status: 'enable' }).execute()
}
await call(app, 'POST', `/1.0/sms/${OTHER}/users`, { login: 'bystand1', password: 'abcd1234' }, otherKeys)
await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login: 'sender01', password: 'abcd1234' })

const receiver = (n: number) => `+3361${String(n).padStart(7, '0')}`
const job = (n: number, extra: Record<string, unknown> = {}) => ({
  message: 'Hello',
  receivers: [receiver(n)],
  sender: 'ACME',
  noStopClause: true,
  ...extra,
})

t.test(
  'a user deleted while its sends are queued: 404 for its own requests, 200 for the others',
  async (t) => {
    const victimAnswers: number[] = []
    const bystanderAnswers: number[] = []
    const notFoundMessages = new Set<string>()
    for (let round = 0; round < 20; round++) {
      const created = await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, {
        login: 'victim01',
        password: 'abcd1234',
      })
      t.equal(created.status, 200, `round ${round}: victim01 created`)
      // Interleaved, so that the batches that meet the deletion hold the other owner's requests too.
      const victim: ReturnType<typeof call>[] = []
      const bystander: ReturnType<typeof call>[] = []
      let removal: ReturnType<typeof call> | undefined
      for (let n = 0; n < 10; n++) {
        victim.push(call(app, 'POST', `/1.0/sms/${SERVICE}/users/victim01/jobs`, job(round * 100 + n)))
        bystander.push(
          call(app, 'POST', `/1.0/sms/${OTHER}/users/bystand1/jobs`, job(round * 100 + n), otherKeys),
        )
        if (n === 1) removal = call(app, 'DELETE', `/1.0/sms/${SERVICE}/users/victim01`)
      }
      const [answers, removed, others] = await Promise.all([
        Promise.all(victim),
        removal as ReturnType<typeof call>,
        Promise.all(bystander),
      ])
      t.equal(removed.status, 200, `round ${round}: victim01 deleted`)
      for (const answer of answers) {
        victimAnswers.push(answer.status)
        if (answer.status === 404) notFoundMessages.add(answer.body.message)
      }
      bystanderAnswers.push(...others.map((answer) => answer.status))
    }
    t.same(
      bystanderAnswers.filter((status) => status !== 200),
      [],
      'the other owner got 200 for each of its 200 sends',
    )
    t.same(
      victimAnswers.filter((status) => status !== 200 && status !== 404),
      [],
      'the victim got 200 (its send won the race) or 404, never a 5xx',
    )
    for (const message of notFoundMessages) t.match(message, /login = victim01\) does not exist/)
    const accepted = victimAnswers.filter((status) => status === 200).length
    t.comment(`victim01: ${accepted} sent before the deletion, ${200 - accepted} refused with 404`)
    const rows = await db
      .selectFrom('outgoing')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('login', '=', 'victim01')
      .executeTakeFirstOrThrow()
    t.equal(Number(rows.count), accepted, 'one outgoing row per accepted send, none for the refused')
  },
)

/** A batcher of its own, to see how it forms and writes batches. */
function batcherDeps(options: { maxBatch: number; concurrency: number; maxRows?: number }): {
  batcher: SendQueue
  sending: Sending
} {
  const { maxRows, ...rest } = options
  const batcher = createSendQueue(db, deps.config.rates, {
    ...rest,
    ...(maxRows ? { maxWeight: maxRows } : {}),
  })
  return { batcher, sending: { queue: batcher, clock } }
}
const mine = { scope: ALL_OWNERS, serviceName: SERVICE, login: 'sender01' }
const theirs = { scope: ALL_OWNERS, serviceName: OTHER, login: 'bystand1' }

t.test('a value the database refuses fails its own request, the rest of the batch is written', async (t) => {
  const { batcher, sending } = batcherDeps({ maxBatch: 256, concurrency: 1 })
  // The route refuses such a tag before it gets here; a value that slips through must still only
  // fail its own request. The first request is written alone, the three others in one batch.
  const settled = await Promise.allSettled([
    sendMessages(sending, mine, job(90001)),
    sendMessages(sending, theirs, job(90002)),
    sendMessages(sending, mine, job(90003, { tag: 'nul\u0000tag' })),
    sendMessages(sending, mine, job(90004)),
  ])
  t.same(batcher.stats, { batches: 2, requests: 4, largest: 3 })
  t.same(
    settled.map((s) => s.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  )
  const refused = settled[2] as PromiseRejectedResult
  t.ok(refused.reason instanceof ApiError, 'a client error')
  t.equal(refused.reason.statusCode, 400)
  t.match(refused.reason.message, /^Invalid request: the database refuses one of its values/)
  const written = await db
    .selectFrom('outgoing')
    .select('receiver')
    .where('receiver', 'in', [receiver(90001), receiver(90002), receiver(90003), receiver(90004)])
    .execute()
  t.same(written.map((row) => row.receiver).sort(), [receiver(90001), receiver(90002), receiver(90004)])
})

t.test('an account that floods the queue delays another account by one request a batch', async (t) => {
  const { batcher, sending } = batcherDeps({ maxBatch: 10, concurrency: 1 })
  const order: string[] = []
  const flood = Array.from({ length: 100 }, (_, n) =>
    sendMessages(sending, mine, job(1000 + n)).then(() => order.push('mine')),
  )
  const single = sendMessages(sending, theirs, job(2000)).then(() => order.push('theirs'))
  await Promise.all([...flood, single])
  t.equal(batcher.stats.requests, 101)
  const before = order.indexOf('theirs')
  t.ok(before <= 10, `the other account's request was written in the second batch (${before} before it)`)
})

t.test('a batch holds a bounded number of rows: a large request does not hold up the others', async (t) => {
  const { batcher, sending } = batcherDeps({ maxBatch: 256, concurrency: 1, maxRows: 1500 })
  const large = (from: number) => ({
    message: 'Hi',
    sender: 'ACME',
    receivers: Array.from({ length: 1000 }, (_, n) => receiver(10_000 + from + n)),
  })
  const reports = await Promise.all([
    sendMessages(sending, mine, large(0)),
    sendMessages(sending, mine, large(1000)),
    sendMessages(sending, theirs, job(3000)),
    sendMessages(sending, mine, large(2000)),
  ])
  t.same(
    reports.map((r) => r.ids.length),
    [1000, 1000, 1, 1000],
  )
  t.same(
    batcher.stats,
    { batches: 3, requests: 4, largest: 2 },
    'the first alone; the second with the small one of the other account; the third alone',
  )
})
