import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import { type Dispatcher, request } from 'undici'
import { PollingWorker } from '../background.js'
import type { Db } from '../db/index.js'
import type { DeliveryStatus } from '../db/schema.js'
import type { Clock } from '../deps.js'
import { classifyResponse, nextAttemptDelay, retryAfterMs } from './backoff.js'
import { signatureHeaders } from './signature.js'

export type DispatcherOptions = {
  /** Requests in flight at most. */
  concurrency: number
  /** Waits between attempts; after the last one a delivery is failed (dead letter). */
  scheduleMs: number[]
  /** Bound on one attempt (connect, headers and body). */
  timeoutMs: number
  pollMs: number
  batch?: number
  /** Opens a sealed signing secret (the SecretBox). */
  openSecret?: (sealed: string) => string
}

export type DeliveryOutcome = 'success' | 'retry' | 'failed' | 'gone' | 'blocked'

type Claimed = { id: number; url: string; attempts: number; signing_secret_enc: string | null }
type Result = {
  id: number
  outcome: DeliveryOutcome
  status: number | null
  error: string | null
  retryAt: Date | null
}

/**
 * Calls callback URLs from the callback_deliveries outbox, in every replica: claims due rows with
 * FOR UPDATE SKIP LOCKED (a lease moves next_attempt_at forward, so a crashed replica's claims come
 * back), calls them with undici outside any transaction, drains every body, and records all outcomes
 * of a batch in one short transaction. The reports of one SMS go out in order: a row waits while an
 * earlier pending row of the same SMS exists.
 */
export class CallbackDispatcher extends PollingWorker {
  constructor(
    private readonly db: Db,
    private readonly agent: Dispatcher,
    private readonly clock: Clock,
    log: FastifyBaseLogger,
    private readonly options: DispatcherOptions,
    private readonly onOutcome: (outcome: DeliveryOutcome, seconds: number) => void = () => {},
  ) {
    super(options.pollMs, log, 'callback dispatcher')
  }

  /** Due deliveries and how long the oldest has waited (for /metrics). */
  async queueStats(): Promise<{ due: number; oldestDueAgeSeconds: number }> {
    const now = this.clock.now()
    const row = await this.db
      .selectFrom('callback_deliveries')
      .select([sql<number>`count(*)::int8`.as('due'), sql<Date | null>`min(next_attempt_at)`.as('oldest')])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .executeTakeFirstOrThrow()
    const oldest = row.oldest ? new Date(row.oldest) : null
    return {
      due: row.due,
      oldestDueAgeSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0,
    }
  }

