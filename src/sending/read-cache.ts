import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, Subscription } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'

/** The channel the send-read triggers announce on (migration 20261205020000_send_reads_notify). */
export const SEND_READS_CHANNEL = 'sms_mirror_send_reads'

/** Accounts with more senders or blacklisted numbers than this are read from the database each batch. */
export const CACHED_SENDERS_MAX = 1000
export const CACHED_BLACKLIST_MAX = 10_000

/**
 * What a batch of sends knows about one account: the account row, every sender with its status, the
 * default sender, the whole blacklist, and the logins met so far with whether their quota was active.
 */
export type CachedAccount = {
  account: AccountRow
  senders: Map<string, string>
  defaultSender: string | null
  blacklisted: Set<string>
  logins: Map<string, boolean>
}

/**
 * A per-process cache of what the send steps read about an account (src/sending/send-steps.ts), so
 * that a batch can skip that read and make one round trip: its one write statement.
 *
 * It is a hint, never the authority. The write statement checks every part of it again against the
 * rows it sees (its own snapshot, taken after every change committed before it started): the account
 * still has that id, service name and owner, each sender used is still enabled (and the default one
 * still the default), each receiver's blacklist membership is still what the cache said, each user
 * still exists with the quota state that chose its payer; when any part differs it writes nothing,
 * the entry is dropped and the batch goes the transaction path, which reads afresh. So a sender
 * disabled or a number blacklisted in one process is obeyed by the next batch of every other process
 * as soon as it has committed, whether or not its notification has arrived yet: there is no window.
 * Nothing is refused on the cache's word either (a sender it does not know as enabled, a login it has
 * not met): those batches read the database. Credits are never cached: the spend decides.
 *
 * The notifications only keep it fresh (fewer fallbacks): the triggers of migration
 * 20261205020000_send_reads_notify announce the account ids of every statement that changes senders
 * or blacklist, and of an account renamed, moved to another owner or deleted; each drops that
 * account's entry in every replica. Nothing is stored while the listener is down, a reconnection
 * clears everything, and a read during which a change to its account was heard is not stored.
 */
export class SendReadCache {
  private readonly byKey = new Map<string, CachedAccount>()
  /** Number of the last notification heard, and the number of the last one per account. */
  private seq = 0
  private readonly changedAt = new Map<number, number>()
  /** Everything dropped at that number (listener lost, unreadable payload). */
  private clearedAt = 0
  private following = false
  private subscription: Subscription | null = null
  /** Hits and misses, for the benches and tests. */
  readonly stats = { hits: 0, misses: 0, dropped: 0 }

  /** A cache that follows the notifications of `database` (both drivers) until `stop`. */
  static async follow(database: DbHandle, log?: FastifyBaseLogger): Promise<SendReadCache> {
    const cache = new SendReadCache()
    cache.subscription = await database.subscribe(SEND_READS_CHANNEL, {
      onMessage: (payload) => cache.heard(payload),
      onLost: () => {
        cache.following = false
        cache.clear()
      },
      onReconnect: () => {
        log?.info('send-read listener reconnected; send-read cache cleared')
        cache.clear()
        cache.following = true
      },
    })
    cache.following = true
    return cache
  }

  /** The key of an account as a send names it: its owner scope and service name. */
  static key(ownerId: number | undefined, serviceName: string): string {
    return `${ownerId ?? '*'}\u0000${serviceName}`
  }

  get(key: string): CachedAccount | undefined {
    if (!this.following) return undefined
    return this.byKey.get(key)
  }

  /** To pass to `store`: taken before the read whose result is to be stored. */
  mark(): number {
    return this.following ? this.seq : -1
  }

  /** Stores what a read found, unless a change to its account (or everything) was heard since `mark`. */
  store(key: string, mark: number, entry: CachedAccount): void {
    if (mark < 0 || !this.following || this.clearedAt > mark) return
    if ((this.changedAt.get(entry.account.id) ?? 0) > mark) return
    if (entry.senders.size > CACHED_SENDERS_MAX || entry.blacklisted.size > CACHED_BLACKLIST_MAX) return
    const known = this.byKey.get(key)
    // Logins met by earlier reads of the same account stay (the write checks each user again).
    if (known && known.account.id === entry.account.id) {
      for (const [login, active] of known.logins)
        if (!entry.logins.has(login)) entry.logins.set(login, active)
    }
    this.byKey.set(key, entry)
  }

  /** Drops the entries of these accounts (a write found them stale). */
  drop(accountIds: Iterable<number>): void {
    const ids = new Set(accountIds)
    for (const [key, entry] of this.byKey) {
      if (ids.has(entry.account.id)) {
        this.byKey.delete(key)
        this.stats.dropped++
      }
    }
  }

  async stop(): Promise<void> {
    this.following = false
    this.clear()
    await this.subscription?.stop()
  }

  /** Exposed for tests: what a notification does. */
  heard(payload: string): void {
    this.seq += 1
    let ids: unknown
    try {
      ids = JSON.parse(payload)
    } catch {}
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'number')) {
      this.clear()
      return
    }
    for (const id of ids as number[]) this.changedAt.set(id, this.seq)
    if (this.changedAt.size > 100_000) {
      // Bounded memory: forget the per-account numbers, and refuse every read older than now.
      this.changedAt.clear()
      this.clearedAt = this.seq
    }
    this.drop(ids as number[])
  }

  private clear(): void {
    this.seq += 1
    this.clearedAt = this.seq
    this.byKey.clear()
  }
}
