import { sql } from 'kysely'
import type { Db } from '../../src/db/index.js'
import type { CallbackReceiver } from '../../test/support/receiver.js'
import type { Keys } from '../../test/support/signing.js'
import { type Drill, sleep } from './harness.js'
import { type Load, signedGet } from './load.js'
import { EXPECTED_PTTS, LOGIN, QUOTA, SERVICE } from './setup.js'

/** Watching a drill (snapshot), waiting for it to settle, and the end checks. */

/** Messages by state, carrier steps due or not, callback deliveries by status: `outgoing pending 3, …`. */
export async function snapshot(db: Db): Promise<string> {
  const { rows } = await sql<{ what: string; n: number }>`
    select 'outgoing ' || state as what, count(*)::int8 as n from outgoing group by state
    union all select 'simulator reports', count(*)::int8 from simulator_reports
    union all select 'callbacks ' || status, count(*)::int8 from callback_deliveries group by status
    order by 1`.execute(db)
  return rows.map((r) => `${r.what} ${r.n}`).join(', ')
}

/** The status changes that must each produce a callback: every outgoing_events row, `${id}:${ptt}`. */
async function expectedCallbacks(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('outgoing_events').select(['outgoing_id', 'ptt']).execute()
  return rows.map((r) => `${r.outgoing_id}:${r.ptt}`)
}

/**
 * Waits (bounded) until every message is final, no carrier step or callback is pending, and every
 * status change's callback arrived at least once. Answers how long it took, or null at the deadline.
 */
export async function settle(db: Db, rx: CallbackReceiver, deadlineMs: number): Promise<number | null> {
  const began = Date.now()
  while (Date.now() - began < deadlineMs) {
    try {
      const { rows } = await sql<{ open: number; steps: number; pending: number }>`
        select (select count(*)::int8 from outgoing where state <> 'final') as open,
               (select count(*)::int8 from simulator_reports) as steps,
               (select count(*)::int8 from callback_deliveries where status = 'pending') as pending`.execute(
        db,
      )
      const row = rows[0]
      if (row && row.open === 0 && row.steps === 0 && row.pending === 0) {
        const expected = await expectedCallbacks(db)
        if (expected.every((key) => rx.counts.has(key))) return Date.now() - began
      }
    } catch {
      // the drill's own connection may still be coming back
    }
    await sleep(250)
  }
  return null
}

export type EndResult = { rows: number; accepted: number; unanswered: number; summary: string }

/**
 * The end checks, each failure noted on the drill:
 * - every accepted answer's id is an outgoing row of its receiver, final and delivered, listed by
 *   GET …/users/{login}/outgoing; every row belongs to an accepted request or to one that got no
 *   answer at all (never to one answered with an error);
 * - every message went through the simulator's statuses (ptt 3 then 4) and every status change
 *   (outgoing_events) produced a callback that arrived at least once; no callback left pending or failed;
 * - the credits balance: quota spent = ledger spends − refunds = credits of the outgoing rows, each
 *   batch's spend = its rows' credits, and the ledger rebuilds the quota and the account balance.
 */
