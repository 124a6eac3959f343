/**
 * The SMPP carrier's sessions against a fake SMSC (the `smpp` library's server, in-process): refusals
 * of submit_sm, the connection dropped with submits unanswered, enquire_link and unbind, and
 * transmitter+receiver binds.
 */
import t from 'tap'
import { STATUS } from '../../src/smpp/session.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { carrierApp, creditsLeft, smppUrl } from './setup.js'

const numbers = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `+336${String(10_000_000 + from + i).slice(-8)}`)

t.test('a refusal ends the message with its ptt, refunded when not billed', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  smsc.answer = (submit) =>
    submit.destination.endsWith('1') ? { status: STATUS.ESME_RINVDSTADR } : { status: STATUS.ESME_RINVSRCADR }
  const { app, send, outgoing } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port) })
  const before = await creditsLeft(app)
  const sent = await send(['+33600000001', '+33600000002'])
  await app.sendingWorker.runOnce()
  t.same(
    (await outgoing(sent.body.ids)).map((r) => [r.state, r.ptt, r.delivery_receipt]),
    [
      ['final', 23, 16],
      ['final', 20, 16],
    ],
    'a refused destination: ptt 23; another refusal: ptt 20; DLR 16 (not billed)',
  )
  t.equal(await creditsLeft(app), before, 'both refunded')
})

t.test('the SMSC dropping the connection mid-window: resubmitted, charged once, none lost', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  let dropped = false
  smsc.answer = (_, n) => {
    // The first session holds its answers; once 5 are out (the window full) the SMSC drops it.
    if (dropped) return { delayMs: 2 }
    if (n === 4) {
      dropped = true
      setImmediate(() => smsc.dropAll())
    }
    return { hold: true }
  }
  const { app, send, outgoing, clock, db } = await carrierApp(t, {
    CARRIER_URL: smppUrl(smsc.port, 'window=5'),
  })
  const before = await creditsLeft(app)
  const receivers = numbers(30)
  const sent = await send(receivers)
  await app.sendingWorker.runOnce()
  let rows = await outgoing(sent.body.ids)
  const retried = rows.filter((r) => r.state === 'pending')
  t.equal(retried.length, 30, 'every message of the lost session waits to be handed over again')
  await waitFor('rebound', () => app.carriers.carrier('upstream')?.state().status === 'up')
  clock.advance(60_000)
  await app.sendingWorker.runOnce()
  rows = await outgoing(sent.body.ids)
  t.ok(
    rows.every((r) => r.state === 'submitted' && r.ptt === 3),
    'all submitted after the rebind',
  )
  const seen = new Set(smsc.submits.map((s) => `+${s.destination}`))
  t.same(
    receivers.filter((r) => !seen.has(r)),
    [],
    'every message reached the SMSC at least once',
  )
  t.equal(smsc.submits.length, 35, 'the 5 unanswered ones twice (at least once), the others once')
  t.equal(await creditsLeft(app), before - 30, 'charged once each')
  const spends = await db.selectFrom('credit_ledger').select('kind').where('kind', '=', 'spend').execute()
  t.equal(spends.length, 1, 'one spend for the request')
})

t.test('enquire_link is answered and sent; an unbind is followed by a rebind', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const { app } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port, 'enquireLinkS=0.05') })
  await waitFor('enquire_links from the carrier', () => smsc.enquireLinks.length >= 2)
  const session = smsc.receivers()[0]
  const answer = await session?.request('enquire_link', {}, 5000)
  t.equal(answer?.command, 'enquire_link_resp')
  t.equal(answer?.command_status, STATUS.ESME_ROK)
  await smsc.unbindAll()
  await waitFor('a rebind', () => smsc.binds.length >= 2 && smsc.boundCount() === 1)
  await waitFor('up again', () => app.carriers.carrier('upstream')?.state().status === 'up')
  t.pass('rebound after the unbind')
})

t.test('transmitter+receiver binds two sessions per bind, times binds', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const { app, send } = await carrierApp(t, {
    CARRIER_URL: smppUrl(smsc.port, 'bind=transmitter%2Breceiver&binds=2&window=3'),
  })
  t.same(smsc.binds.map((b) => b.command).sort(), [
    'bind_receiver',
    'bind_receiver',
    'bind_transmitter',
    'bind_transmitter',
  ])
  smsc.answer = () => ({ delayMs: 10 })
  await send(numbers(40))
  await app.sendingWorker.runOnce()
  t.equal(smsc.submits.length, 40)
  t.equal(smsc.maxUnanswered, 6, 'two transmitters, a window of 3 each')
  const transmitters = new Set(smsc.submits.map((s) => s.session))
  t.equal(transmitters.size, 2, 'both transmitters carried submits')
  const state = app.carriers.carrier('upstream')?.state()
  t.same(state?.sessions.map((s) => `${s.role}:${s.state}`).sort(), [
    'receiver:bound',
    'receiver:bound',
    'transmitter:bound',
    'transmitter:bound',
  ])
})
