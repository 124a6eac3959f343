import type { Transaction } from 'kysely'
import { isDatabaseUnavailable } from '../errors.js'
import type { Database, Db } from './index.js'

/** What the write of a batch decided for one of its requests. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** Writes a batch in the transaction given: one outcome per request, in the batch's order. */
export type WriteBatch<R, T> = (trx: Transaction<Database>, batch: readonly R[]) => Promise<Outcome<T>[]>

export type GroupCommitOptions<R, T = unknown> = {
  /** Requests in one batch at most. */
  maxBatch: number
  /** Batches being written at the same time. */
  concurrency: number
  /** Requests of one key queue behind each other; keys take turns, one request each per batch. */
  key: (request: R) => string
  /** A request's share of `maxWeight` (e.g. the rows it writes); a heavier request goes alone. */
  weight?: (request: R) => number
  maxWeight?: number
  /**
   * A fast path tried first for each batch, outside any transaction (statements that commit alone):
   * the outcomes, or null when it wrote nothing and the batch must go through `write` in a
   * transaction. An error it throws (other than the database being unavailable) sends the batch
   * through `write` too, which isolates the request that causes it.
   */
  writeAtOnce?: (db: Db, batch: readonly R[]) => Promise<Outcome<T>[] | null>
  /** The answer to a request whose own transaction failed (its error as the client should see it). */
  ownFailure?: (error: unknown) => unknown
}

/** Deadlocks and serialization failures: the same batch again may well pass. */
const RETRIED_SQLSTATES = new Set(['40P01', '40001'])

/**
 * Group commit: requests queue up, and each batch of them is written in one transaction, so that under
 * load many requests share one commit and one pass over the rows they touch; alone, a request is
 * written at once. Each request still gets its own answer, and no request can fail, or hold up without
 * bound, the requests of another key:
 * - a batch that fails is written again one request per transaction, so only the request that causes
 *   the failure fails (unless the database is unavailable: then every request is told so);
 * - a deadlock or serialization failure is retried once as it is;
 * - keys take turns (one request of each per batch), so a key that floods the queue delays the others
 *   by one request per batch, not by its whole backlog; `maxWeight` keeps one batch short.
 */
export class GroupCommit<R, T> {
  /** Waiting requests by key; the Map's order is the turn (a served key goes to the back). */
  private readonly waiting = new Map<string, Fifo<Pending<R, T>>>()
  private running = 0
  private readonly listeners: (() => void)[] = []
  /** Batches written, requests in them, the largest one (for tests and the benches). */
  readonly stats = { batches: 0, requests: 0, largest: 0 }

  constructor(
    private readonly db: Db,
    private readonly write: WriteBatch<R, T>,
    private readonly options: GroupCommitOptions<R, T>,
  ) {}

  /** Called after each batch that wrote at least one request (work for whoever reads what it wrote). */
  afterWrite(listener: () => void): void {
    this.listeners.push(listener)
  }

  submit(request: R): Promise<T> {
    return new Promise((resolve, reject) => {
      const key = this.options.key(request)
      let queue = this.waiting.get(key)
      if (!queue) {
        queue = new Fifo()
        this.waiting.set(key, queue)
      }
      queue.push({ request, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    while (this.running < this.options.concurrency && this.waiting.size > 0) {
      const batch = this.nextBatch()
      this.running++
      this.stats.batches++
      this.stats.requests += batch.length
      this.stats.largest = Math.max(this.stats.largest, batch.length)
      void this.flush(batch).finally(() => {
        this.running--
        this.pump()
      })
    }
  }

  /** One request of each waiting key in turn, within the batch's bounds (never empty). */
  private nextBatch(): Pending<R, T>[] {
    const { maxBatch, weight = () => 1, maxWeight = Number.POSITIVE_INFINITY } = this.options
    const batch: Pending<R, T>[] = []
    let load = 0
    while (batch.length < maxBatch) {
      const first = this.waiting.entries().next()
      if (first.done) break
      const [key, queue] = first.value
      const next = queue.peek() as Pending<R, T>
      if (batch.length > 0 && load + weight(next.request) > maxWeight) break
      queue.take()
      batch.push(next)
      load += weight(next.request)
      this.waiting.delete(key)
      if (queue.length > 0) this.waiting.set(key, queue)
    }
    return batch
  }

  private async flush(batch: Pending<R, T>[]): Promise<void> {
    let outcomes: Outcome<T>[]
    try {
      outcomes = await this.writeIsolated(batch)
    } catch (error) {
      for (const pending of batch) pending.reject(error)
      return
    }
    for (const [i, pending] of batch.entries()) {
      const outcome = outcomes[i] as Outcome<T>
      if (outcome.ok) pending.resolve(outcome.value)
      else pending.reject(outcome.error)
    }
    if (outcomes.some((o) => o.ok)) for (const listener of this.listeners) listener()
  }

  /** The batch in one transaction; when that fails (and the database still answers), each request alone. */
  private async writeIsolated(batch: Pending<R, T>[]): Promise<Outcome<T>[]> {
    const own = this.options.ownFailure ?? ((error: unknown) => error)
    if (this.options.writeAtOnce) {
      try {
        const outcomes = await this.options.writeAtOnce(
          this.db,
          batch.map((p) => p.request),
        )
        if (outcomes) return outcomes
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw error
      }
    }
    try {
      return await this.transaction(batch)
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error
      if (batch.length === 1) return [{ ok: false, error: own(error) }]
    }
    const outcomes: Outcome<T>[] = []
    for (const pending of batch) {
      try {
        outcomes.push(...(await this.transaction([pending])))
      } catch (error) {
        // Those written before keep their answers, even when the database goes away now.
        outcomes.push({ ok: false, error: own(error) })
      }
    }
    return outcomes
  }

  private async transaction(batch: Pending<R, T>[]): Promise<Outcome<T>[]> {
    const requests = batch.map((p) => p.request)
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => this.write(trx, requests))
      } catch (error) {
        const code = (error as { code?: unknown }).code
        if (attempt >= 2 || typeof code !== 'string' || !RETRIED_SQLSTATES.has(code)) throw error
      }
    }
  }
}

type Pending<R, T> = { request: R; resolve: (value: T) => void; reject: (error: unknown) => void }

/** First in, first out, without Array#shift's copying on long queues. */
class Fifo<T> {
  private items: T[] = []
  private head = 0
  get length(): number {
    return this.items.length - this.head
  }
  push(item: T): void {
    this.items.push(item)
  }
  peek(): T | undefined {
    return this.items[this.head]
  }
  take(): T | undefined {
    const item = this.items[this.head]
    this.head++
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}
