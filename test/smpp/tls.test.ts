import t from 'tap'
import { connectSmpp, type SmppSession, STATUS } from '../../src/smpp/session.js'
import { encodeText } from '../../src/smpp/short-message.js'
import { call } from '../helpers.js'
import type { Teardown } from '../support/teardown.js'
import { devCert } from '../support/tls.js'
import { SMPP_SERVICE, smppApp } from './setup.js'

// The SMPP server's TLS listener (SMPP_TLS_PORT with TLS_CERT/TLS_KEY) with a real TLS client: the
// `smpp` library's tls connect (through src/smpp/session.ts) trusting a certificate made by
// `sms-mirror dev-cert`. Plain SMPP on the TLS port and TLS on the plain port are refused cleanly:
// the connection ends, nothing is written, and the server goes on serving both ports.

const bind = (session: SmppSession, system_id: string, password: string) =>
  session.request('bind_transceiver', { system_id, password, interface_version: 0x34 }, 10_000)

const submit = (session: SmppSession, text: string) => {
  const [part] = encodeText(text, '7bits', 1)
  return session.request(
    'submit_sm',
    {
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'ACME',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '33601020304',
      ...part,
    },
    30_000,
  )
}

async function tlsApp(t: Teardown) {
  const { certFile, keyFile, cert } = devCert(t)
  const test = await smppApp(t, {
    credits: 100,
    allowedIps: ['127.0.0.1'],
    config: { tls: { certFile, keyFile } },
  })
  await test.app.smppServer.listen({ host: '127.0.0.1', port: 0, tlsPort: 0 })
  const [plain, secured] = test.app.smppServer.addresses()
  if (!plain || !secured) throw new Error('the plain and TLS listeners should both listen')
  const rows = async () =>
    test.deps.database.db
      .selectFrom('outgoing')
      .select(['message_id', 'message'])
      .where('account_id', '=', test.accountId)
      .orderBy('id')
      .execute()
  return { ...test, cert, plainPort: plain.port, tlsPort: secured.port, rows }
}

t.test('SMPP over TLS: bind and submit through the TLS listener, certificate verified', async (t) => {
  const test = await tlsApp(t)
  t.not(test.plainPort, test.tlsPort, 'two listeners')

  const session = await connectSmpp({
    host: '127.0.0.1',
    port: test.tlsPort,
    timeoutMs: 10_000,
    tls: { ca: test.cert, servername: 'localhost' },
  })
  t.teardown(() => session.destroy())
  const bound = await bind(session, test.systemId, test.password)
  t.equal(bound.command_status, STATUS.ESME_ROK, 'bound over TLS')
  t.equal(test.app.smppServer.sessionCounts().transceiver, 1)

  const answer = await submit(session, 'Hello over TLS')
  t.equal(answer.command_status, STATUS.ESME_ROK, 'submit_sm accepted')
  const messageId = String(answer.message_id)
  const rows = await test.rows()
  t.same(rows, [{ message_id: messageId, message: 'Hello over TLS' }], 'committed before submit_sm_resp')
  const account = await call(test.app, 'GET', `/1.0/sms/${SMPP_SERVICE}`)
  t.equal(account.body.creditsLeft, 99, 'one credit spent')
  const settings = await call(test.app, 'GET', `/1.0/sms/${SMPP_SERVICE}/smpp/settings`)
  t.equal(settings.status, 200)

  // The certificate is checked, not merely encrypted: a client that does not trust it cannot connect.
  await t.rejects(
    connectSmpp({
      host: '127.0.0.1',
      port: test.tlsPort,
      timeoutMs: 10_000,
      tls: { servername: 'localhost' },
    }),
    /self[- ]signed|certificate/i,
    'an untrusted certificate is refused by the client',
  )
})

t.test('plain SMPP on the TLS port and TLS on the plain port are refused cleanly', async (t) => {
  const test = await tlsApp(t)

  // Plain SMPP to the TLS port: the bind is not a TLS handshake; the server closes the connection
  // without answering and without a bind.
  const plainOnTls = await connectSmpp({ host: '127.0.0.1', port: test.tlsPort, timeoutMs: 10_000 })
  t.teardown(() => plainOnTls.destroy())
  await t.rejects(
    bind(plainOnTls, test.systemId, test.password),
    /closed/,
    'no bind_resp; the connection ends',
  )
  t.notOk(plainOnTls.isOpen)

  // TLS to the plain port: its ClientHello is no PDU the codec can read; the session ends, so the
  // handshake fails on the client's side.
  await t.rejects(
    connectSmpp({
      host: '127.0.0.1',
      port: test.plainPort,
      timeoutMs: 10_000,
      tls: { ca: test.cert, servername: 'localhost' },
    }),
    /socket|disconnected|ECONNRESET|closed/i,
    'the TLS handshake fails',
  )
  t.same(
    test.app.smppServer.sessionCounts(),
    { transmitter: 0, receiver: 0, transceiver: 0 },
    'nothing bound',
  )
  t.same(await test.rows(), [], 'nothing written')

  // Both listeners still serve their own protocol.
  const overTls = await connectSmpp({
    host: '127.0.0.1',
    port: test.tlsPort,
    timeoutMs: 10_000,
    tls: { ca: test.cert, servername: 'localhost' },
  })
  t.teardown(() => overTls.destroy())
  t.equal((await bind(overTls, test.systemId, test.password)).command_status, STATUS.ESME_ROK)
  await overTls.request('unbind', {}, 10_000)
  const plain = await connectSmpp({ host: '127.0.0.1', port: test.plainPort, timeoutMs: 10_000 })
  t.teardown(() => plain.destroy())
  t.equal((await bind(plain, test.systemId, test.password)).command_status, STATUS.ESME_ROK)
  t.equal((await submit(plain, 'after the refusals')).command_status, STATUS.ESME_ROK)
  t.equal((await test.rows()).length, 1)
})
