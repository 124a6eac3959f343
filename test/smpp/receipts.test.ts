import t from 'tap'
import { receiveFromCarrier } from '../../src/incoming/receive.js'
import { connectSmpp, type Pdu, type SmppSession, STATUS } from '../../src/smpp/session.js'
import { decodeText, encodeText } from '../../src/smpp/short-message.js'
import { admin, call } from '../helpers.js'
import { SMPP_SERVICE, type SmppTestApp, smppApp } from './setup.js'

// Receipts and MO as deliver_sm, through the durable outbox, to a real ESME session (the `smpp` library).

type Teardown = { teardown(fn: () => unknown): void }
const base = `/1.0/sms/${SMPP_SERVICE}`

/** An ESME bound to the app's SMPP server that keeps every deliver_sm and answers with `status()`. */
async function esme(
  t: Teardown,
  test: SmppTestApp,
  mode = 'bind_transceiver',
  status: () => number = () => STATUS.ESME_ROK,
) {
  if (!test.app.smppServer.listening) await test.app.smppServer.listen({ host: '127.0.0.1', port: 0 })
  const { port } = test.app.smppServer.addresses()[0] as { port: number }
  const session = await connectSmpp({ host: '127.0.0.1', port, timeoutMs: 10_000 })
  t.teardown(() => session.destroy())
  const delivered: Pdu[] = []
  session.onRequest((pdu) => {
    if (pdu.command !== 'deliver_sm') return
    const answer = status()
    if (answer === STATUS.ESME_ROK) delivered.push(pdu)
    session.respond(pdu, {}, answer)
  })
  const bound = await session.request(mode, { system_id: test.systemId, password: test.password }, 10_000)
  if (bound.command_status !== STATUS.ESME_ROK) throw new Error(`bind: ${bound.command_status}`)
  return { session, delivered }
}

const submit = async (session: SmppSession, text: string, registered_delivery = 1) => {
  const [part] = encodeText(text, '7bits', 1)
  const answer = await session.request(
    'submit_sm',
    {
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'ACME',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '33601020304',
      registered_delivery,
      ...part,
    },
    30_000,
  )
  if (answer.command_status !== STATUS.ESME_ROK) throw new Error(`submit: ${answer.command_status}`)
  return answer.message_id as string
}

/** Hands the sends to the simulator, then lets it deliver (ptt 4, DLR 1). */
async function deliverAll(test: SmppTestApp) {
  await test.app.sendingWorker.runOnce()
  test.clock.advance(1000)
  await test.app.sendingWorker.runOnce()
}

const pending = async (test: SmppTestApp) =>
  test.deps.database.db.selectFrom('smpp_deliveries').selectAll().where('state', '=', 'pending').execute()

const outgoingIdOf = async (test: SmppTestApp, messageId: string) =>
  ((await call(test.app, 'GET', `${base}/outgoing?messageID=${messageId}`)).body as number[])[0]

t.test(
  'a receipt as deliver_sm: Appendix B text, receipted_message_id, message_state, TLV 0x1401; callBack too',
  async (t) => {
    // A callBack on this machine: the guard must allow private hosts (CALLBACK_ALLOW_PRIVATE).
    const privateCallbacks = {
      dispatcherEnabled: false,
      concurrency: 1,
      scheduleMs: [1000],
      timeoutMs: 2000,
      allowPrivate: true,
    }
    const test = await smppApp(t, { allowedIps: ['127.0.0.1'], config: { callbacks: privateCallbacks } })
    const put = await call(test.app, 'PUT', base, { callBack: 'http://127.0.0.1:9/dlr' })
    t.equal(put.status, 200)
    const { session, delivered } = await esme(t, test)
    const messageId = await submit(session, 'Hello receipts')
    const silent = await submit(session, 'No receipt', 0)
    await deliverAll(test)
    t.equal((await pending(test)).length, 1, 'one receipt queued: the final state of the one that asked')
    t.equal(await test.app.smppDeliveries.runOnce(), 1)
    t.equal(delivered.length, 1)
    const receipt = delivered[0] as Pdu
    const outgoingId = (await outgoingIdOf(test, messageId)) as number
    t.equal(receipt.esm_class, 0x04)
    t.equal(receipt.receipted_message_id, messageId)
    t.equal(receipt.message_state, 2, 'DELIVERED')
    t.equal(receipt.ovh_outgoing_id, String(outgoingId))
    t.equal(receipt.source_addr, '33601020304')
    t.equal(receipt.destination_addr, 'ACME')
    const text = decodeText(receipt)
    t.ok(text.ok)
    t.match(
      text.ok ? text.text : '',
      new RegExp(
        `^id:${messageId} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:Hello receipts$`,
      ),
    )
    t.equal((await pending(test)).length, 0)
    t.equal(await test.app.smppDeliveries.runOnce(), 0, 'delivered once')
    t.notOk((await outgoingIdOf(test, silent)) === undefined, 'the other was sent all the same')
    const callbacks = await test.deps.database.db
      .selectFrom('callback_deliveries')
      .select('outgoing_id')
      .where('outgoing_id', '=', outgoingId)
      .execute()
    t.ok(callbacks.length >= 1, "the account's callBack is called too")
  },
)

