import { sql, type Transaction } from 'kysely'
import type { Clock } from '../clock.js'
import type { Database, Db } from '../db/index.js'
import { applyStatusReports, FINAL_DLR, type StatusReport } from '../sending/status.js'
import type { CarrierEvents, CarrierReport } from './carrier.js'

type Trx = Transaction<Database>

/**
 * What carriers' events become: reports go through the status path (matched by the ids the carrier
 * gave), each batch in one transaction; the promise resolves after commit, so a carrier acknowledges
 * nothing that could still be lost. `onChange` is told after a batch that changed something (the
 * callback dispatcher has work).
 */
export function carrierEvents(options: {
  db: Db
  clock: Clock
  onChange: () => void
  receiveIncoming: CarrierEvents['incoming']
}): CarrierEvents {
  const { db, clock } = options
  return {
    async reports(carrier, reports) {
      if (reports.length === 0) return
      const changes = await db
        .transaction()
        .execute(async (trx) =>
          applyStatusReports(trx, await matchReports(trx, carrier, reports), clock.now()),
        )
      if (changes.length > 0) options.onChange()
    },
    incoming: options.receiveIncoming,
  }
}

/**
 * The status reports that carrier reports mean. A report for an id not known (yet) — its hand-over
 * is still being recorded, or it is not ours — is kept aside, and applied if the id is recorded later
 * (see `recordCarrierIds`). A message in several parts changes with each part's report until one
 * part is final; it becomes final when every part is, delivered only when every part was.
 */
export async function matchReports(
  trx: Trx,
  carrier: string,
  reports: readonly CarrierReport[],
): Promise<StatusReport[]> {
  const ids = [...new Set(reports.map((r) => r.carrierMessageId))]
  const known = await trx
    .selectFrom('carrier_messages')
    .select(['carrier_message_id', 'outgoing_id'])
    .where('carrier', '=', carrier)
    .where('carrier_message_id', 'in', ids)
    .execute()
  const outgoingOf = new Map(known.map((k) => [k.carrier_message_id, k.outgoing_id]))
  const unmatched = reports.filter((r) => !outgoingOf.has(r.carrierMessageId))
  if (unmatched.length > 0) {
    await trx
      .insertInto('carrier_reports_unmatched')
      .values(
        unmatched.map((r) => ({
          carrier,
          carrier_message_id: r.carrierMessageId,
          ptt: r.ptt,
          dlr: r.dlr,
          received_at: r.at,
        })),
      )
      .execute()
  }
  const matched = reports.filter((r) => outgoingOf.has(r.carrierMessageId))
  if (matched.length === 0) return []
  // Each part remembers its last report; a message's status is derived from its parts.
  const last = new Map(matched.map((r) => [r.carrierMessageId, r]))
  const values = [...last.values()].map(
    (r) => sql`(${r.carrierMessageId}::text, ${r.ptt}::int4, ${r.dlr}::int4)`,
  )
  await sql`
    update carrier_messages as m set ptt = v.ptt, dlr = v.dlr
      from (values ${sql.join(values)}) as v(id, ptt, dlr)
     where m.carrier = ${carrier} and m.carrier_message_id = v.id`.execute(trx)
  const outgoingIds = [...new Set(matched.map((r) => outgoingOf.get(r.carrierMessageId) as number))]
  const parts = await trx
    .selectFrom('carrier_messages')
    .select(['outgoing_id', 'part', 'ptt', 'dlr'])
    .where('outgoing_id', 'in', outgoingIds)
    .orderBy('outgoing_id')
    .orderBy('part')
    .execute()
  const partsOf = new Map<number, typeof parts>()
  for (const part of parts) partsOf.set(part.outgoing_id, [...(partsOf.get(part.outgoing_id) ?? []), part])
  const statuses: StatusReport[] = []
  for (const report of matched) {
    const outgoingId = outgoingOf.get(report.carrierMessageId) as number
    const all = partsOf.get(outgoingId) ?? []
    if (all.length <= 1) {
      statuses.push({ outgoingId, ptt: report.ptt, dlr: report.dlr })
      continue
    }
    const finals = all.filter((p) => p.dlr !== null && FINAL_DLR.has(p.dlr))
    if (finals.length === all.length) {
      const failed = finals.find((p) => p.dlr !== 1)
      statuses.push({ outgoingId, ptt: failed?.ptt ?? 4, dlr: failed?.dlr ?? 1 })
    } else if (!FINAL_DLR.has(report.dlr)) {
      statuses.push({ outgoingId, ptt: report.ptt, dlr: report.dlr })
    }
  }
  return statuses
}

/**
 * Records the ids a carrier gave the parts it accepted and takes, in the same statement (one round
 * trip), the reports that arrived before them (kept aside by `matchReports`), applied in the
 * transaction that records the hand-over, then forgotten. Returns the status reports they mean.
 */
export async function recordCarrierIds(
  trx: Trx,
  carrier: string,
  parts: readonly { id: string; outgoingId: number; part: number }[],
): Promise<StatusReport[]> {
  if (parts.length === 0) return []
  const ids = parts.map((p) => p.id)
  // One array per column; the insert runs to completion whatever the delete returns.
  const { rows: early } = await sql<{
    id: number
    carrier_message_id: string
    ptt: number
    dlr: number
    received_at: Date
  }>`
    with recorded as (
      insert into carrier_messages (carrier, carrier_message_id, outgoing_id, part)
      select ${carrier}::text, v.id, v.outgoing_id, v.part
        from unnest(${ids}::text[], ${parts.map((p) => p.outgoingId)}::int8[],
                    ${parts.map((p) => p.part)}::int4[]) as v(id, outgoing_id, part)
      on conflict (carrier, carrier_message_id) do nothing
    )
    delete from carrier_reports_unmatched
     where carrier = ${carrier}::text and carrier_message_id = any(${ids}::text[])
    returning id, carrier_message_id, ptt, dlr, received_at`.execute(trx)
  if (early.length === 0) return []
  early.sort((a, b) => a.id - b.id)
  return matchReports(
    trx,
    carrier,
    early.map((r) => ({ carrierMessageId: r.carrier_message_id, ptt: r.ptt, dlr: r.dlr, at: r.received_at })),
  )
}
