import type { Transaction } from 'kysely'
import { refund } from '../accounts/credits.js'
import type { Database } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { enqueueStatusCallback } from '../dlr/outbox.js'

/** DLR ids after which an SMS's state can no longer change. */
export const FINAL_DLR = new Set([1, 2, 16])
export const PTT_EXPIRED = 8
export const DLR_FAILED = 2
export const DLR_NOT_BILLED = 16

/**
 * Applies one status report to an outgoing SMS in the caller's transaction: updates the row (ptt,
 * deliveryReceipt, deliveredAt), writes the outgoing_events row the DLR dispatcher reads, refunds a
 * final "error / not billed" report, and turns a report arriving after the validity period into
 * ptt 8 (expired). Reports for an SMS already final are ignored. The row must be locked by the caller.
 */
export async function applyStatus(
  trx: Transaction<Database>,
  outgoing: OutgoingRow,
  report: { ptt: number; dlr: number },
  now: Date,
): Promise<OutgoingRow> {
  if (outgoing.state === 'final' || outgoing.state === 'cancelled') return outgoing
  let { ptt, dlr } = report
  if (outgoing.expires_at && now.getTime() >= outgoing.expires_at.getTime()) {
    ptt = PTT_EXPIRED
    dlr = DLR_FAILED
  }
  const final = FINAL_DLR.has(dlr)
  const next: OutgoingRow = {
    ...outgoing,
    ptt,
    delivery_receipt: dlr,
    state: final ? 'final' : outgoing.state,
    delivered_at: dlr === 1 ? now : outgoing.delivered_at,
  }
  await trx
    .updateTable('outgoing')
    .set({ ptt, delivery_receipt: dlr, state: next.state, delivered_at: next.delivered_at })
    .where('id', '=', outgoing.id)
    .execute()
  await enqueueStatusCallback(trx, outgoing, { ptt, dlr }, now)
  await trx
    .insertInto('outgoing_events')
    .values({
      outgoing_id: outgoing.id,
      account_id: outgoing.account_id,
      login: outgoing.login,
      ptt,
      dlr,
      created_at: now,
    })
    .execute()
  if (final) {
    await trx.deleteFrom('carrier_steps').where('outgoing_id', '=', outgoing.id).execute()
    if (dlr === DLR_NOT_BILLED && outgoing.credits > 0) {
      await refund(trx, {
        accountId: outgoing.account_id,
        login: outgoing.login,
        hundredths: outgoing.credits,
        source: outgoing.spend_source,
        reference: `outgoing:${outgoing.id}`,
      })
    }
  }
  return next
}

/** Locks outgoing rows by id (for status changes), skipping none: reports must not be lost. */
export async function lockOutgoing(
  trx: Transaction<Database>,
  ids: number[],
): Promise<Map<number, OutgoingRow>> {
  if (ids.length === 0) return new Map()
  const rows = await trx
    .selectFrom('outgoing')
    .selectAll()
    .where('id', 'in', ids)
    .orderBy('id')
    .forUpdate()
    .execute()
  return new Map(rows.map((row) => [row.id, row]))
}
