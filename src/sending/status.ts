import { sql, type Transaction } from 'kysely'
import { refund } from '../accounts/ledger.js'
import type { Database } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { enqueueStatusCallbacks, type StatusChange } from '../dlr/outbox.js'
import { enqueueSmppReceipts } from '../smpp-server/outbox.js'

/** DLR ids after which an SMS's state can no longer change. */
export const FINAL_DLR = new Set([1, 2, 16])
export const PTT_EXPIRED = 8
export const DLR_FAILED = 2
export const DLR_NOT_BILLED = 16

/** A new status for an outgoing SMS: its ptt and DLR id. */
export type StatusReport = { outgoingId: number; ptt: number; dlr: number }

type Trx = Transaction<Database>

/**
 * Rows the caller already holds locked (`SELECT … FOR UPDATE` in this transaction), as it changed
 * them in memory; `changed` are those whose change must be written even when no report changes them.
 * The status path then neither locks nor writes them a second time.
 */
export type HeldRows = { rows: ReadonlyMap<number, OutgoingRow>; changed: readonly number[] }

/**
 * The status path: every status change of an outgoing SMS goes through here, in the caller's
 * transaction, in order. For the whole batch it locks the rows (id order, so two batches cannot
 * deadlock), updates them (ptt, deliveryReceipt, deliveredAt, final state), records the history
 * (outgoing_events), queues the callbacks, and refunds a final "error / not billed" report.
 *
 * - A report arriving after the validity period becomes ptt 8 (expired, DLR 2).
 * - A report for an SMS already final (or cancelled) is ignored; so is a report that repeats the
 *   SMS's current ptt and DLR (a carrier sending the same receipt twice changes nothing).
 *
 * Returns the changes made, in order. `held`: rows the caller has locked and changed (see HeldRows),
 * written in the same UPDATE as the status changes.
 */
export async function applyStatusReports(
  trx: Trx,
  reports: readonly StatusReport[],
  now: Date,
  held?: HeldRows,
): Promise<StatusChange[]> {
  if (reports.length === 0 && !held?.changed.length) return []
  const current = new Map<number, OutgoingRow>(held?.rows)
  const ids = [...new Set(reports.map((r) => r.outgoingId))]
    .filter((id) => !current.has(id))
    .sort((a, b) => a - b)
  if (ids.length > 0) {
    // One array parameter, not one per id: a statement of thousands of parameters costs its parse and
    // plan more than its execution.
    const rows = await trx
      .selectFrom('outgoing')
      .selectAll()
      .where(sql<boolean>`id = any(${ids}::int8[])`)
      .orderBy('id')
      .forUpdate()
      .execute()
    for (const row of rows) current.set(row.id, row)
  }
  const changes: StatusChange[] = []
  const refunds: OutgoingRow[] = []
  for (const report of reports) {
    const row = current.get(report.outgoingId)
    if (!row || row.state === 'final' || row.state === 'cancelled') continue
    let { ptt, dlr } = report
    if (row.expires_at && now.getTime() >= row.expires_at.getTime()) {
      ptt = PTT_EXPIRED
      dlr = DLR_FAILED
    }
    if (ptt === row.ptt && dlr === row.delivery_receipt) continue
    const final = FINAL_DLR.has(dlr)
    current.set(row.id, {
      ...row,
      ptt,
      delivery_receipt: dlr,
      state: final ? 'final' : row.state,
      delivered_at: dlr === 1 ? now : row.delivered_at,
    })
    changes.push({ outgoingId: row.id, accountId: row.account_id, login: row.login, ptt, dlr })
    if (final && dlr === DLR_NOT_BILLED && row.credits > 0) refunds.push(row)
  }
  const changed = [...new Set([...(held?.changed ?? []), ...changes.map((c) => c.outgoingId)])].map(
    (id) => current.get(id) as OutgoingRow,
  )
  if (changed.length === 0) return changes
  // Each row written once, whatever changed it: the caller's change (a hand-over) and its status; one
  // array per column (unnest), so the statement has nine parameters whatever the batch. The ids once
  // more as `= any`: without it the planner, which cannot see into unnest, may hash the whole table.
  await sql`
    update outgoing as o
       set ptt = v.ptt, delivery_receipt = v.dlr, state = v.state, delivered_at = v.delivered_at,
           sent_at = v.sent_at, carrier = v.carrier, claimed_until = v.claimed_until
      from unnest(${changed.map((r) => r.id)}::int8[], ${changed.map((r) => r.ptt)}::int4[],
                  ${changed.map((r) => r.delivery_receipt)}::int4[], ${changed.map((r) => r.state)}::text[],
                  ${changed.map((r) => r.delivered_at)}::timestamptz[], ${changed.map((r) => r.sent_at)}::timestamptz[],
                  ${changed.map((r) => r.carrier)}::text[], ${changed.map((r) => r.claimed_until)}::timestamptz[])
           as v(id, ptt, dlr, state, delivered_at, sent_at, carrier, claimed_until)
     where o.id = v.id and o.id = any(${changed.map((r) => r.id)}::int8[])`.execute(trx)
  if (changes.length === 0) return changes
  // In the order of the changes (unnest keeps the arrays' order): the history's ids follow it.
  await sql`
    insert into outgoing_events (outgoing_id, account_id, login, ptt, dlr, created_at)
    select v.outgoing_id, v.account_id, v.login, v.ptt, v.dlr, ${now}::timestamptz
      from unnest(${changes.map((c) => c.outgoingId)}::int8[], ${changes.map((c) => c.accountId)}::int4[],
                  ${changes.map((c) => c.login)}::text[], ${changes.map((c) => c.ptt)}::int4[],
                  ${changes.map((c) => c.dlr)}::int4[]) as v(outgoing_id, account_id, login, ptt, dlr)`.execute(
    trx,
  )
  await enqueueStatusCallbacks(trx, changes, now)
  // Only the messages sent by an SMPP account that asked for receipts can have one (the rows are read
  // above, locked, in this transaction): none asked, no query.
  const receipted = changes.filter((c) => (current.get(c.outgoingId)?.smpp_receipt ?? 0) > 0)
  if (receipted.length > 0) await enqueueSmppReceipts(trx, receipted, now)
  for (const row of refunds) {
    await refund(trx, {
      accountId: row.account_id,
      login: row.login,
      hundredths: row.credits,
      source: row.spend_source,
      reference: `outgoing:${row.id}`,
    })
  }
  return changes
}
