import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import { PollingWorker } from '../background/polling-worker.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import { isGsm7 } from '../sending/encoding.js'
import { STATUS, statusName } from '../smpp/session.js'
import { encodeText } from '../smpp/short-message.js'
import type { StoredDeliverSm } from './outbox.js'
import type { BoundSession, SmppServer } from './server.js'

type Claimed = { id: number; kind: 'receipt' | 'mo'; key: string; pdu: StoredDeliverSm; created_at: Date }
type Outcome = {
  id: number
  kind: Claimed['kind']
  result: 'delivered' | 'retry' | 'failed' | 'skipped'
  error?: string
}

export type SmppDeliveryOptions = {
  pollMs: number
  retryMs: number
  /** Given up after this (OVH: 7 days). */
  ttlMs: number
  /** A claimed row stays invisible to other replicas this long while it is being sent. */
  leaseMs?: number
  batch?: number
  /** deliver_sm_resp wait. */
  timeoutMs?: number
}

/** The bytes of a stored deliver_sm. */
export function deliverSmFields(stored: StoredDeliverSm): Record<string, unknown> {
  if (stored.coding === 'ascii') {
    return { ...stored.fields, data_coding: 0, short_message: Buffer.from(stored.text, 'latin1') }
  }
  const encoding = isGsm7(stored.text) ? '7bits' : 'unicode'
  const parts = encodeText(stored.text, encoding, 0)
  const [single] = parts
  if (parts.length === 1 && single) return { ...stored.fields, ...single }
  // Too long for one SMS: the whole text in message_payload (SMPP 3.4 §5.3.2.32), no UDH: the
  // parts' bytes after their 6-byte concatenation headers, put back together.
  const bytes = Buffer.concat(parts.map((p) => p.short_message.subarray(6)))
  return { ...stored.fields, data_coding: single?.data_coding ?? 0, message_payload: bytes }
}

/**
 * Delivers the receipts and MO of smpp- accounts to a receive-capable session bound in this process:
 * claims the account's due rows in id order (FOR UPDATE SKIP LOCKED, leased), sends each deliver_sm
 * outside any transaction — one message's rows one after the other, so its receipts keep their order —
 * and records the outcome. Not acknowledged → tried again after SMPP_DELIVERY_RETRY_S, for 7 days;
 * ESME_RX_R_APPN → given up. Rows wait while no receiver is bound (in any replica).
 */
export class SmppDeliveryWorker extends PollingWorker {
  private readonly leaseMs: number
  private readonly batch: number
  private readonly timeoutMs: number

  constructor(
    private readonly deps: {
      db: Db
      clock: Clock
      log: FastifyBaseLogger
      server: SmppServer
      options: SmppDeliveryOptions
      onOutcome?: (kind: Claimed['kind'], result: 'delivered' | 'retry' | 'failed') => void
      onQueue?: (queued: number, oldestAgeSeconds: number) => void
    },
  ) {
    super(deps.options.pollMs, deps.log, 'SMPP delivery worker')
    this.leaseMs = deps.options.leaseMs ?? 60_000
    this.batch = deps.options.batch ?? 100
    this.timeoutMs = deps.options.timeoutMs ?? 10_000
  }

  async runOnce(): Promise<number> {
    let done = 0
    for (const accountId of this.deps.server.receivingAccounts()) {
      for (;;) {
        const receiver = this.deps.server.receiverOf(accountId)
        if (!receiver) break
        const claimed = await this.claim(accountId)
        if (claimed.length === 0) break
        const outcomes = await this.deliver(receiver, claimed)
        await this.record(outcomes)
        const delivered = outcomes.filter((o) => o.result === 'delivered').length
        done += delivered
        if (delivered === 0 || this.stopRequested) break
      }
    }
    await this.reportQueue()
    return done
  }

  private queueReadAt = Number.NEGATIVE_INFINITY

  /** The queue gauges, read at most every 5 s (the worker may poll every 250 ms). */
  private async reportQueue(): Promise<void> {
    if (!this.deps.onQueue) return
    const at = performance.now()
    if (at - this.queueReadAt < 5000) return
    this.queueReadAt = at
    const row = await this.deps.db
      .selectFrom('smpp_deliveries')
      .select([sql<number>`count(*)::int8`.as('n'), sql<Date | null>`min(created_at)`.as('oldest')])
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow()
    const oldest = row.oldest ? new Date(row.oldest) : null
    this.deps.onQueue(
      Number(row.n),
      oldest ? Math.max(0, (this.deps.clock.now().getTime() - oldest.getTime()) / 1000) : 0,
    )
  }

