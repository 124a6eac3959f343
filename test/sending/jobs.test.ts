import t from 'tap'
import { admin, buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps, clock } = await buildTestApp(t, { credits: 100 })
const { db } = deps.database
const account = await db
  .selectFrom('accounts')
  .select('id')
  .where('service_name', '=', SERVICE)
  .executeTakeFirstOrThrow()
await db
  .insertInto('senders')
  .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
  .execute()
await db.insertInto('senders').values({ account_id: account.id, sender: 'WAITING', type: 'alpha' }).execute()

const base = `/1.0/sms/${SERVICE}`
const userBase = `${base}/users/sender01`
await call(app, 'POST', `${base}/users`, { login: 'sender01', password: 'abcd1234' })
await call(app, 'POST', `${base}/users`, { login: 'other001', password: 'abcd1234' })
await call(app, 'PUT', userBase, { quotaInformations: { quotaStatus: 'active', quotaLeft: 10 } })
const run = () => app.sendingWorker.runOnce()
const quotaLeft = async () => (await call(app, 'GET', userBase)).body.quotaInformations.quotaLeft
const outgoingCount = async () =>
  Number((await db.selectFrom('outgoing').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)

t.test('a report with valid, invalid, duplicate and blacklisted receivers', async (t) => {
  await db
    .insertInto('blacklist')
    .values({ account_id: account.id, number: '+33601020309', created_at: clock.now() })
    .execute()
  const { status, body } = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'Hello',
    receivers: ['+33601020304', '0033601020305', 'garbage', '+33 6 01 02 03 04', '+33601020309'],
    sender: 'ACME',
    tag: 'promo',
  })
  t.equal(status, 200)
  t.same(body.validReceivers, ['+33601020304', '+33601020305'])
  t.same(body.invalidReceivers, ['garbage', '+33601020309'])
  t.equal(body.ids.length, 2)
  t.equal(body.totalCreditsRemoved, 2)
  t.equal(body.tag, 'promo')
  t.equal(await quotaLeft(), 8, 'spent from the quota')
})

t.test('the simulator reports ptt 3 then ptt 4 / DLR 1 after the delay', async (t) => {
  const { body } = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'Hi',
    receivers: ['+33611111111'],
    sender: 'ACME',
  })
  const id = body.ids[0]
  t.equal(
    (await call(app, 'GET', `${userBase}/outgoing/${id}`)).status,
    404,
    'not sent before the worker runs',
  )
  await run()
  const accepted = (await call(app, 'GET', `${userBase}/outgoing/${id}`)).body
  t.match(accepted, {
    id,
    ptt: 3,
    deliveryReceipt: 8,
    receiver: '+33611111111',
    sender: 'ACME',
    numberOfSms: 1,
    deliveredAt: null,
  })
  t.match(accepted.sentAt, /^2026-11-26T12:00:00\+00:00$/)
  clock.advance(1000)
  await run()
  const delivered = (await call(app, 'GET', `${userBase}/outgoing/${id}`)).body
  t.match(delivered, { ptt: 4, deliveryReceipt: 1 })
  t.ok(delivered.deliveredAt)
  const events = await db
    .selectFrom('outgoing_events')
    .select(['ptt', 'dlr'])
    .where('outgoing_id', '=', id)
    .orderBy('id')
    .execute()
  t.same(events, [
    { ptt: 3, dlr: 8 },
    { ptt: 4, dlr: 1 },
  ])
  t.same((await call(app, 'GET', `${userBase}/outgoing/${id}/hlr`)).body, {
    country: 'FR',
    countryCode: '33',
    network: 'mobile',
    operator: '',
    region: '',
  })
})

t.test('not enough credits changes nothing', async (t) => {
  const before = await outgoingCount()
  const response = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'x'.repeat(600),
    receivers: ['+33622222222', '+33622222223'],
    sender: 'ACME',
  })
  t.equal(response.status, 400)
  t.match(response.body.message, /^Not enough credits: the user's quota has \d+ credits left, \d+ needed$/)
  t.equal(await outgoingCount(), before, 'no row')
  t.equal(await quotaLeft(), 7, 'no debit')
})

t.test('senders: not enabled, unknown, default', async (t) => {
  const waiting = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'x',
    receivers: ['+33633333333'],
    sender: 'WAITING',
  })
  t.equal(waiting.status, 400)
  t.match(waiting.body.message, /WAITING/)
  const unknown = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'x',
    receivers: ['+33633333333'],
    sender: 'NOPE',
  })
  t.equal(unknown.status, 400)
  const byDefault = await call(app, 'POST', `${userBase}/jobs`, { message: 'x', receivers: ['+33633333333'] })
  t.equal(byDefault.status, 200)
  await run()
  t.equal((await call(app, 'GET', `${userBase}/outgoing/${byDefault.body.ids[0]}`)).body.sender, 'ACME')
})

