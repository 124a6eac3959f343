/**
 * A carrier over `smpps://`: the fake SMSC as a TLS `smpp` server with a dev-cert certificate. With
 * `tlsCa` the carrier trusts it, binds over TLS, hands messages over and takes receipts back; without
 * it (or over plain `smpp://` to the TLS port) it never binds, says why, and the messages wait.
 */
import t from 'tap'
import { STATUS } from '../../src/smpp/session.js'
import { devCert } from '../support/tls.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { carrierApp, QUICK } from './setup.js'

const cert = devCert(t)
const smsc = await FakeSmsc.start(0, { key: cert.key, cert: cert.cert })
t.teardown(() => smsc.close())

const url = (scheme: 'smpp' | 'smpps', query = '') =>
  `${scheme}://esme01:secret1@127.0.0.1:${smsc.port}?${QUICK}${query ? `&${query}` : ''}`

t.test('smpps:// with tlsCa: bound over TLS, submits and receipts go through', async (t) => {
  const { app, send, outgoing } = await carrierApp(t, {
    CARRIER_URL: url('smpps', `tlsCa=${encodeURIComponent(cert.certFile)}`),
  })
  await waitFor('the carrier bound over TLS', () => app.carriers.carrier('upstream')?.state().status === 'up')
  t.match(smsc.binds.at(-1), { systemId: 'esme01', password: 'secret1', status: STATUS.ESME_ROK })
  const before = smsc.submits.length
  const sent = await send(['+33601000001', '+33601000002'], 'Hello over TLS')
  t.equal(sent.status, 200)
  await app.sendingWorker.runOnce()
  const submits = smsc.submits.slice(before)
  t.same(
    submits.map((s) => [s.source, s.destination, s.text]).sort(),
    [
      ['ACME', '33601000001', 'Hello over TLS'],
      ['ACME', '33601000002', 'Hello over TLS'],
    ],
    'the SMSC received both submit_sm over TLS',
  )
  t.same(
    (await outgoing(sent.body.ids)).map((r) => [r.state, r.ptt]),
    [
      ['submitted', 3],
      ['submitted', 3],
    ],
  )
  const first = submits.find((s) => s.destination === '33601000001')
  t.equal(await smsc.receipt(first?.messageId as string, 'DELIVRD'), STATUS.ESME_ROK, 'receipt answered')
  t.match((await outgoing([sent.body.ids[0]]))[0], { state: 'final', ptt: 4, delivery_receipt: 1 })
})

t.test(
  'an untrusted certificate, or plain SMPP to the TLS port: never bound, the reason shown',
  async (t) => {
    for (const [what, carrierUrl, reason] of [
      ['smpps:// without tlsCa', url('smpps'), /certificate/i],
      ['smpp:// to the TLS port', url('smpp'), /closed|no bind_transceiver_resp|ECONNRESET|socket/i],
    ] as const) {
      const bindsBefore = smsc.binds.length
      const { app, send, outgoing } = await carrierApp(t, { CARRIER_URL: carrierUrl })
      const carrier = () => app.carriers.carrier('upstream')?.state()
      await waitFor(`${what}: a failed attempt`, () => carrier()?.detail != null)
      t.equal(carrier()?.status, 'connecting', `${what}: not up`)
      t.match(carrier()?.detail, reason, `${what}: why`)
      const sent = await send(['+33601000009'])
      t.equal(sent.status, 200)
      await app.sendingWorker.runOnce()
      t.equal((await outgoing(sent.body.ids))[0]?.state, 'pending', `${what}: the message waits`)
      t.equal(smsc.binds.length, bindsBefore, `${what}: no bind reached the SMSC`)
      await app.close()
    }
  },
)
