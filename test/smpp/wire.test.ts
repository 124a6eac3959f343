import { connect } from 'node:net'
import t from 'tap'
import {
  formatReceipt,
  parseReceipt,
  RECEIPT_STATES,
  receiptOfStatus,
  statusOfReceipt,
} from '../../src/smpp/receipt.js'
import {
  connectSmpp,
  encodeSubmitSm,
  listenSmpp,
  type Pdu,
  type SmppSession,
  STATUS,
  type SubmitSmFields,
} from '../../src/smpp/session.js'
import { DATA_CODING, decodeText, encodeText } from '../../src/smpp/short-message.js'
import { waitFor } from '../support/wait.js'

// The typed layer over the `smpp` package, between a real listener and a real client on 127.0.0.1.

type Received = { session: SmppSession; pdus: Pdu[] }
type Teardown = { teardown(fn: () => unknown): void }

async function pair(t: Teardown, answer: (session: SmppSession, pdu: Pdu) => void) {
  const server: Received[] = []
  const listener = await listenSmpp({ host: '127.0.0.1', port: 0 }, (session) => {
    const entry = { session, pdus: [] as Pdu[] }
    server.push(entry)
    session.onRequest((pdu) => {
      entry.pdus.push(pdu)
      answer(session, pdu)
    })
  })
  const { port } = listener.address()
  const client = await connectSmpp({ host: '127.0.0.1', port, timeoutMs: 5000 })
  t.teardown(async () => {
    client.destroy()
    for (const s of server) s.session.destroy()
    await listener.close()
  })
  return { client, server, port }
}

t.test('a request gets its response; statuses and fields come through', async (t) => {
  const { client, server } = await pair(t, (session, pdu) => {
    if (pdu.command === 'bind_transceiver') {
      if (pdu.password === 'secret') session.respond(pdu, { system_id: 'SMSC' })
      else session.respond(pdu, {}, STATUS.ESME_RINVPASWD)
    } else if (pdu.command === 'submit_sm') session.respond(pdu, { message_id: 'm-1' })
  })
  const refused = await client.request('bind_transceiver', { system_id: 'esme', password: 'nope' }, 5000)
  t.equal(refused.command, 'bind_transceiver_resp')
  t.equal(refused.command_status, STATUS.ESME_RINVPASWD)
  const bound = await client.request('bind_transceiver', { system_id: 'esme', password: 'secret' }, 5000)
  t.equal(bound.command_status, STATUS.ESME_ROK)
  t.equal(bound.system_id, 'SMSC')
  const [part] = encodeText('Hello €', '7bits', 1)
  const submitted = await client.request(
    'submit_sm',
    { source_addr: 'ACME', destination_addr: '33601020304', ...part },
    5000,
  )
  t.equal(submitted.message_id, 'm-1')
  const received = server[0]?.pdus.find((p) => p.command === 'submit_sm') as Pdu
  t.same(decodeText(received), { ok: true, text: 'Hello €', encoding: '7bits', concatenation: null })
  t.equal(server[0]?.session.remoteAddress, '127.0.0.1')
})

t.test(
  'UCS2 and concatenated texts survive the wire; bad codings are refused with OVH statuses',
  async (t) => {
    const { client, server } = await pair(t, (session, pdu) => session.respond(pdu, { message_id: 'x' }))
    const long = 'Ω'.repeat(150)
    const parts = encodeText(long, 'unicode', 42)
    t.equal(parts.length, 3, '150 UCS2 characters: 3 parts of at most 67')
    for (const part of parts) {
      await client.request('submit_sm', { destination_addr: '33601020304', ...part }, 5000)
    }
    const decoded = server[0]!.pdus.map((p) => decodeText(p))
    t.same(
      decoded.map((d) => (d.ok ? d.concatenation : null)),
      [
        { reference: 42, total: 3, sequence: 1 },
        { reference: 42, total: 3, sequence: 2 },
        { reference: 42, total: 3, sequence: 3 },
      ],
    )
    t.equal(decoded.map((d) => (d.ok ? d.text : '')).join(''), long)

    await client.request(
      'submit_sm',
      {
        destination_addr: '1',
        data_coding: DATA_CODING.SMSC_DEFAULT,
        short_message: Buffer.from([0x41, 0xc3]),
      },
      5000,
    )
    await client.request(
      'submit_sm',
      { destination_addr: '1', data_coding: 0x05, short_message: Buffer.from('x') },
      5000,
    )
    const [gsm, jis] = server[0]!.pdus.slice(-2).map((p) => decodeText(p))
    t.match(gsm, { ok: false, status: STATUS.ESME_RINVGSM7CODING })
    t.match(jis, { ok: false, status: STATUS.ESME_RUNSDATACODING })
  },
)