t.test('deferred messages are jobs until sent; cancelling refunds', async (t) => {
  const before = await quotaLeft()
  const { body } = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'later',
    receivers: ['+33644444444', '+33644444445'],
    sender: 'ACME',
    differedPeriod: 10,
  })
  const [first, second] = body.ids
  t.same((await call(app, 'GET', `${userBase}/jobs`)).body, [first, second])
  t.match((await call(app, 'GET', `${userBase}/jobs/${first}`)).body, {
    id: first,
    differedDelivery: 10,
    ptt: 0,
    sentAt: null,
  })
  await run()
  t.same((await call(app, 'GET', `${userBase}/jobs`)).body, [first, second], 'still pending before its time')
  t.same((await call(app, 'DELETE', `${userBase}/jobs/${first}`)).body, null)
  t.equal(await quotaLeft(), before - 1, 'the cancelled one was refunded')
  t.equal((await call(app, 'DELETE', `${userBase}/jobs/${first}`)).status, 404)
  clock.advance(10 * 60_000)
  await run()
  t.same((await call(app, 'GET', `${userBase}/jobs`)).body, [])
  t.equal((await call(app, 'GET', `${userBase}/outgoing/${second}`)).body.ptt, 3)
  t.equal(
    (await call(app, 'GET', `${userBase}/outgoing/${first}`)).status,
    404,
    'a cancelled SMS is not history',
  )
})

t.test('validityPeriod expires messages the carrier has not delivered (ptt 8)', async (t) => {
  await admin(app, 'PUT', '/admin/v1/simulator/rules', [
    {
      receiver: '^\\+33655',
      steps: [
        { ptt: 3, dlr: 8, afterMs: 0 },
        { ptt: 4, dlr: 1, afterMs: 3_600_000 },
      ],
    },
    {
      receiver: '^\\+33666',
      steps: [
        { ptt: 3, dlr: 8, afterMs: 0 },
        { ptt: 23, dlr: 16, afterMs: 500 },
      ],
    },
    {
      receiver: '.*',
      steps: [
        { ptt: 3, dlr: 8, afterMs: 0 },
        { ptt: 4, dlr: 1, afterMs: 1000 },
      ],
    },
  ])
  const { body } = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'soon',
    receivers: ['+33655555555'],
    sender: 'ACME',
    validityPeriod: 5,
  })
  await run()
  clock.advance(4 * 60_000)
  await run()
  t.match((await call(app, 'GET', `${userBase}/outgoing/${body.ids[0]}`)).body, { ptt: 3 }, 'still valid')
  clock.advance(60_000)
  await run()
  t.match((await call(app, 'GET', `${userBase}/outgoing/${body.ids[0]}`)).body, {
    ptt: 8,
    deliveryReceipt: 2,
  })
  clock.advance(3_600_000)
  await run()
  t.match((await call(app, 'GET', `${userBase}/outgoing/${body.ids[0]}`)).body, {
    ptt: 8,
    deliveryReceipt: 2,
  })
})

t.test('a final DLR 16 (error, not billed) refunds the credits', async (t) => {
  const before = await quotaLeft()
  const { body } = await call(app, 'POST', `${userBase}/jobs`, {
    message: 'bad',
    receivers: ['+33666666666'],
    sender: 'ACME',
  })
  t.equal(await quotaLeft(), before - 1)
  await run()
  clock.advance(500)
  await run()
  t.match((await call(app, 'GET', `${userBase}/outgoing/${body.ids[0]}`)).body, {
    ptt: 23,
    deliveryReceipt: 16,
  })
  t.equal(await quotaLeft(), before, 'refunded')
  const bad = await admin(app, 'PUT', '/admin/v1/simulator/rules', [{ receiver: '(', steps: [] }])
  t.equal(bad.status, 400)
})

t.test('history filters, levels and isolation', async (t) => {
  const user = await call(app, 'GET', `${userBase}/outgoing?ptt=4`)
  t.ok(user.body.length >= 1)
  const tagged = (await call(app, 'GET', `${userBase}/outgoing?tag=promo`)).body
  t.equal(tagged.length, 2)
  const byReceiver = (await call(app, 'GET', `${userBase}/outgoing?receiver=0033611111111`)).body
  t.equal(byReceiver.length, 1)
  const accountLevel = (await call(app, 'GET', `${base}/outgoing`)).body
  t.ok(accountLevel.length >= user.body.length)
  const one = (await call(app, 'GET', `${base}/outgoing/${tagged[0]}`)).body
  t.equal((await call(app, 'GET', `${base}/outgoing?batchID=${one.batchID}`)).body.length, 2)
  t.equal(
    (await call(app, 'GET', `${base}/outgoing?creationDatetime.from=2026-11-27T00:00:00Z`)).body.length,
    0,
    'date filters at account level',
  )
  t.equal(
    (await call(app, 'GET', `${base}/users/other001/outgoing/${tagged[0]}`)).status,
    404,
    'another user sees nothing',
  )
  t.same((await call(app, 'GET', `${base}/users/other001/outgoing`)).body, [])
  t.equal((await call(app, 'GET', `${base}/users/nobody01/outgoing`)).status, 404)
  t.same((await call(app, 'DELETE', `${userBase}/outgoing/${tagged[0]}`)).body, null)
  t.equal((await call(app, 'GET', `${userBase}/outgoing/${tagged[0]}`)).status, 404)
})

