import type { FastifyBaseLogger } from 'fastify'

/**
 * A worker that runs its `runOnce` in the background: at start, every `pollMs`, and at once when nudged; never two
 * runs at the same time. A run that did some work is followed by another straight away (there may
 * be more); a failed run is logged and retried at the next poll. `stop()` waits for the run in
 * progress. Shared by the sending worker, the alert dispatcher and the callback dispatcher.
 */
export abstract class PollingWorker {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = true
  /** stop() was called: a run that loops over a backlog should end after its current pass. */
  protected stopRequested = false

  constructor(
    private readonly pollMs: number,
    protected readonly log: FastifyBaseLogger,
    private readonly name: string,
    /** Called after a run that did some work. */
    private readonly onProgress: (done: number) => void = () => {},
  ) {}

  /** One pass over due work; returns how much was done. Tests call it directly. */
  abstract runOnce(): Promise<number>

  start(): void {
    this.stopped = false
    this.stopRequested = false
    this.plan(0)
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.stopRequested = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }

  /** New work may be due: run soon rather than at the next poll. */
  nudge(): void {
    if (this.stopped) return
    if (this.running) this.again = true
    else this.plan(0)
  }

  private plan(ms: number) {
    if (this.timer) clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.loop(), ms)
    this.timer.unref?.()
  }

  private async loop(): Promise<void> {
    this.timer = null
    let done = 0
    this.running = this.runOnce()
      .then((n) => {
        done = n
        if (n > 0) this.onProgress(n)
      })
      .catch((err) => this.log.error({ err }, `${this.name} run failed; retrying at the next poll`))
    await this.running
    this.running = null
    if (this.stopped) return
    const more = this.again || done > 0
    this.again = false
    this.plan(more ? 0 : this.pollMs)
  }
}