t.test("OVH's TLVs 0x1401 / 0x1402 and receipt texts", async (t) => {
  const { client, server } = await pair(t, () => {})
  const got = new Promise<Pdu>((resolve) => client.onRequest(resolve))
  // The client is connected; the listener's side of the session may not be accepted yet (a busy
  // machine): wait for it rather than for 10 ms.
  await waitFor('the server side of the session', () => server.length > 0)
  const text = formatReceipt({
    id: 'abc-1',
    submitted: 1,
    delivered: 1,
    submitDate: new Date('2026-12-01T10:20:00Z'),
    doneDate: new Date('2026-12-01T10:21:00Z'),
    state: 'DELIVRD',
    error: 0,
    text: 'Hello there, this is long',
  })
  t.equal(
    text,
    'id:abc-1 sub:001 dlvrd:001 submit date:2612011020 done date:2612011021 stat:DELIVRD err:000 text:Hello there, this is',
  )
  const session = server[0]!.session
  // Not answered: the test only looks at what arrived.
  session
    .request(
      'deliver_sm',
      {
        esm_class: 0x04,
        short_message: Buffer.from(text),
        receipted_message_id: 'abc-1',
        ovh_outgoing_id: '1234',
      },
      5000,
    )
    .catch(() => {})
  const pdu = await got
  t.equal(pdu.receipted_message_id, 'abc-1')
  t.equal(pdu.ovh_outgoing_id, '1234')
  const parsed = parseReceipt(decodeText(pdu).ok ? (decodeText(pdu) as { text: string }).text : '')
  t.match(parsed, { id: 'abc-1', state: 'DELIVRD', error: 0 })
  t.same(parsed?.doneDate, new Date('2026-12-01T10:21:00Z'))
  t.match(
    parseReceipt('id:77 sub:001 dlvrd:000 submit date:2612011020 done date:2612011021 stat:UNDELIV err:0x1f'),
    {
      id: '77',
      state: 'UNDELIV',
      error: 31,
    },
  )
  t.equal(parseReceipt('hello'), null)
})

t.test('a peer that sends garbage is disconnected; a peer that never answers times out', async (t) => {
  const closed: (Error | null)[] = []
  const listener = await listenSmpp({ host: '127.0.0.1', port: 0 }, (session) => {
    session.onClose((error) => closed.push(error))
  })
  t.teardown(() => listener.close())
  const socket = connect(listener.address().port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  // A command_length far beyond the codec's bound.
  socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]))
  await new Promise((resolve) => socket.once('close', resolve))
  while (closed.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.ok(closed[0] instanceof Error, 'the session closed with the codec error')

  const { client } = await pair(t, () => {})
  await t.rejects(client.request('enquire_link', {}, 50), { message: /no enquire_link_resp within 50 ms/ })
  t.equal(client.unanswered, 0)
})

t.test('one table maps our ptt/DLR to receipts and carriers’ receipts back', async (t) => {
  t.same(receiptOfStatus(4, 1), { state: 'DELIVRD', messageState: 2, error: 0 })
  t.same(receiptOfStatus(3, 8), { state: 'ENROUTE', messageState: 1, error: 254 })
  t.same(receiptOfStatus(8, 2), { state: 'EXPIRED', messageState: 3, error: 801 })
  t.same(receiptOfStatus(24, 2), { state: 'UNDELIV', messageState: 5, error: 3 })
  t.same(receiptOfStatus(23, 16), { state: 'REJECTD', messageState: 8, error: 3 })
  t.same(receiptOfStatus(6, 2), { state: 'UNKNOWN', messageState: 7, error: 255 })
  for (const state of RECEIPT_STATES) {
    const { ptt, dlr } = statusOfReceipt(state)
    const back = receiptOfStatus(ptt, dlr).state
    const expected = state === 'ACCEPTD' ? 'ENROUTE' : state === 'DELETED' ? 'REJECTD' : state
    t.equal(back, expected, `${state} → ptt ${ptt} / DLR ${dlr} → ${back}`)
  }
})

t.test('a submit_sm written by its own encoder is the bytes the library writes', async (t) => {
  const smpp = (await import('smpp')).default
  const cases: SubmitSmFields[] = [
    {
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'ACME',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '33612345678',
      esm_class: 0,
      registered_delivery: 1,
      data_coding: 0,
      short_message: Buffer.from('hello'),
    },
    {
      source_addr_ton: 1,
      source_addr_npi: 1,
      source_addr: '33700000000',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '447700900123',
      esm_class: 0x40,
      registered_delivery: 0,
      data_coding: 8,
      short_message: Buffer.alloc(140, 0xab),
      validity_period: new Date('2026-12-05T07:08:09.987Z'),
    },
    {
      source_addr_ton: 3,
      source_addr_npi: 1,
      source_addr: '',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '1',
      esm_class: 0,
      registered_delivery: 17,
      data_coding: 0,
      short_message: Buffer.alloc(0),
      validity_period: new Date('2031-01-01T00:00:00.050Z'),
    },
  ]
  for (const [i, fields] of cases.entries()) {
    const library = new smpp.PDU('submit_sm', { ...fields, sequence_number: 1000 + i }) as unknown as {
      toBuffer(): Buffer
    }
    t.same(encodeSubmitSm(fields, 1000 + i), library.toBuffer(), `case ${i + 1}`)
  }
})
