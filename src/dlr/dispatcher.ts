import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import type { Dispatcher } from 'undici'
import { PollingWorker } from '../background/polling-worker.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import type { DeliveryStatus } from '../db/schema.js'
import { classifyResponse, nextAttemptDelay, retryAfterMs } from './backoff.js'
import { type Call, callOnce } from './call.js'
import { signatureHeaders } from './signature.js'

export type DispatcherOptions = {
  db: Db
  /** The undici dispatcher calls go through (the SSRF-guarded agent in production). */
  agent: Dispatcher
  clock: Clock
  log: FastifyBaseLogger
  /** Told of every attempt's outcome and duration (metrics). */
  onOutcome?: (outcome: DeliveryOutcome, seconds: number) => void
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

/** Claims per batch unless `batch` says: four rounds of `concurrency` calls. */
const batchOf = (options: DispatcherOptions) => options.batch ?? Math.max(20, 4 * options.concurrency)
const MAX_BATCHES_PER_RUN = 20

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
 * FOR UPDATE SKIP LOCKED and a lease (leased_until, which no index holds: a claim is a HOT update;
 * a crashed replica's claims come back when it ends), calls them with undici outside any
 * transaction, drains every body, and records all outcomes of a batch in one short transaction. The reports of one SMS go out in order: a row waits while an
 * earlier pending row of the same SMS exists.
 */
export class CallbackDispatcher extends PollingWorker {
  /** Calls in flight and when each must end (see abortAfter). */
  private readonly deadlines = new Map<Call, number>()
  private sweeper: NodeJS.Timeout | null = null
  /** A NOTIFY (new deliveries committed) came since the last claim began. */
  private heard = false

  private readonly db: Db
  private readonly agent: Dispatcher
  private readonly clock: Clock
  private readonly onOutcome: (outcome: DeliveryOutcome, seconds: number) => void

  constructor(private readonly options: DispatcherOptions) {
    super(options.pollMs, options.log, 'callback dispatcher')
    this.db = options.db
    this.agent = options.agent
    this.clock = options.clock
    this.onOutcome = options.onOutcome ?? (() => {})
  }

  /** Due deliveries and how long the oldest has waited (for /metrics). */
  async queueStats(): Promise<{ due: number; oldestDueAgeSeconds: number }> {
    const now = this.clock.now()
    const row = await this.db
      .selectFrom('callback_deliveries')
      .select([sql<number>`count(*)::int8`.as('due'), sql<Date | null>`min(next_attempt_at)`.as('oldest')])
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<=', now)]))
      .executeTakeFirstOrThrow()
    const oldest = row.oldest ? new Date(row.oldest) : null
    return {
      due: row.due,
      oldestDueAgeSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0,
    }
  }

  /**
   * Claims and delivers due deliveries; returns how many were attempted. Tests call it. A pipeline:
   * `concurrency` calls stay in flight; the next batch is claimed while the last round of calls of
   * the current one starts, and each batch's outcomes are recorded when its last call has ended,
   * while the next batch's calls go on. After less than a full batch, the next claim waits for its
   * calls to end (not for their record) when a NOTIFY came meanwhile; a run ends when a claim finds
   * less than a full batch and nothing was heard, or nothing at all, or after
   * MAX_BATCHES_PER_RUN batches (the background loop then runs again at once).
   */
  async runOnce(): Promise<number> {
    const batch = batchOf(this.options)
    let attempted = 0
    let inFlight = 0
    let slotFreed: (() => void) | null = null
    const records: Promise<void>[] = []
    let prefetched: Promise<Claimed[]> | null = null
    try {
      for (let batches = 0; batches < MAX_BATCHES_PER_RUN; batches++) {
        const claimed = await (prefetched ?? this.claim())
        prefetched = null
        if (claimed.length === 0) break
        attempted += claimed.length
        const results: Result[] = []
        let unfinished = claimed.length
        let allFinished: () => void = () => {}
        const finished = new Promise<void>((resolve) => {
          allFinished = resolve
        })
        // A full batch: the next claim starts with the last round of this one, so that no slot waits.
        const prefetchAt =
          claimed.length === batch && batches + 1 < MAX_BATCHES_PER_RUN && !this.stopRequested
            ? Math.max(0, claimed.length - this.options.concurrency)
            : -1
        for (const [index, delivery] of claimed.entries()) {
          if (index === prefetchAt) {
            prefetched = this.claim()
            // Awaited at the top of the next turn; a failure there fails the run like any claim.
            prefetched.catch(() => {})
          }
          while (inFlight >= this.options.concurrency) {
            await new Promise<void>((resolve) => {
              slotFreed = resolve
            })
          }
          inFlight++
          void this.deliver(delivery)
            .catch((error: unknown) =>
              this.retry(delivery, null, `error: ${String(error)}`.slice(0, 500), null),
            )
            .then((result) => {
              results.push(result)
              inFlight--
              const wake = slotFreed
              slotFreed = null
              wake?.()
              if (--unfinished === 0) allFinished()
            })
        }
        const attempts = new Map(claimed.map((c) => [c.id, c.attempts]))
        const record = finished.then(() => this.record(results, attempts))
        // Handled now: it may fail (the database gone) while this loop waits for a slot or a claim;
        // the settled results below still see the failure.
        record.catch(() => {})
        records.push(record)
        // Stopping: the batch already claimed is still delivered, none is claimed after it.
        if (this.stopRequested && !prefetched) break
        if (claimed.length < batch) {
          // Less than a full batch: the queue was drained. What was committed while these calls ran
          // is claimed as soon as they end, while their outcomes are recorded (not after: the record's
          // round trip and a new run are off the path from a status change to its callback). Nothing
          // is claimed while they run, so no claim waits behind calls (the lease holds). Only when a
          // NOTIFY was heard since the last claim began (no claim that would find nothing); else the
          // run ends as before.
          await finished
          if (this.stopRequested || !this.heard) break
        }
      }
    } catch (error) {
      // A claim failed (the database went away): the run fails once every batch already claimed has
      // been called and its outcomes recorded or refused (refused, its rows stay leased until the
      // lease lapses, then they are claimed again).
      await Promise.allSettled(records)
      throw error
    }
    const recorded = await Promise.allSettled(records)
    const failed = recorded.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    return attempted
  }

  /** New deliveries were committed (NOTIFY): noted for a run in progress, which claims again. */
  override nudge(): void {
    this.heard = true
    super.nudge()
  }

  private async claim(): Promise<Claimed[]> {
    this.heard = false
    const now = this.clock.now()
    // The lease must outlast the whole batch (calls run `concurrency` at a time, each bounded by
    // the timeout), or another replica would claim rows still being called here.
    // A batch's calls may also wait for the calls still in flight of the batch before (one round).
    const batch = batchOf(this.options)
    const rounds = Math.ceil(batch / this.options.concurrency)
    const lease = new Date(now.getTime() + (rounds + 2) * this.options.timeoutMs + 5000)
    // One statement (no transaction held): the due rows are locked, skipped when another replica
    // holds them, and leased at once.
    const due = this.db
      .selectFrom('callback_deliveries as d')
      .select('d.id')
      .where('d.status', '=', 'pending')
      .where('d.next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('d.leased_until', 'is', null), eb('d.leased_until', '<=', now)]))
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
    const rows = await this.db
      .updateTable('callback_deliveries')
      .set({ leased_until: lease, attempts: sql`attempts + 1` })
      .where('id', 'in', due)
      .returning(['id', 'url', 'attempts', 'signing_secret_enc'])
      .execute()
    return rows.sort((a, b) => a.id - b.id)
  }

  private async deliver(delivery: Claimed): Promise<Result> {
    const started = performance.now()
    let result: Result
    try {
      const call = callOnce(this.agent, new URL(delivery.url), this.headers(delivery), this.options.timeoutMs)
      const deadline = this.abortAfter(this.options.timeoutMs, call)
      const answer = await call.answer.finally(() => this.deadlines.delete(deadline))
      const status = answer.statusCode
      const kind = classifyResponse(status)
      if (kind === 'success') {
        result = { id: delivery.id, outcome: 'success', status, error: null, retryAt: null }
      } else if (kind === 'gone') {
        result = { id: delivery.id, outcome: 'gone', status: 410, error: 'answered 410 Gone', retryAt: null }
      } else if (kind === 'permanent') {
        result = { id: delivery.id, outcome: 'failed', status, error: `answered ${status}`, retryAt: null }
      } else {
        const hinted = retryAfterMs(answer.retryAfter, this.clock.now())
        result = this.retry(delivery, status, `answered ${status}`, hinted)
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

  /**
   * Aborts `call` `ms` from now (a TimeoutError, like AbortSignal.timeout): one sweep timer for all
   * the calls in flight, instead of a timer per call. Returns the key to delete once it has ended.
   */
  private abortAfter(ms: number, call: Call): Call {
    this.deadlines.set(call, performance.now() + ms)
    if (!this.sweeper) {
      this.sweeper = setInterval(
        () => {
          const now = performance.now()
          for (const [late, at] of this.deadlines) {
            if (at > now) continue
            this.deadlines.delete(late)
            late.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
          }
          if (this.deadlines.size === 0 && this.sweeper) {
            clearInterval(this.sweeper)
            this.sweeper = null
          }
        },
        Math.max(10, Math.min(250, ms / 4)),
      )
      this.sweeper.unref?.()
    }
    return call
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
    // One array per column: six parameters and one statement text for any batch size, instead of
    // six parameters per row (a statement of its own for each size to parse and plan).
    const ids = results.map((r) => r.id)
    const tries = results.map((r) => attempts.get(r.id) ?? 0)
    const statuses = results.map((r) => statusOf(r.outcome))
    const answered = results.map((r) => r.status)
    const errors = results.map((r) => r.error)
    const retryAts = results.map((r) => r.retryAt?.toISOString() ?? null)
    await sql`
      update callback_deliveries as d
         set status = v.status,
             last_status = v.last_status,
             last_error = v.last_error,
             next_attempt_at = coalesce(v.retry_at, d.next_attempt_at),
             leased_until = null,
             delivered_at = case when v.status = 'delivered' then ${now}::timestamptz else d.delivered_at end
        from unnest(${ids}::int8[], ${tries}::int4[], ${statuses}::text[], ${answered}::int4[], ${errors}::text[],
                    ${retryAts}::timestamptz[]) as v(id, attempt, status, last_status, last_error, retry_at)
       -- only while this process still holds the claim (no other replica re-claimed it since)
       where d.id = v.id and d.attempts = v.attempt and d.status = 'pending'`.execute(this.db)
  }
}
