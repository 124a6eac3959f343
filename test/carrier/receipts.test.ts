/**
 * What comes back from an SMPP carrier: receipts (DELIVRD, UNDELIV, EXPIRED, REJECTD; by TLV or by
 * the receipt text; before the submit is recorded; twice; for an unknown id; for each part of a long
 * message) through the status path to the callBack URL, and incoming messages (replies, long ones in
 * parts, STOP) to the account they belong to — each deliver_sm answered only after its commit.
 */
import t from 'tap'
import type { CarrierEvents, CarrierIncoming } from '../../src/carrier/carrier.js'
import { SmppCarrier } from '../../src/carrier/smpp-carrier.js'
import { loadConfig, type SmppCarrierSettings } from '../../src/config.js'
import { STATUS } from '../../src/smpp/session.js'
import { call, SERVICE } from '../helpers.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { callbackReceiver, carrierApp, creditsLeft, smppUrl } from './setup.js'

const smsc = await FakeSmsc.start()
t.teardown(() => smsc.close())
const receiver = await callbackReceiver(t)
const { app, send, outgoing, db, accountId, clock } = await carrierApp(
  t,
  { CARRIER_URL: smppUrl(smsc.port) },
  { callBack: receiver.url, stopCallBack: `${receiver.url}?kind=stop` },
)

/** Sends one message and hands it over; answers its outgoing id and the SMSC's message ids. */
async function handedOver(receiver: string, message = 'Hello'): Promise<{ id: number; smscIds: string[] }> {
  const before = smsc.submits.length
  const sent = await send([receiver], message)
  if (sent.status !== 200) throw new Error(`send: ${sent.status} ${JSON.stringify(sent.body)}`)
  await app.sendingWorker.runOnce()
  return { id: sent.body.ids[0], smscIds: smsc.submits.slice(before).map((s) => s.messageId) }
}

const row = async (id: number) => (await outgoing([id]))[0]
/** Runs the callback dispatcher until it has nothing left (reports of one SMS go out one at a time). */
const dispatchAll = async () => {
  while ((await app.callbackDispatcher.runOnce()) > 0) {}
}
const callbacksOf = (id: number) => receiver.calls.filter((q) => q.get('id') === String(id))

t.test('DELIVRD → ptt 4 / DLR 1, and the callBack URL is called', async (t) => {
  const { id, smscIds } = await handedOver('+33601000001')
  t.equal(await smsc.receipt(smscIds[0] as string, 'DELIVRD'), STATUS.ESME_ROK)
  t.match(await row(id), { state: 'final', ptt: 4, delivery_receipt: 1 })
  await dispatchAll()
  t.same(
    callbacksOf(id).map((q) => [q.get('ptt'), q.get('description')]),
    [
      ['3', '8'],
      ['4', '1'],
    ],
    'ptt 3 at acceptance, then ptt 4',
  )
})

t.test('UNDELIV and EXPIRED end with their ptt, billed; REJECTD is refunded', async (t) => {
  const undelivered = await handedOver('+33601000002')
  const expired = await handedOver('+33601000003')
  const rejected = await handedOver('+33601000004')
  const before = await creditsLeft(app)
  await smsc.receipt(undelivered.smscIds[0] as string, 'UNDELIV', { error: 3 })
  await smsc.receipt(expired.smscIds[0] as string, 'EXPIRED')
  t.equal(await creditsLeft(app), before, 'undelivered and expired messages stay billed')
  await smsc.receipt(rejected.smscIds[0] as string, 'REJECTD')
  t.match(await row(undelivered.id), { state: 'final', ptt: 5, delivery_receipt: 2 })
  t.match(await row(expired.id), { state: 'final', ptt: 8, delivery_receipt: 2 })
  t.match(await row(rejected.id), { state: 'final', ptt: 20, delivery_receipt: 16 })
  t.equal(await creditsLeft(app), before + 1, 'the rejected one is refunded')
})

