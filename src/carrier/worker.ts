import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import { PollingWorker } from '../background/polling-worker.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { applyStatusReports, DLR_FAILED, PTT_EXPIRED, type StatusReport } from '../sending/status.js'
import type { Carrier, CarrierMessage, SubmitOutcome } from './carrier.js'
import { applyEarlyReports } from './events.js'
import type { CarrierRouter } from './router.js'

const BATCH = 500
/** "Undeliverable as is / not billed": a message no configured carrier takes any more. */
const NO_ROUTE = { ptt: 20, dlr: 16 }

export type SendingWorkerOptions = {
  db: Db
  router: CarrierRouter
  clock: Clock
  log: FastifyBaseLogger
  pollMs: number
  /** How long a hand-over may take before another replica may try it again. */
  leaseMs?: number
  /** Called after a run that changed something (status changes may have queued callbacks). */
  onProgress?: () => void
}

type Claimed = OutgoingRow
type Outcome = { row: Claimed; carrier: string | null; outcome: SubmitOutcome }

/** Waits before handing over again what a carrier asked to retry: 1 s, 2 s, 4 s … at most 5 min. */
export const retryDelayMs = (attempts: number) => Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1))

/**
 * Moves messages through their life, in every replica. A pass claims due messages (SKIP LOCKED, and a
 * lease: claimed_until, so a replica that dies mid-hand-over leaves them to the others after it), hands them to their carrier outside any transaction, and records each carrier's answer
 * in one short transaction — only for the messages whose lease it still holds (the attempt number is
 * the lease's token). Then carriers that play their peer in this process report what is due, and
 * messages not delivered within their validity period end as expired (ptt 8).
 */
export class SendingWorker extends PollingWorker {
  private readonly db: Db
  private readonly router: CarrierRouter
  private readonly clock: Clock
  private readonly leaseMs: number

  constructor(options: SendingWorkerOptions) {
    super(options.pollMs, options.log, 'sending worker', options.onProgress)
    this.db = options.db
    this.router = options.router
    this.clock = options.clock
    this.leaseMs = options.leaseMs ?? 60_000
  }

  /** One pass over due work; returns how many messages and reports were processed. Tests call it. */
  async runOnce(): Promise<number> {
    let total = 0
    for (;;) {
      const done = (await this.submitDue()) + (await this.runCarriers()) + (await this.expireOverdue())
      total += done
      // A backlog is worked off pass after pass, but a shutdown waits for one pass only.
      if (done === 0 || this.stopRequested) return total
    }
  }

