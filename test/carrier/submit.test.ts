/**
 * The SMPP carrier handing messages to a fake SMSC (the `smpp` library's server, in-process): binds
 * refused then accepted, the window and the throughput as the SMSC counts them, throttling (see
 * sessions.test.ts for refusals and lost connections).
 */
import t from 'tap'
import { STATUS } from '../../src/smpp/session.js'
import { admin } from '../helpers.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { carrierApp, creditsLeft, smppUrl } from './setup.js'

const numbers = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `+336${String(10_000_000 + from + i).slice(-8)}`)

t.test('a refused bind is retried with backoff, shown, and messages wait until it binds', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  smsc.bindStatus = STATUS.ESME_RINVPASWD
  const { app, send, outgoing, clock } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port) })
  t.equal(smsc.binds[0]?.systemId, 'esme01', 'the system ID of the URL')
  t.equal(smsc.binds[0]?.password, 'secret1', 'the password of the URL')
  await waitFor('a second bind attempt', () => smsc.binds.length >= 2)
  const state = app.carriers.carrier('upstream')?.state()
  t.equal(state?.status, 'connecting')
  t.match(state?.detail, /refused bind_transceiver: ESME_RINVPASWD/)
  const listed = await admin(app, 'GET', '/admin/v1/carriers')
  t.match(
    listed.body.find((c: { name: string }) => c.name === 'upstream'),
    {
      status: 'connecting',
      lastError: /ESME_RINVPASWD/,
    },
  )
  t.notMatch(JSON.stringify(listed.body), /secret1/, 'the password is never shown')

  const sent = await send(numbers(3))
  t.equal(sent.status, 200, 'sends are accepted while the carrier is away')
  await app.sendingWorker.runOnce()
  t.same(
    (await outgoing(sent.body.ids)).map((r) => r.state),
    ['pending', 'pending', 'pending'],
    'not bound: the messages wait',
  )
  t.equal(smsc.submits.length, 0)

  smsc.bindStatus = STATUS.ESME_ROK
  await waitFor('the carrier bound', () => app.carriers.carrier('upstream')?.state().status === 'up')
  t.equal(app.carriers.carrier('upstream')?.state().detail, null)
  clock.advance(60_000)
  await app.sendingWorker.runOnce()
  const rows = await outgoing(sent.body.ids)
  t.same(
    rows.map((r) => [r.state, r.ptt, r.delivery_receipt, r.carrier]),
    Array(3).fill(['submitted', 3, 8, 'upstream']),
    'handed over once bound: ptt 3 / DLR 8, accepted by the operator',
  )
  t.equal(smsc.submits.length, 3)
})

t.test('the window is kept full and never exceeded', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  // Slow answers: without a window the carrier would have every message out at once.
  smsc.answer = () => ({ delayMs: 15 })
  const { app, send, outgoing } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port, 'window=4') })
  const sent = await send(numbers(60))
  await app.sendingWorker.runOnce()
  t.equal(smsc.maxUnanswered, 4, 'at most 4 submit_sm unanswered at the SMSC, and 4 reached')
  t.equal(smsc.submits.length, 60, 'each message submitted once')
  t.equal(new Set(smsc.submits.map((s) => s.destination)).size, 60)
  const rows = await outgoing(sent.body.ids)
  t.ok(
    rows.every((r) => r.state === 'submitted'),
    'all recorded as submitted',
  )
  const ids = await app.db.selectFrom('carrier_messages').select('carrier_message_id').execute()
  t.same(
    new Set(ids.map((r) => r.carrier_message_id)),
    new Set(smsc.submits.map((s) => s.messageId)),
    'the ids the SMSC gave are recorded',
  )
})

t.test('the throughput is respected per second at the SMSC', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const { app, send } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port, 'window=50&throughput=20') })
  await send(numbers(45))
  await app.sendingWorker.runOnce()
  t.equal(smsc.submits.length, 45)
  // Sent 50 ms apart: 20 in any second, 21 at most when the SMSC reads two of them late together.
  t.ok(smsc.maxPerSecond() <= 21, `at most 20 (+1 of jitter) submits in any second: ${smsc.maxPerSecond()}`)
  const first = smsc.submits[0]?.at ?? 0
  const last = smsc.submits.at(-1)?.at ?? 0
  t.ok(last - first >= 2000, `45 submits at 20/s take over 2 s: ${last - first} ms`)
})

t.test('ESME_RTHROTTLED and ESME_RMSGQFUL are retried later, not failed', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  smsc.answer = (_, n) =>
    n === 0 ? { status: STATUS.ESME_RTHROTTLED } : n === 1 ? { status: STATUS.ESME_RMSGQFUL } : {}
  const { app, send, outgoing, clock } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port, 'window=1') })
  const before = await creditsLeft(app)
  const sent = await send(numbers(4))
  await app.sendingWorker.runOnce()
  let rows = await outgoing(sent.body.ids)
  t.same(
    rows.map((r) => r.state),
    ['pending', 'pending', 'submitted', 'submitted'],
    'the throttled ones wait',
  )
  t.ok((rows[0]?.send_at.getTime() ?? 0) > clock.now().getTime(), 'due later')
  clock.advance(5_000)
  await app.sendingWorker.runOnce()
  rows = await outgoing(sent.body.ids)
  t.same(
    rows.map((r) => [r.state, r.submit_attempts]),
    [
      ['submitted', 2],
      ['submitted', 2],
      ['submitted', 1],
      ['submitted', 1],
    ],
  )
  t.equal(smsc.submits.length, 6, 'two of them submitted twice')
  t.equal(await creditsLeft(app), before - 4, 'charged once each')
})