t.test('a receipt found by the id in its text (no TLV), and intermediate states', async (t) => {
  const { id, smscIds } = await handedOver('+33601000005')
  await smsc.receipt(smscIds[0] as string, 'ENROUTE', { via: 'text' })
  t.match(await row(id), { state: 'submitted', ptt: 3, delivery_receipt: 4 })
  await smsc.deliver({
    esm_class: 0x04,
    short_message: Buffer.from(
      `id:${smscIds[0]} sub:001 dlvrd:001 submit date:2612011020 done date:2612011021 stat:DELIVRD err:000 text:`,
    ),
  })
  t.match(await row(id), { state: 'final', ptt: 4, delivery_receipt: 1 })
})

t.test('a receipt that arrives before its submit is recorded is applied with it', async (t) => {
  smsc.answer = (submit) => (submit.destination === '33601000006' ? { receiptFirst: 'DELIVRD' } : {})
  t.teardown(() => {
    smsc.answer = () => ({})
  })
  const { id } = await handedOver('+33601000006')
  t.match(await row(id), { state: 'final', ptt: 4, delivery_receipt: 1 })
  const history = await db
    .selectFrom('outgoing_events')
    .select(['ptt', 'dlr'])
    .where('outgoing_id', '=', id)
    .orderBy('id')
    .execute()
  t.same(history, [
    { ptt: 3, dlr: 8 },
    { ptt: 4, dlr: 1 },
  ])
  const kept = await db.selectFrom('carrier_reports_unmatched').selectAll().execute()
  t.same(kept, [], 'nothing left aside')
})

t.test('the same receipt twice changes nothing the second time', async (t) => {
  const { id, smscIds } = await handedOver('+33601000007')
  await smsc.receipt(smscIds[0] as string, 'REJECTD')
  const credits = await creditsLeft(app)
  t.equal(await smsc.receipt(smscIds[0] as string, 'REJECTD'), STATUS.ESME_ROK, 'acknowledged')
  t.equal(await creditsLeft(app), credits, 'not refunded twice')
  await dispatchAll()
  t.equal(callbacksOf(id).length, 2, 'two status changes, two callbacks (ptt 3, ptt 20)')
  const events = await db.selectFrom('outgoing_events').select('id').where('outgoing_id', '=', id).execute()
  t.equal(events.length, 2)
})