t.test('a receipt waits while no receiver is bound and goes when one binds', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.1'] })
  const tx = await esme(t, test, 'bind_transmitter')
  const messageId = await submit(tx.session, 'Queued')
  await deliverAll(test)
  t.equal(await test.app.smppDeliveries.runOnce(), 0, 'a transmitter does not receive')
  t.equal((await pending(test)).length, 1)
  const rx = await esme(t, test, 'bind_receiver')
  t.equal(await test.app.smppDeliveries.runOnce(), 1)
  t.equal(rx.delivered[0]?.receipted_message_id, messageId)
  t.equal(tx.delivered.length, 0)
})

t.test('a deliver_sm refused is retried after SMPP_DELIVERY_RETRY_S, in order per message', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.1'] })
  let answer: number = STATUS.ESME_RX_T_APPN
  const { session, delivered } = await esme(t, test, 'bind_transceiver', () => answer)
  await submit(session, 'Retry me', 0x11) // final and intermediate receipts
  await deliverAll(test)
  const queued = await pending(test)
  t.equal(queued.length, 2, 'ACCEPTD/ENROUTE then DELIVRD')
  t.equal(await test.app.smppDeliveries.runOnce(), 0)
  const after = await pending(test)
  t.equal(after.length, 2)
  t.match(after.find((r) => r.attempts === 1)?.last_error, /ESME_RX_T_APPN/)
  answer = STATUS.ESME_ROK
  t.equal(await test.app.smppDeliveries.runOnce(), 0, 'not before its retry time')
  test.clock.advance(test.deps.config.smpp.deliveryRetryMs)
  t.equal(await test.app.smppDeliveries.runOnce(), 2)
  t.same(
    delivered.map((pdu) => pdu.message_state),
    [1, 2],
    'ENROUTE then DELIVERED, in order',
  )
})

t.test('an incoming SMS (MO) arrives as deliver_sm with TLV 0x1402', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.1'] })
  const { delivered, session } = await esme(t, test)
  /** An incoming SMS injected through the admin API, delivered to the ESME: its answer. */
  const inject = async (sender: string, message: string) => {
    const injected = await admin(test.app, 'POST', `/admin/v1/accounts/${SMPP_SERVICE}/incoming`, {
      sender,
      message,
    })
    t.equal(injected.status, 200)
    t.equal(await test.app.smppDeliveries.runOnce(), 1, 'one deliver_sm')
    return injected
  }
  const incoming = await inject('+33611223344', 'Bonjour à vous')
  const mo = delivered[0] as Pdu
  t.equal(mo.esm_class, 0)
  t.equal(mo.source_addr, '33611223344')
  t.equal(mo.ovh_incoming_id, String(incoming.body.id))
  t.same(decodeText(mo), { ok: true, text: 'Bonjour à vous', encoding: '7bits', concatenation: null })
  await inject('+33611223344', 'z'.repeat(300))
  const whole = decodeText(delivered[1] as Pdu)
  t.same(whole.ok && whole.text, 'z'.repeat(300), 'a long MO whole in message_payload')
  t.same(
    [mo.dest_addr_ton, mo.destination_addr],
    [0, ''],
    'no SMS was sent to that number: no recipient known',
  )

  // A reply to an SMS the account sent: addressed to the sender the phone replied to.
  await submit(session, 'Your code is 1234')
  await inject('+33601020304', 'Thanks')
  const replied = delivered[2] as Pdu
  t.same([replied.source_addr, replied.dest_addr_ton, replied.destination_addr], ['33601020304', 5, 'ACME'])

  // From a carrier, to the account's own number: addressed to that number.
  await test.deps.database.db
    .insertInto('senders')
    .values({ account_id: test.accountId, sender: '+33700000001', status: 'enable', type: 'virtual' })
    .execute()
  const carried = await receiveFromCarrier(
    test.deps.database.db,
    'upstream',
    // Written with 00 and a space by this carrier: the ESME gets it as an international number.
    [{ from: '33612000000', to: ' 0033700000001', text: 'Hello number', at: new Date() }],
    test.clock.now(),
  )
  t.match(carried, { received: 1 })
  t.equal(await test.app.smppDeliveries.runOnce(), 1)
  const fromCarrier = delivered[3] as Pdu
  t.same(
    [
      fromCarrier.source_addr,
      fromCarrier.dest_addr_ton,
      fromCarrier.dest_addr_npi,
      fromCarrier.destination_addr,
    ],
    ['33612000000', 1, 1, '33700000001'],
  )
})