  /** Claims and delivers one batch; returns how many deliveries were attempted. Tests call it. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim()
    if (claimed.length === 0) return 0
    const results: Result[] = []
    let next = 0
    const workers = Array.from({ length: Math.min(this.options.concurrency, claimed.length) }, async () => {
      while (next < claimed.length) {
        const delivery = claimed[next++] as Claimed
        results.push(await this.deliver(delivery))
      }
    })
    await Promise.all(workers)
    await this.record(results, new Map(claimed.map((c) => [c.id, c.attempts])))
    return claimed.length
  }

  private async claim(): Promise<Claimed[]> {
    const now = this.clock.now()
    // The lease must outlast the whole batch (calls run `concurrency` at a time, each bounded by
    // the timeout), or another replica would claim rows still being called here.
    const batch = this.options.batch ?? 100
    const rounds = Math.ceil(batch / this.options.concurrency)
    const lease = new Date(now.getTime() + (rounds + 1) * this.options.timeoutMs + 5000)
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('callback_deliveries as d')
        .select(['d.id', 'd.url', 'd.attempts', 'd.signing_secret_enc'])
        .where('d.status', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('callback_deliveries as p')
                .select('p.id')
                .whereRef('p.outgoing_id', '=', 'd.outgoing_id')
                .whereRef('p.id', '<', 'd.id')
                .where('p.status', '=', 'pending'),
            ),
          ),
        )
        .orderBy('d.next_attempt_at')
        .orderBy('d.id')
        .limit(batch)
        .forUpdate()
        .skipLocked()
        .execute()
      if (rows.length === 0) return []
      await trx
        .updateTable('callback_deliveries')
        .set({ next_attempt_at: lease, attempts: sql`attempts + 1` })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute()
      return rows.map((r) => ({ ...r, attempts: r.attempts + 1 }))
    })
  }

  private async deliver(delivery: Claimed): Promise<Result> {
    const started = performance.now()
    const now = () => this.clock.now()
    let result: Result
    try {
      const response = await request(delivery.url, {
        method: 'GET',
        dispatcher: this.agent,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: this.headers(delivery),
      })
      await response.body.dump({ limit: 64 * 1024 }).catch(() => {})
      const kind = classifyResponse(response.statusCode)
      if (kind === 'success') {
        result = {
          id: delivery.id,
          outcome: 'success',
          status: response.statusCode,
          error: null,
          retryAt: null,
        }
      } else if (kind === 'gone') {
        result = { id: delivery.id, outcome: 'gone', status: 410, error: 'answered 410 Gone', retryAt: null }
      } else if (kind === 'permanent') {
        result = {
          id: delivery.id,
          outcome: 'failed',
          status: response.statusCode,
          error: `answered ${response.statusCode}`,
          retryAt: null,
        }
      } else {
        const hinted = retryAfterMs(response.headers['retry-after'], now())
        result = this.retry(delivery, response.statusCode, `answered ${response.statusCode}`, hinted)
      }
    } catch (error) {
      const code = (error as { code?: string }).code
      const message = (error as Error).message
      if (code === 'ERR_SSRF_BLOCKED') {
        this.log.warn({ deliveryId: delivery.id, reason: message }, 'callback refused: non-public address')
        result = { id: delivery.id, outcome: 'blocked', status: null, error: message, retryAt: null }
      } else {
        result = this.retry(delivery, null, `${code ?? 'error'}: ${message}`.slice(0, 500), null)
      }
    }
    this.onOutcome(result.outcome, (performance.now() - started) / 1000)
    return result
  }

  /** The same webhook-id on every attempt, so receivers can drop duplicates. */
  private headers(delivery: Claimed): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': 'sms-mirror-dlr/1' }
    if (delivery.signing_secret_enc && this.options.openSecret) {
      const secret = this.options.openSecret(delivery.signing_secret_enc)
      const timestamp = Math.floor(this.clock.now().getTime() / 1000)
      Object.assign(headers, signatureHeaders(secret, `msg_${delivery.id}`, timestamp))
    }
    return headers
  }

  private retry(delivery: Claimed, status: number | null, error: string, hintedMs: number | null): Result {
    const delay = nextAttemptDelay(delivery.attempts, this.options.scheduleMs)
    if (delay === null)
      return { id: delivery.id, outcome: 'failed', status, error: `${error} (last attempt)`, retryAt: null }
    const wait = Math.max(delay, hintedMs ?? 0)
    return {
      id: delivery.id,
      outcome: 'retry',
      status,
      error,
      retryAt: new Date(this.clock.now().getTime() + wait),
    }
  }

  /** All outcomes of a batch in one statement (one round trip, one short transaction). */
  private async record(results: Result[], attempts: Map<number, number>): Promise<void> {
    if (results.length === 0) return
    const now = this.clock.now()
    const statusOf = (outcome: DeliveryOutcome): DeliveryStatus =>
      outcome === 'success'
        ? 'delivered'
        : outcome === 'gone'
          ? 'gone'
          : outcome === 'retry'
            ? 'pending'
            : 'failed'
    const rows = results.map(
      (r) =>
        sql`(${r.id}::int8, ${attempts.get(r.id) ?? 0}::int4, ${statusOf(r.outcome)}::text, ${r.status}::int4, ${r.error}::text, ${r.retryAt}::timestamptz)`,
    )
    await sql`
      update callback_deliveries as d
         set status = v.status,
             last_status = v.last_status,
             last_error = v.last_error,
             next_attempt_at = coalesce(v.retry_at, d.next_attempt_at),
             delivered_at = case when v.status = 'delivered' then ${now}::timestamptz else d.delivered_at end
        from (values ${sql.join(rows)}) as v(id, attempt, status, last_status, last_error, retry_at)
       -- only while this process still holds the claim (no other replica re-claimed it since)
       where d.id = v.id and d.attempts = v.attempt and d.status = 'pending'`.execute(this.db)
  }
}