  private async claim(now: Date): Promise<Claimed[]> {
    const rows = await this.db
      .updateTable('outgoing')
      .set({
        claimed_until: new Date(now.getTime() + this.leaseMs),
        submit_attempts: sql`submit_attempts + 1`,
      })
      .where(
        'id',
        'in',
        this.db
          .selectFrom('outgoing')
          .select('id')
          .where('state', '=', 'pending')
          .where('send_at', '<=', now)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
          .orderBy('send_at')
          .limit(BATCH)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute()
    return rows.sort((a, b) => a.id - b.id)
  }

  private async submitDue(): Promise<number> {
    const now = this.clock.now()
    const claimed = await this.claim(now)
    if (claimed.length === 0) return 0
    const outcomes: Outcome[] = []
    const byCarrier = new Map<Carrier, Claimed[]>()
    for (const row of claimed) {
      if (row.expires_at && row.expires_at.getTime() <= now.getTime()) {
        outcomes.push({
          row,
          carrier: null,
          outcome: { kind: 'refused', ptt: PTT_EXPIRED, dlr: DLR_FAILED, reason: 'expired before hand-over' },
        })
        continue
      }
      const carrier = this.router.route(row.receiver)
      if (!carrier) {
        outcomes.push({ row, carrier: null, outcome: { kind: 'refused', ...NO_ROUTE, reason: 'no carrier' } })
        continue
      }
      byCarrier.set(carrier, [...(byCarrier.get(carrier) ?? []), row])
    }
    await Promise.all(
      [...byCarrier].map(async ([carrier, rows]) => {
        const answers = await Promise.allSettled(carrier.submit(rows.map(toCarrierMessage)))
        for (const [i, answer] of answers.entries()) {
          outcomes.push({
            row: rows[i] as Claimed,
            carrier: carrier.name,
            outcome:
              answer.status === 'fulfilled'
                ? answer.value
                : { kind: 'retry', reason: `no answer: ${String(answer.reason).slice(0, 200)}` },
          })
        }
      }),
    )
    await this.record(outcomes, this.clock.now())
    return claimed.length
  }

  /** Records the carriers' answers for the messages whose lease this pass still holds. */
  private async record(outcomes: Outcome[], now: Date): Promise<void> {
    const retried = outcomes.filter((o) => o.outcome.kind === 'retry')
    for (const { row, carrier, outcome } of retried) {
      this.log.warn(
        {
          outgoingId: row.id,
          carrier,
          attempt: row.submit_attempts,
          reason: (outcome as { reason: string }).reason,
        },
        'carrier hand-over to retry',
      )
    }
    await this.db.transaction().execute(async (trx) => {
      const held = await trx
        .selectFrom('outgoing')
        .select(['id', 'submit_attempts'])
        .where(
          'id',
          'in',
          outcomes.map((o) => o.row.id),
        )
        .where('state', '=', 'pending')
        .orderBy('id')
        .forUpdate()
        .execute()
      const token = new Map(held.map((h) => [h.id, h.submit_attempts]))
      const ours = outcomes.filter((o) => token.get(o.row.id) === o.row.submit_attempts)
      const reports: StatusReport[] = []
      const accepted = new Map<string, { id: number; ids: string[] }[]>()
      const later: { id: number; at: Date }[] = []
      for (const { row, carrier, outcome } of ours) {
        if (outcome.kind === 'accepted' && carrier) {
          accepted.set(carrier, [
            ...(accepted.get(carrier) ?? []),
            { id: row.id, ids: outcome.carrierMessageIds },
          ])
        } else if (outcome.kind === 'refused') {
          reports.push({ outgoingId: row.id, ptt: outcome.ptt, dlr: outcome.dlr })
        } else if (outcome.kind === 'retry') {
          const wait = Math.max(outcome.afterMs ?? 0, retryDelayMs(row.submit_attempts))
          later.push({ id: row.id, at: new Date(now.getTime() + wait) })
        }
      }
      for (const [carrier, messages] of accepted) {
        const values = messages.map((m) => sql`(${m.id}::int8, ${carrier}::text)`)
        await sql`
          update outgoing as o
             set state = 'submitted', sent_at = ${now}::timestamptz, carrier = v.carrier, claimed_until = null
            from (values ${sql.join(values)}) as v(id, carrier)
           where o.id = v.id`.execute(trx)
        const parts = messages.flatMap((m) =>
          m.ids.map((id, i) => ({ carrier, carrier_message_id: id, outgoing_id: m.id, part: i + 1 })),
        )
        for (let from = 0; from < parts.length; from += 1000) {
          await trx
            .insertInto('carrier_messages')
            .values(parts.slice(from, from + 1000))
            .onConflict((oc) => oc.columns(['carrier', 'carrier_message_id']).doNothing())
            .execute()
        }
        reports.push(
          ...(await applyEarlyReports(
            trx,
            carrier,
            parts.map((p) => p.carrier_message_id),
          )),
        )
      }
      if (later.length > 0) {
        const values = later.map((l) => sql`(${l.id}::int8, ${l.at}::timestamptz)`)
        await sql`
          update outgoing as o set send_at = v.at, claimed_until = null
            from (values ${sql.join(values)}) as v(id, at)
           where o.id = v.id`.execute(trx)
      }
      await applyStatusReports(trx, reports, now)
    })
  }

  private async runCarriers(): Promise<number> {
    let done = 0
    for (const carrier of this.router.carriers()) {
      if (carrier.runDue) done += await carrier.runDue(this.clock.now())
    }
    return done
  }

  /** Messages the carrier has not delivered within their validity period end as ptt 8 (expired). */
  private async expireOverdue(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const overdue = await trx
        .selectFrom('outgoing')
        .select('id')
        .where('state', '=', 'submitted')
        .where('expires_at', '<=', now)
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute()
      await applyStatusReports(
        trx,
        overdue.map((r) => ({ outgoingId: r.id, ptt: PTT_EXPIRED, dlr: DLR_FAILED })),
        now,
      )
      return overdue.length
    })
  }
}

function toCarrierMessage(row: Claimed): CarrierMessage {
  return {
    outgoingId: row.id,
    receiver: row.receiver,
    sender: row.sender,
    text: row.message,
    encoding: row.coding,
    parts: row.number_of_sms,
    smsClass: row.class,
    validUntil: row.expires_at,
  }
}
