/** Deadlocks and serialization failures: the same batch again may well pass. */
const RETRIED_SQLSTATES = new Set(['40P01', '40001'])

/**
 * Items that each wait for the same kind of work (a transaction that records them) done for many at
 * once: an item added while a batch is being handled joins the next one, so under load each
 * transaction takes everything that arrived meanwhile, and alone an item is handled at once (after
 * the current turn of the event loop, so the PDUs of one socket read share a batch). One batch at a
 * time; a batch that fails on a deadlock is tried once more, then every item of it is rejected.
 */
export class Batcher<T> {
  private pending: { item: T; done: (error: unknown) => void }[] = []
  private running: Promise<void> | null = null

  constructor(
    private readonly handle: (items: T[]) => Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

  /** Resolves once the batch holding `item` was handled. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => this.push(item, (error) => (error ? reject(error) : resolve())))
  }

  /** `add` without a Promise: `done` is called once the batch was handled, with its error if any. */
  push(item: T, done: (error: unknown) => void): void {
    this.pending.push({ item, done })
    if (!this.running)
      this.running = new Promise<void>((started) => setImmediate(started)).then(() => this.drain())
  }

  /** Items waiting or being handled. */
  get size(): number {
    return this.pending.length
  }

  /** Resolves when nothing is waiting or being handled. */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch)
      try {
        await this.handleOnce(batch.map((p) => p.item))
      } catch (error) {
        for (const p of batch) p.done(error ?? new Error('the batch failed'))
        continue
      }
      for (const p of batch) p.done(null)
    }
    this.running = null
  }

  private async handleOnce(items: T[]): Promise<void> {
    try {
      await this.handle(items)
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (typeof code !== 'string' || !RETRIED_SQLSTATES.has(code)) throw error
      await this.handle(items)
    }
  }
}
