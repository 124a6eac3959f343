/**
 * The database going away while a pass of the sending worker has hand-overs under way: the pass
 * fails (the worker logs it and retries at the next poll), never the process, and the messages it
 * had claimed are handed over again once their lease lapses. (drill:pg-restart ended the server
 * this way once: a claim failed while an earlier batch's record was refused too.)
 */
import t from 'tap'
import { SendingWorker } from '../../src/carrier/worker.js'
import { DEFAULT_STOP_MENTION } from '../../src/sending/encoding.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'

const { app, deps, clock } = await buildTestApp(t, { credits: 5000 })
const { db } = deps.database
await enableSender(db, await accountIdOf(db, SERVICE), 'ACME')
await app.ready()

t.test('a claim and a record refused in the same pass fail the pass, not the process', async (t) => {
  // 1,200 due messages: more than one claim's batch, so the pass claims again while the first
  // batch is with the simulator.
  for (let job = 0; job < 2; job++) {
    const receivers = Array.from({ length: 600 }, (_, i) => `+3361${String(job * 600 + i).padStart(7, '0')}`)
    const sent = await call(app, 'POST', `/1.0/sms/${SERVICE}/jobs`, {
      message: 'hello',
      receivers,
      sender: 'ACME',
      noStopClause: true,
    })
    t.equal(sent.status, 200)
  }
  // Every statement fails once the first claim has returned (what a PostgreSQL shutdown does to
  // the pool), through a plugin on the same database.
  let down = false
  let refused = 0
  const faulty = db.withPlugin({
    transformQuery: (args) => {
      if (down) {
        refused++
        throw new Error('Connection terminated unexpectedly')
      }
      return args.node
    },
    transformResult: async (args) => {
      down = true
      return args.result
    },
  })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))
  const worker = new SendingWorker({
    db: faulty,
    router: app.carriers,
    clock,
    log: app.log,
    pollMs: 60_000,
    leaseMs: 30_000,
    stopMention: DEFAULT_STOP_MENTION,
  })
  await t.rejects(worker.runOnce(), /Connection terminated unexpectedly/)
  // Every hand-over of the pass has ended (they may end after the pass failed, when they were not
  // waited for); then a few turns for a rejection nobody handled to surface.
  const until = Date.now() + 10_000
  while (worker.handingOver > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(worker.handingOver, 0, 'every hand-over of the pass ended')
  t.ok(refused >= 2, 'the claim after the first batch and a record were refused')
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [], 'no rejection left unobserved (Node would end the process)')

  const states = async () =>
    Object.fromEntries(
      (
        await db
          .selectFrom('outgoing')
          .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
          .groupBy('state')
          .execute()
      ).map((r) => [r.state, Number(r.n)]),
    )
  t.same(await states(), { pending: 1200 }, 'nothing was recorded: the claimed messages stay leased')
  clock.advance(30_000)
  while ((await app.sendingWorker.runOnce()) > 0) clock.advance(1000)
  const after = await states()
  t.equal(after.pending ?? 0, 0, 'every message handed over again once its lease lapsed')
  t.equal(
    Object.values(after).reduce((a, b) => a + b, 0),
    1200,
  )
})
