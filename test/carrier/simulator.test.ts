/**
 * The simulator's own queue (simulator_reports) across a crash: a replica that claimed a report and
 * died before handing it over leaves it leased; the later reports of the same message wait for it,
 * so the status path sees "sent" before "delivered", never the final report alone.
 */
import t from 'tap'
import type { CarrierEvents, CarrierReport } from '../../src/carrier/carrier.js'
import { SimulatorCarrier } from '../../src/carrier/simulator.js'
import { createTestDatabase, manualClock } from '../helpers.js'

const { database } = await createTestDatabase(t)
const db = database.db
const clock = manualClock()
const LEASE_MS = 5_000
const rules = [
  {
    receiver: '.',
    steps: [
      { ptt: 3, dlr: 8, afterMs: 100 },
      { ptt: 4, dlr: 1, afterMs: 200 },
    ],
  },
]

/** A replica's simulator: what it hands over is recorded; `dies` makes the hand-over throw once. */
function replica() {
  const handed: CarrierReport[] = []
  let dies = false
  const events: CarrierEvents = {
    async reports(_carrier, reports) {
      if (dies) {
        dies = false
        throw new Error('killed before the status path committed')
      }
      handed.push(...reports)
    },
    async incoming() {},
  }
  const carrier = new SimulatorCarrier({ db, clock, rules, leaseMs: LEASE_MS })
  return { carrier, handed, events, dieAtNextHandOver: () => (dies = true) }
}

const message = (outgoingId: number) => ({
  outgoingId,
  receiver: '+33601020304',
  sender: 'Shop',
  text: 'Hello',
  encoding: '7bits' as const,
  parts: 1,
  smsClass: null,
  validUntil: null,
})

t.test('a report leased by a dead replica holds back the later reports of its message', async (t) => {
  const first = replica()
  await first.carrier.start(first.events)
  const [outcome] = first.carrier.submit([message(1)])
  const accepted = await outcome
  t.equal(accepted?.kind, 'accepted')
  const id = accepted?.kind === 'accepted' ? accepted.carrierMessageIds[0] : undefined

  clock.advance(150) // the "sent" report is due, the "delivered" one not yet
  first.dieAtNextHandOver()
  await t.rejects(first.carrier.runDue(clock.now()), /killed/)
  t.same(first.handed, [], 'nothing reached the status path')

  const second = replica()
  await second.carrier.start(second.events)
  clock.advance(100) // "delivered" is due now; "sent" is still leased to the dead replica
  t.equal(await second.carrier.runDue(clock.now()), 0, 'the final report waits for the one before it')
  t.same(second.handed, [])

  clock.advance(LEASE_MS) // the lease ends: both go, in the order announced
  t.equal(await second.carrier.runDue(clock.now()), 2)
  t.same(
    second.handed.map((r) => [r.carrierMessageId, r.ptt, r.dlr]),
    [
      [id, 3, 8],
      [id, 4, 1],
    ],
  )
  t.equal(await second.carrier.runDue(clock.now()), 0, 'handed over once: removed after the hand-over')
})

t.test('reports of other messages are not held back by a leased one', async (t) => {
  const first = replica()
  await first.carrier.start(first.events)
  const [a, b] = await Promise.all(first.carrier.submit([message(2), message(3)]))
  const idOf = (o: typeof a) => (o?.kind === 'accepted' ? o.carrierMessageIds[0] : undefined)
  clock.advance(150)
  first.dieAtNextHandOver()
  await t.rejects(first.carrier.runDue(clock.now()))
  // A third message handed over later, by a live replica, is reported on time.
  const second = replica()
  await second.carrier.start(second.events)
  const [c] = await Promise.all(second.carrier.submit([message(4)]))
  clock.advance(250)
  await second.carrier.runDue(clock.now())
  t.same(
    second.handed.map((r) => [r.carrierMessageId, r.ptt]),
    [
      [idOf(c), 3],
      [idOf(c), 4],
    ],
    'only the message whose earlier report is leased waits',
  )
  t.notOk(
    second.handed.some((r) => r.carrierMessageId === idOf(a) || r.carrierMessageId === idOf(b)),
    'the leased messages wait for their lease',
  )
})
