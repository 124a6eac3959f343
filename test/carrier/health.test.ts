/**
 * A carrier that cannot bind, while another works: /health degraded (not down), GET
 * /admin/v1/carriers and the metrics say which and why; with no carrier left, /health is 503.
 */
import t from 'tap'
import { STATUS } from '../../src/smpp/session.js'
import { admin } from '../helpers.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { carrierApp, smppUrl } from './setup.js'

t.test('health, admin and metrics follow the carriers', async (t) => {
  const working = await FakeSmsc.start()
  const refusing = await FakeSmsc.start()
  t.teardown(() => Promise.all([working.close(), refusing.close()]))
  refusing.bindStatus = STATUS.ESME_RBINDFAIL
  const { app } = await carrierApp(t, {
    CARRIERS: JSON.stringify([
      { name: 'main', url: smppUrl(working.port, 'window=7'), default: true },
      { name: 'backup', url: smppUrl(refusing.port), prefixes: ['44'] },
    ]),
  })
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200, 'degraded, not down, while another carrier works')
  t.same(health.json(), {
    status: 'degraded',
    carriers: [
      {
        name: 'backup',
        status: 'connecting',
        lastError: 'the SMSC refused bind_transceiver: ESME_RBINDFAIL (0xd)',
      },
    ],
  })

  const listed = await admin(app, 'GET', '/admin/v1/carriers')
  t.equal(listed.status, 200)
  const byName = new Map(listed.body.map((c: { name: string }) => [c.name, c]))
  t.match(byName.get('main'), {
    kind: 'smpp',
    url: `smpp://esme01@127.0.0.1:${working.port}`,
    default: true,
    routed: true,
    status: 'up',
    lastError: null,
    inFlight: 0,
    queued: 0,
    sessions: [{ role: 'transceiver', state: 'bound', lastError: null, unanswered: 0 }],
  })
  t.match(byName.get('backup'), { status: 'connecting', prefixes: ['44'], lastError: /ESME_RBINDFAIL/ })
  t.match(byName.get('simulator'), { kind: 'simulator', routed: false })
  t.notMatch(JSON.stringify(listed.body), /secret1/, 'no password')

  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /sms_mirror_carrier_up\{carrier="main"\} 1/)
  t.match(metrics, /sms_mirror_carrier_up\{carrier="backup"\} 0/)
  t.match(metrics, /sms_mirror_carrier_sessions_bound\{carrier="main"\} 1/)
  t.match(metrics, /sms_mirror_carrier_bind_attempts_total\{carrier="backup",outcome="failed"\} [1-9]/)

  working.dropAll()
  working.bindStatus = STATUS.ESME_RBINDFAIL
  await waitFor('main away', () => app.carriers.carrier('main')?.state().status !== 'up')
  const down = await app.inject('/health')
  t.equal(down.statusCode, 503, 'no carrier left: down')
  t.equal(down.json().status, 'down')
  working.bindStatus = STATUS.ESME_ROK
  await waitFor('main back', () => app.carriers.carrier('main')?.state().status === 'up')
  t.equal((await app.inject('/health')).statusCode, 200)
})