  private async claim(accountId: number): Promise<Claimed[]> {
    const now = this.deps.clock.now()
    return this.deps.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('smpp_deliveries')
        .select('id')
        .where('account_id', '=', accountId)
        .where('state', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .orderBy('id')
        .limit(this.batch)
        .forUpdate()
        .skipLocked()
        .execute()
      if (due.length === 0) return []
      const rows = await trx
        .updateTable('smpp_deliveries')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          next_attempt_at: new Date(now.getTime() + this.leaseMs),
        }))
        .where(
          'id',
          'in',
          due.map((r) => r.id),
        )
        .returning(['id', 'kind', 'outgoing_id', 'incoming_id', 'pdu', 'created_at'])
        .execute()
      return rows
        .map((row) => ({
          id: Number(row.id),
          kind: row.kind,
          key: row.kind === 'receipt' ? `o${row.outgoing_id}` : `i${row.incoming_id}`,
          pdu: (typeof row.pdu === 'string' ? JSON.parse(row.pdu) : row.pdu) as StoredDeliverSm,
          created_at: new Date(row.created_at),
        }))
        .sort((a, b) => a.id - b.id)
    })
  }

  private async deliver(receiver: BoundSession, claimed: Claimed[]): Promise<Outcome[]> {
    const groups = new Map<string, Claimed[]>()
    for (const row of claimed) groups.set(row.key, [...(groups.get(row.key) ?? []), row])
    const outcomes: Outcome[] = []
    const now = this.deps.clock.now().getTime()
    await Promise.all(
      [...groups.values()].map(async (rows) => {
        let blocked = false
        for (const row of rows) {
          if (now - row.created_at.getTime() > this.deps.options.ttlMs) {
            outcomes.push({
              id: row.id,
              kind: row.kind,
              result: 'failed',
              error: 'not acknowledged within 7 days',
            })
            continue
          }
          if (blocked) {
            outcomes.push({ id: row.id, kind: row.kind, result: 'skipped' })
            continue
          }
          try {
            const answer = await receiver.session.request(
              'deliver_sm',
              deliverSmFields(row.pdu),
              this.timeoutMs,
            )
            if (answer.command_status === STATUS.ESME_ROK) {
              outcomes.push({ id: row.id, kind: row.kind, result: 'delivered' })
            } else {
              const final = answer.command_status === STATUS.ESME_RX_R_APPN
              outcomes.push({
                id: row.id,
                kind: row.kind,
                result: final ? 'failed' : 'retry',
                error: `the ESME answered ${statusName(answer.command_status)}`,
              })
              if (!final) blocked = true
            }
          } catch (error) {
            outcomes.push({ id: row.id, kind: row.kind, result: 'retry', error: (error as Error).message })
            blocked = true
          }
        }
      }),
    )
    return outcomes
  }

  private async record(outcomes: Outcome[]): Promise<void> {
    const now = this.deps.clock.now()
    const ids = (result: Outcome['result']) => outcomes.filter((o) => o.result === result).map((o) => o.id)
    try {
      await this.deps.db.transaction().execute(async (trx) => {
        const delivered = ids('delivered')
        if (delivered.length > 0) {
          await trx
            .updateTable('smpp_deliveries')
            .set({ state: 'delivered', delivered_at: now, last_error: null })
            .where('id', 'in', delivered)
            .execute()
        }
        for (const outcome of outcomes) {
          if (outcome.result === 'failed') {
            await trx
              .updateTable('smpp_deliveries')
              .set({ state: 'failed', last_error: outcome.error ?? null })
              .where('id', '=', outcome.id)
              .execute()
          } else if (outcome.result === 'retry' || outcome.result === 'skipped') {
            await trx
              .updateTable('smpp_deliveries')
              .set({
                next_attempt_at: new Date(now.getTime() + this.deps.options.retryMs),
                ...(outcome.error ? { last_error: outcome.error } : {}),
              })
              .where('id', '=', outcome.id)
              .execute()
          }
        }
      })
    } catch (err) {
      // The lease runs out and the rows are sent again: at least once, never lost.
      this.log.error({ err }, 'could not record SMPP deliveries')
      return
    }
    for (const outcome of outcomes) {
      if (outcome.result !== 'skipped') this.deps.onOutcome?.(outcome.kind, outcome.result)
      if (outcome.result === 'retry' || outcome.result === 'failed') {
        this.log.warn(
          { deliveryId: outcome.id, kind: outcome.kind, error: outcome.error },
          `deliver_sm ${outcome.result}`,
        )
      }
    }
  }
}
