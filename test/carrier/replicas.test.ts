/**
 * Several replicas of the service on one database, one SMPP carrier: each replica binds its own
 * session; their sending workers, running at once, submit every message exactly once between them;
 * a receipt arriving on the other replica's session finds its message; with one replica gone, the
 * other goes on sending alone.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { STATUS } from '../../src/smpp/session.js'
import { call, SERVICE, sameSigningAs } from '../helpers.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { carrierApp, smppUrl } from './setup.js'

t.test('two replicas, one carrier', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const first = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port) }, { credits: 1000 })
  const second = await buildApp(first.deps, { logger: false, workers: false })
  let secondOpen = true
  t.teardown(() => (secondOpen ? second.close() : undefined))
  sameSigningAs(second, first.app)
  await second.ready()
  await waitFor('both replicas bound', () => smsc.boundCount() === 2)
  t.equal(smsc.binds.filter((b) => b.status === STATUS.ESME_ROK).length, 2, 'one bind per replica')

  const receivers = Array.from({ length: 40 }, (_, i) => `+336010${String(i).padStart(5, '0')}`)
  const sent = await first.send(receivers)
  t.equal(sent.status, 200)
  const ids: number[] = sent.body.ids
  // Both workers at once, until nothing is left: the claims must not overlap.
  const pending = async () => (await first.outgoing(ids)).filter((row) => row.state !== 'submitted').length
  while ((await pending()) > 0) {
    await Promise.all([first.app.sendingWorker.runOnce(), second.sendingWorker.runOnce()])
  }
  t.same(
    smsc.submits.map((s) => `+${s.destination}`).sort(),
    [...receivers].sort(),
    'every message submitted exactly once between the two replicas',
  )

  // The SMSC may deliver a receipt on any bound session of the account, not only the submitting one.
  const [submit] = smsc.submits
  if (!submit) throw new Error('nothing submitted')
  const other = smsc.receivers().find((session) => session !== submit.session)
  t.ok(other, "the other replica's session")
  const target = (await first.outgoing(ids)).find((row) => row.receiver === `+${submit.destination}`)
  t.equal(await smsc.receipt(submit.messageId, 'DELIVRD', { session: other }), STATUS.ESME_ROK)
  t.match((await first.outgoing([target?.id ?? -1]))[0], { state: 'final', ptt: 4, delivery_receipt: 1 })

  // One replica stops (it unbinds); the other keeps its session and sends alone.
  await first.app.close()
  await waitFor('one session left', () => smsc.boundCount() === 1)
  const before = smsc.submits.length
  const later = await first.deps.database.db
    .selectFrom('outgoing')
    .select('id')
    .where('id', 'in', ids)
    .execute()
  t.equal(later.length, ids.length, 'the database is still there for the replica left')
  const alone = await call(second, 'POST', `/1.0/sms/${SERVICE}/jobs`, {
    message: 'Hello',
    receivers: ['+33601099999'],
    sender: 'ACME',
    noStopClause: true,
  })
  t.equal(alone.status, 200, `sent through the replica left: ${JSON.stringify(alone.body)}`)
  await second.sendingWorker.runOnce()
  t.same(
    smsc.submits.slice(before).map((s) => s.destination),
    ['33601099999'],
  )
  secondOpen = false
  await second.close()
})