t.test('a receipt for an id no message has is acknowledged and kept aside, harmlessly', async (t) => {
  const changes = async () =>
    Number(
      (await db.selectFrom('outgoing_events').select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n,
    )
  const before = await changes()
  t.equal(await smsc.receipt('nobody-knows-1', 'DELIVRD'), STATUS.ESME_ROK)
  t.equal(await changes(), before)
  const kept = await db
    .selectFrom('carrier_reports_unmatched')
    .select(['carrier', 'carrier_message_id'])
    .execute()
  t.same(kept, [{ carrier: 'upstream', carrier_message_id: 'nobody-knows-1' }])
  await app.sendingWorker.runOnce()
  t.equal(await changes(), before, 'the worker finds nothing to apply')
  clock.advance(8 * 24 * 3_600_000)
  await app.sendingWorker.runOnce()
  t.same(await db.selectFrom('carrier_reports_unmatched').selectAll().execute(), [], 'forgotten after a week')
  t.equal(
    await smsc.deliver({ esm_class: 0x04, short_message: Buffer.from('not a receipt') }),
    STATUS.ESME_RX_R_APPN,
    'a receipt without id or state is refused for good',
  )
})

t.test('a 3-part message is final only when its three parts are', async (t) => {
  const { id, smscIds } = await handedOver('+33601000008', 'z'.repeat(400))
  t.equal(smscIds.length, 3, 'three submit_sm, one id each')
  t.same(
    smsc.submits.slice(-3).map((s) => s.pdu.esm_class),
    [0x40, 0x40, 0x40],
    'each with a user data header',
  )
  const parts = await db
    .selectFrom('carrier_messages')
    .select(['carrier_message_id', 'part'])
    .where('outgoing_id', '=', id)
    .orderBy('part')
    .execute()
  t.same(
    parts.map((p) => p.carrier_message_id),
    smscIds,
  )
  await smsc.receipt(smscIds[0] as string, 'DELIVRD')
  t.match(await row(id), { state: 'submitted', ptt: 3 }, 'one part delivered: not final')
  await smsc.receipt(smscIds[2] as string, 'DELIVRD')
  t.match(await row(id), { state: 'submitted', ptt: 3 }, 'two parts delivered: not final')
  await smsc.receipt(smscIds[1] as string, 'DELIVRD')
  t.match(await row(id), { state: 'final', ptt: 4, delivery_receipt: 1 }, 'the third: delivered')

  const failed = await handedOver('+33601000009', 'w'.repeat(400))
  await smsc.receipt(failed.smscIds[0] as string, 'DELIVRD')
  await smsc.receipt(failed.smscIds[1] as string, 'UNDELIV')
  t.match(await row(failed.id), { state: 'submitted' }, 'a part failed, one still open: not final')
  await smsc.receipt(failed.smscIds[2] as string, 'DELIVRD')
  t.match(await row(failed.id), { state: 'final', ptt: 5, delivery_receipt: 2 }, 'final as its failed part')
})

t.test(
  'incoming messages go to the account they answer; STOP blacklists and calls stopCallBack',
  async (t) => {
    await db
      .insertInto('senders')
      .values({ account_id: accountId, sender: '+33700000001', status: 'enable' })
      .execute()
    const { id } = await handedOver('+33601000010')
    t.same(await smsc.incoming('33601000010', 'ACME', 'Thanks!'), [STATUS.ESME_ROK])
    t.same(await smsc.incoming('33601000099', '33700000001', 'Hi, is this you?'), [STATUS.ESME_ROK])
    const long = `${'A reply that does not fit one SMS. '.repeat(6)}End.`
    t.same(await smsc.incoming('33601000010', 'ACME', long), [STATUS.ESME_ROK, STATUS.ESME_ROK])
    t.same(await smsc.incoming('33601000098', 'NOBODY', 'who are you'), [STATUS.ESME_ROK], 'acknowledged')
    const incoming = await call(app, 'GET', `/1.0/sms/${SERVICE}/incoming`)
    const messages = await db.selectFrom('incoming').select(['sender', 'message']).orderBy('id').execute()
    t.same(messages, [
      { sender: '+33601000010', message: 'Thanks!' },
      { sender: '+33601000099', message: 'Hi, is this you?' },
      { sender: '+33601000010', message: long },
    ])
    t.equal(incoming.body.length, 3, 'in the account’s incoming list; the unattributed one is dropped')

    t.same(await smsc.incoming('33601000010', 'ACME', ' stop '), [STATUS.ESME_ROK])
    const blacklist = await call(app, 'GET', `/1.0/sms/${SERVICE}/blacklists`)
    t.same(blacklist.body, ['+33601000010'])
    await dispatchAll()
    const stop = receiver.calls.find((q) => q.get('kind') === 'stop')
    t.equal(stop?.get('sender'), '+33601000010')
    t.equal(stop?.get('message'), ' stop ')
    const refused = await send(['+33601000010'])
    t.same(refused.body.invalidReceivers, ['+33601000010'], 'a number that replied STOP is not sent to')
    t.ok(id)
  },
)

t.test('a deliver_sm is answered only after its event is committed', async (t) => {
  const own = await FakeSmsc.start()
  t.teardown(() => own.close())
  const settings = loadConfig({ CARRIER_URL: smppUrl(own.port) }).carriers[0] as SmppCarrierSettings
  let open: () => void = () => {}
  let fail = false
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const received: CarrierIncoming[] = []
  const events: CarrierEvents = {
    reports: async () => {},
    incoming: async (_, messages) => {
      await gate
      if (fail) throw new Error('the database is away')
      received.push(...messages)
    },
  }
  const carrier = new SmppCarrier({ settings, log: app.log, clock: { now: () => new Date() } })
  await carrier.start(events)
  t.teardown(() => carrier.stop())
  const answered = own.incoming('33601000011', 'ACME', 'one')
  await waitFor(
    'the deliver_sm at the carrier',
    () => carrier.state().inFlight === 0 && own.deliverAnswers.length === 0,
  )
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(own.deliverAnswers, [], 'no deliver_sm_resp before the commit')
  open()
  t.same(await answered, [STATUS.ESME_ROK], 'answered once committed')
  t.equal(received.length, 1)
  fail = true
  t.same(
    await own.incoming('33601000011', 'ACME', 'two'),
    [STATUS.ESME_RX_T_APPN],
    'a failed commit: the SMSC is told to send it again',
  )
})