t.test('account-level jobs spend the account credits', async (t) => {
  const before = (await call(app, 'GET', base)).body.creditsLeft
  const { status, body } = await call(app, 'POST', `${base}/jobs`, {
    message: 'from the account',
    receivers: ['+33677777777'],
  })
  t.equal(status, 200)
  t.equal((await call(app, 'GET', base)).body.creditsLeft, before - body.totalCreditsRemoved)
  t.same(
    (await call(app, 'GET', `${userBase}/outgoing?receiver=%2B33677777777`)).body,
    [],
    'not a user message',
  )
})

t.test('incoming messages belong to the user who last wrote to the number', async (t) => {
  const injected = await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, {
    sender: '0033611111111',
    message: 'Thanks!',
    tag: 'reply',
  })
  t.equal(injected.status, 200)
  t.match(injected.body, { sender: '+33611111111', message: 'Thanks!', tag: 'reply' })
  const id = injected.body.id
  t.same((await call(app, 'GET', `${userBase}/incoming`)).body, [id])
  t.same((await call(app, 'GET', `${userBase}/incoming?sender=%2B33611111111`)).body, [id])
  t.same((await call(app, 'GET', `${base}/incoming?tag=reply`)).body, [id])
  t.same((await call(app, 'GET', `${base}/users/other001/incoming`)).body, [])
  t.match((await call(app, 'GET', `${userBase}/incoming/${id}`)).body, { id, message: 'Thanks!' })
  t.same((await call(app, 'DELETE', `${base}/incoming/${id}`)).body, null)
  t.equal((await call(app, 'GET', `${userBase}/incoming/${id}`)).status, 404)
  t.equal(
    (await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, { sender: 'x', message: 'y' }))
      .status,
    400,
  )
})

t.test('job body validation', async (t) => {
  const cases: [unknown, string][] = [
    [{ receivers: ['+33600000000'] }, 'Missing parameter: message'],
    [{ message: 'x' }, 'Missing parameter: receivers'],
    [
      { message: '', receivers: ['+33600000000'] },
      'Invalid message: expected the text to send, 1 to 5000 characters',
    ],
    [
      { message: 'x', receivers: ['+33600000000'], tag: 'x'.repeat(21) },
      'Invalid tag: expected at most 20 characters',
    ],
    [
      { message: 'x', receivers: ['+33600000000'], differedPeriod: -1 },
      'Invalid differedPeriod: expected minutes to wait before sending, 0 to 525600',
    ],
    [
      { message: 'x', receivers: ['+33600000000'], class: 'loud' },
      'Invalid class: expected one of flash, phoneDisplay, sim, toolkit',
    ],
  ]
  for (const [body, message] of cases) {
    const response = await call(app, 'POST', `${userBase}/jobs`, body)
    t.same([response.status, response.body.message], [400, message], message)
  }
  t.equal((await call(app, 'GET', `${userBase}/jobs/abc`)).status, 400)
  // Receiver lists are served (test/receivers): a slot that does not exist is a 404 naming it.
  const unknownSlot = await call(app, 'POST', `${userBase}/jobs`, { message: 'x', receiversSlotId: '1' })
  t.same(
    [unknownSlot.status, unknownSlot.body.message],
    [404, 'The requested object (slotId = 1) does not exist'],
  )
})

t.test('estimate', async (t) => {
  const { body } = await call(app, 'POST', '/1.0/sms/estimate', {
    message: 'é',
    noStopClause: true,
    senderType: 'alpha',
  })
  t.same(body, { characters: 1, charactersClass: '7bits', maxCharactersPerPart: 160, parts: 1 })
})

t.test('concurrent sends never overspend a quota', async (t) => {
  await call(app, 'POST', `${base}/users`, { login: 'racer002', password: 'abcd1234' })
  await call(app, 'PUT', `${base}/users/racer002`, {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 20 },
  })
  const responses = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      call(app, 'POST', `${base}/users/racer002/jobs`, {
        message: 'race',
        receivers: [`+336${String(10000000 + i).padStart(8, '0')}`],
        sender: 'ACME',
      }),
    ),
  )
  t.equal(responses.filter((r) => r.status === 200).length, 20)
  t.ok(responses.every((r) => r.status === 200 || r.status === 400))
  const user = (await call(app, 'GET', `${base}/users/racer002`)).body
  t.equal(user.quotaInformations.quotaLeft, 0)
  const rows = await db.selectFrom('outgoing').select('id').where('login', '=', 'racer002').execute()
  t.equal(rows.length, 20, 'one row per accepted send, none for refused ones')
})
