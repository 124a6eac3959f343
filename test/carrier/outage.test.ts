/**
 * The database going away while a pass of the sending worker has hand-overs under way: the pass
 * fails (the worker logs it and retries at the next poll), never the process, and the messages it
 * had claimed are handed over again once their lease lapses. (drill:pg-restart ended the server
 * this way once: a claim failed while an earlier batch's record was refused too.) The failures are
 * injected by a kysely plugin on the same database, in both orders: the claim first, the record first.
 */
import type { KyselyPlugin, RootOperationNode } from 'kysely'
import t, { type Test } from 'tap'
import { SendingWorker } from '../../src/carrier/worker.js'
import { DEFAULT_STOP_MENTION } from '../../src/sending/encoding.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'
import { rawText, refusing, watchUnhandled } from '../support/outage.js'

const { app, deps, clock } = await buildTestApp(t, { credits: 5000 })
const { db } = deps.database
await enableSender(db, await accountIdOf(db, SERVICE), 'ACME')
await app.ready()

const LEASE_MS = 30_000
let numbers = 0
/** 1,200 due messages: more than one claim's batch, so a pass claims again while the first batch is with the simulator. */
async function sendMany(t: Test) {
  for (let job = 0; job < 2; job++) {
    const receivers = Array.from({ length: 600 }, () => `+3361${String(numbers++).padStart(7, '0')}`)
    const sent = await call(app, 'POST', `/1.0/sms/${SERVICE}/jobs`, {
      message: 'hello',
      receivers,
      sender: 'ACME',
      noStopClause: true,
    })
    t.equal(sent.status, 200)
  }
}

const states = async () =>
  Object.fromEntries(
    (
      await db
        .selectFrom('outgoing')
        .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
        .where('state', 'in', ['pending', 'submitted', 'final'])
        .groupBy('state')
        .execute()
    ).map((r) => [r.state, Number(r.n)]),
  )

const isClaim = (node: RootOperationNode) => rawText(node).includes('update outgoing_due set due_at')

function workerOn(plugin: KyselyPlugin) {
  return new SendingWorker({
    db: db.withPlugin(plugin),
    router: app.carriers,
    clock,
    log: app.log,
    pollMs: 60_000,
    leaseMs: LEASE_MS,
    stopMention: DEFAULT_STOP_MENTION,
  })
}

/** Every hand-over of the pass has ended; then a few turns for a rejection nobody handled to surface. */
async function settled(t: Test, worker: SendingWorker) {
  const until = Date.now() + 10_000
  while (worker.handingOver > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(worker.handingOver, 0, 'every hand-over of the pass ended')
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
}

/** The messages stayed leased, and are handed over again once the lease lapsed. */
async function recovered(t: Test) {
  t.same(await states(), { pending: 1200 }, 'nothing was recorded: the claimed messages stay leased')
  clock.advance(LEASE_MS)
  while ((await app.sendingWorker.runOnce()) > 0) clock.advance(1000)
  const after = await states()
  t.equal(after.pending ?? 0, 0, 'every message handed over again once its lease lapsed')
  t.equal(
    Object.values(after).reduce((a, b) => a + b, 0),
    1200,
  )
  await db.deleteFrom('outgoing').execute()
}

t.test('the next claim refused first, then the records: the pass fails, not the process', async (t) => {
  await sendMany(t)
  // Every statement fails once the first claim has returned (what a PostgreSQL shutdown does to
  // the pool).
  let down = false
  let refused = 0
  const worker = workerOn(
    refusing(
      () => {
        if (down) refused++
        return down
      },
      () => {
        down = true
      },
    ),
  )
  const unhandled = watchUnhandled(t)
  await t.rejects(worker.runOnce(), /Connection terminated unexpectedly/)
  await settled(t, worker)
  t.ok(refused >= 2, 'the claim after the first batch and a record were refused')
  t.same(unhandled, [], 'no rejection left unobserved')
  await recovered(t)
})

t.test(
  'the records refused while the pass waits for its next claim: the pass fails, not the process',
  async (t) => {
    await sendMany(t)
    // Claims answer, everything else fails; the second claim answers only once the first batch's
    // hand-over has ended (all of its records refused), so the pass is waiting on it meanwhile.
    let claims = 0
    let worker: SendingWorker | null = null
    worker = workerOn(
      refusing(
        (node) => !isClaim(node),
        async () => {
          if (++claims === 2) {
            // Bounded like settled(): a hand-over that never ends fails the test below, not by timeout.
            const until = Date.now() + 10_000
            while ((worker?.handingOver ?? 0) > 0 && Date.now() < until)
              await new Promise((resolve) => setTimeout(resolve, 5))
            for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
          }
        },
      ),
    )
    const unhandled = watchUnhandled(t)
    const run = worker.runOnce()
    await t.rejects(run, /Connection terminated unexpectedly/)
    await settled(t, worker)
    t.equal(claims, 2)
    t.same(unhandled, [], 'no rejection left unobserved')
    await recovered(t)
  },
)
