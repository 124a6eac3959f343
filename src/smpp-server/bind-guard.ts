import type { Clock } from '../clock.js'

/**
 * Failed binds per peer address: after `limit` failures within `windowMs`, that address's binds are
 * answered ESME_RBINDTHROTTLED (OVH's 0x400) until the oldest failure leaves the window — even with
 * the right credentials, so guessing stays slow. Per process: a replica counts what it sees.
 */
export class BindGuard {
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  private recent(address: string): number[] {
    const since = this.clock.now().getTime() - this.windowMs
    const kept = (this.failures.get(address) ?? []).filter((at) => at > since)
    if (kept.length === 0) this.failures.delete(address)
    else this.failures.set(address, kept)
    return kept
  }

  throttled(address: string): boolean {
    return this.recent(address).length >= this.limit
  }

  fail(address: string): void {
    const kept = this.recent(address)
    kept.push(this.clock.now().getTime())
    this.failures.set(address, kept)
    // Bounded memory: forget the address with the oldest failure when too many are tracked.
    if (this.failures.size > 100_000) {
      const first = this.failures.keys().next().value
      if (first !== undefined) this.failures.delete(first)
    }
  }

  succeed(address: string): void {
    this.failures.delete(address)
  }
}