export async function endChecks(
  drill: Drill,
  db: Db,
  rx: CallbackReceiver,
  load: Load,
  api: { base: string; keys: Keys },
): Promise<EndResult> {
  const rows = await db
    .selectFrom('outgoing')
    .select(['id', 'receiver', 'state', 'ptt', 'delivery_receipt'])
    .execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  const requests = new Map(load.outcomes.map((o) => [o.receiver, o]))

  // Accepted answers ↔ rows.
  const accepted = load.accepted()
  const missing = accepted.filter((o) => {
    const row = byId.get(o.ids[0] as number)
    return !row || row.receiver !== o.receiver
  })
  drill.check(
    missing.length === 0,
    `${missing.length} accepted message(s) without their outgoing row, e.g. ${missing
      .slice(0, 3)
      .map((o) => `${o.kind} ${o.receiver} id ${o.ids[0]}`)
      .join(', ')}`,
  )
  let unanswered = 0
  const orphans: string[] = []
  const refusedWithRow: string[] = []
  for (const row of rows) {
    const request = requests.get(row.receiver)
    if (!request) orphans.push(`id ${row.id} ${row.receiver}`)
    else if (request.accepted) continue
    else if (request.status === null) unanswered++
    else
      refusedWithRow.push(
        `id ${row.id} (${request.kind} answered ${request.status} ${request.body.slice(0, 80)})`,
      )
  }
  drill.check(
    orphans.length === 0,
    `${orphans.length} outgoing row(s) of no request: ${orphans.slice(0, 3).join(', ')}`,
  )
  drill.check(
    refusedWithRow.length === 0,
    `${refusedWithRow.length} request(s) answered with an error left a row: ${refusedWithRow.slice(0, 3).join('; ')}`,
  )
  const notDelivered = rows.filter((r) => r.state !== 'final' || r.delivery_receipt !== 1 || r.ptt !== 4)
  drill.check(
    notDelivered.length === 0,
    `${notDelivered.length} message(s) not final/delivered, e.g. ${notDelivered
      .slice(0, 3)
      .map((r) => `id ${r.id} ${r.state} ptt ${r.ptt} dlr ${r.delivery_receipt}`)
      .join(', ')}`,
  )
  const listed = await signedGet<number[]>(api.base, api.keys, `/1.0/sms/${SERVICE}/users/${LOGIN}/outgoing`)
  const history = new Set(listed.status === 200 ? listed.body : [])
  const notListed = accepted.filter((o) => !history.has(o.ids[0] as number))
  drill.check(
    listed.status === 200 && notListed.length === 0,
    `GET …/outgoing (${listed.status}) misses ${notListed.length} accepted id(s), e.g. ${notListed
      .slice(0, 3)
      .map((o) => o.ids[0])
      .join(', ')}`,
  )

  // Status changes ↔ callbacks.
  const events = await db
    .selectFrom('outgoing_events')
    .select(['outgoing_id', 'ptt'])
    .orderBy('outgoing_id')
    .orderBy('id')
    .execute()
  const pttsOf = new Map<number, number[]>()
  for (const e of events) pttsOf.set(e.outgoing_id, [...(pttsOf.get(e.outgoing_id) ?? []), e.ptt])
  const wrongHistory = rows.filter((r) => (pttsOf.get(r.id) ?? []).join(',') !== EXPECTED_PTTS.join(','))
  drill.check(
    wrongHistory.length === 0,
    `${wrongHistory.length} message(s) whose status changes are not ptt ${EXPECTED_PTTS.join(' then ')}, e.g. ${wrongHistory
      .slice(0, 3)
      .map((r) => `id ${r.id}: ${(pttsOf.get(r.id) ?? []).join(',') || 'none'}`)
      .join('; ')}`,
  )
  const expected = events.map((e) => `${e.outgoing_id}:${e.ptt}`)
  const lost = expected.filter((key) => !rx.counts.has(key))
  drill.check(
    lost.length === 0,
    `${lost.length} callback(s) never arrived (id:ptt), e.g. ${lost.slice(0, 5).join(', ')}`,
  )
  const expectedSet = new Set(expected)
  const unexpected = [...rx.counts.keys()].filter((key) => !expectedSet.has(key))
  drill.check(
    unexpected.length === 0,
    `${unexpected.length} callback(s) of no status change: ${unexpected.slice(0, 5).join(', ')}`,
  )
  const duplicated = [...rx.counts.entries()].filter(([, n]) => n > 1)
  const extraCalls = duplicated.reduce((sum, [, n]) => sum + n - 1, 0)
  const deliveries = await db
    .selectFrom('callback_deliveries')
    .select(['status', sql<number>`count(*)::int8`.as('n'), sql<number>`sum(attempts)::int8`.as('attempts')])
    .groupBy('status')
    .execute()
  const notDone = deliveries.filter((d) => d.status !== 'delivered')
  drill.check(
    notDone.length === 0,
    `callback deliveries not all delivered: ${deliveries.map((d) => `${d.status} ${d.n}`).join(', ')}`,
  )
  const attempts = deliveries.reduce((sum, d) => sum + Number(d.attempts), 0)

  // Credits.
  const { rows: bookRows } = await sql<{
    quotaLeft: number
    creditsLeft: number
    spent: number
    refunded: number
    quotaFromLedger: number
    accountFromLedger: number
    outgoingCredits: number
    refundable: number
    spends: number
    batches: number
    badBatches: number
  }>`
    select (select quota_left from sms_users where login = ${LOGIN}) as "quotaLeft",
           (select credits_left from accounts where service_name = ${SERVICE}) as "creditsLeft",
           (select coalesce(-sum(quota_delta), 0)::int8 from credit_ledger
             where login = ${LOGIN} and kind = 'spend') as "spent",
           (select coalesce(sum(quota_delta), 0)::int8 from credit_ledger
             where login = ${LOGIN} and kind = 'refund') as "refunded",
           (select coalesce(sum(quota_delta), 0)::int8 from credit_ledger where login = ${LOGIN}) as "quotaFromLedger",
           (select coalesce(sum(account_delta), 0)::int8 from credit_ledger) as "accountFromLedger",
           (select coalesce(sum(credits), 0)::int8 from outgoing where login = ${LOGIN}) as "outgoingCredits",
           (select coalesce(sum(credits), 0)::int8 from outgoing
             where login = ${LOGIN} and (delivery_receipt = 16 or state = 'cancelled')) as "refundable",
           (select count(*)::int8 from credit_ledger where login = ${LOGIN} and kind = 'spend') as "spends",
           (select count(distinct batch_id)::int8 from outgoing where login = ${LOGIN}) as "batches",
           (select count(*)::int8
              from (select reference, -quota_delta as spent from credit_ledger
                     where login = ${LOGIN} and kind = 'spend') l
              full join (select 'batch:' || batch_id as reference, sum(credits)::int8 as credits
                           from outgoing where login = ${LOGIN} group by batch_id) o using (reference)
             where coalesce(l.spent, 0) <> coalesce(o.credits, 0)) as "badBatches"`.execute(db)
  const b = bookRows[0]!
  const quotaSpent = QUOTA * 100 - b.quotaLeft
  const c = (h: number) => h / 100
  drill.check(
    quotaSpent === b.spent - b.refunded && b.spent === b.outgoingCredits && b.refunded === b.refundable,
    `credits do not balance: quota spent ${c(quotaSpent)}, ledger spends ${c(b.spent)} − refunds ${c(b.refunded)}, ` +
      `outgoing credits ${c(b.outgoingCredits)} (refundable ${c(b.refundable)})`,
  )
  drill.check(
    b.badBatches === 0 && b.spends === b.batches,
    `${b.badBatches} batch(es) whose spend is not its rows' credits (${b.spends} spends, ${b.batches} batches)`,
  )
  drill.check(
    b.quotaFromLedger === b.quotaLeft && b.accountFromLedger === b.creditsLeft,
    `the ledger does not rebuild the balances: quota ${c(b.quotaFromLedger)} vs ${c(b.quotaLeft)}, ` +
      `account ${c(b.accountFromLedger)} vs ${c(b.creditsLeft)}`,
  )

  drill.log(
    `messages: ${rows.length} rows = ${accepted.length} accepted + ${unanswered} committed without an answer; ` +
      `all final/delivered: ${notDelivered.length === 0 ? 'yes' : 'NO'}; in GET …/outgoing: ${notListed.length === 0 ? 'all' : `${notListed.length} missing`}`,
  )
  drill.log(
    `callbacks: ${expected.length} status changes, ${lost.length} lost, ${rx.calls.length} calls, ` +
      `${extraCalls} duplicate call(s) over ${duplicated.length} (id,ptt); delivery attempts recorded ${attempts}` +
      (duplicated.length
        ? `; e.g. ${duplicated
            .slice(0, 3)
            .map(([k, n]) => `${k}×${n}`)
            .join(', ')}`
        : ''),
  )
  drill.log(
    `credits: quota ${QUOTA} → ${c(b.quotaLeft)} (spent ${c(quotaSpent)}) = ledger spends ${c(b.spent)} − refunds ` +
      `${c(b.refunded)} = outgoing credits ${c(b.outgoingCredits)}; ${b.spends} spends for ${b.batches} batches; ` +
      `account ${c(b.creditsLeft)} rebuilt by the ledger: ${b.accountFromLedger === b.creditsLeft ? 'yes' : 'NO'}`,
  )
  return {
    rows: rows.length,
    accepted: accepted.length,
    unanswered,
    summary:
      `${accepted.length} accepted (+${unanswered} unanswered) all delivered, ${expected.length} callbacks ` +
      `(${lost.length} lost, ${extraCalls} dup), credits balance (${c(quotaSpent)} spent)`,
  }
}
