import type { FastifyBaseLogger } from 'fastify'
import { PollingWorker } from '../background.js'
import type { Db } from '../db/index.js'
import type { Clock } from '../deps.js'
import { applyStatus, DLR_FAILED, lockOutgoing, PTT_EXPIRED } from '../sending/status.js'
import type { Carrier } from './simulator.js'

const BATCH = 500

/**
 * Moves messages through their life, in every replica: hands due messages to the carrier and applies
 * the carrier's due status reports. Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas share
 * the work; everything happens in short transactions, nothing waits inside one.
 */
export class SendingWorker extends PollingWorker {
  constructor(
    private readonly db: Db,
    private readonly carrier: Carrier,
    private readonly clock: Clock,
    log: FastifyBaseLogger,
    pollMs: number,
    /** Called after a run that changed something (status changes may have queued callbacks). */
    onProgress: () => void = () => {},
  ) {
    super(pollMs, log, 'sending worker', onProgress)
  }

  /** One pass over due work; returns how many messages and reports were processed. Tests call it. */
  async runOnce(): Promise<number> {
    let total = 0
    for (;;) {
      const done = (await this.submitDue()) + (await this.applyDueSteps()) + (await this.expireOverdue())
      total += done
      // A backlog is worked off pass after pass, but a shutdown waits for one pass only.
      if (done === 0 || this.stopRequested) return total
    }
  }

  private async submitDue(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('outgoing')
        .selectAll()
        .where('state', '=', 'pending')
        .where('send_at', '<=', now)
        .orderBy('send_at')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute()
      if (due.length === 0) return 0
      const expired = due.filter((row) => row.expires_at && row.expires_at.getTime() <= now.getTime())
      const live = due.filter((row) => !expired.includes(row))
      for (const row of expired) await applyStatus(trx, row, { ptt: PTT_EXPIRED, dlr: DLR_FAILED }, now)
      if (live.length > 0) {
        await trx
          .updateTable('outgoing')
          .set({ state: 'submitted', sent_at: now })
          .where(
            'id',
            'in',
            live.map((row) => row.id),
          )
          .execute()
        await this.carrier.submit(
          trx,
          live.map((row) => ({ ...row, state: 'submitted' as const, sent_at: now })),
          now,
        )
      }
      return due.length
    })
  }

  private async applyDueSteps(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const steps = await trx
        .selectFrom('carrier_steps')
        .selectAll()
        .where('due_at', '<=', now)
        .orderBy('due_at')
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute()
      if (steps.length === 0) return 0
      await trx
        .deleteFrom('carrier_steps')
        .where(
          'id',
          'in',
          steps.map((s) => s.id),
        )
        .execute()
      const rows = await lockOutgoing(trx, [...new Set(steps.map((s) => s.outgoing_id))])
      for (const step of steps) {
        const row = rows.get(step.outgoing_id)
        if (!row) continue
        rows.set(row.id, await applyStatus(trx, row, step, now))
      }
      return steps.length
    })
  }

  /** Messages the carrier has not delivered within their validity period end as ptt 8 (expired). */
  private async expireOverdue(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const overdue = await trx
        .selectFrom('outgoing')
        .selectAll()
        .where('state', '=', 'submitted')
        .where('expires_at', '<=', now)
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute()
      for (const row of overdue) await applyStatus(trx, row, { ptt: PTT_EXPIRED, dlr: DLR_FAILED }, now)
      return overdue.length
    })
  }
}
