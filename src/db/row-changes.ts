import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle, Subscription } from './index.js'

/** The channel the row-change triggers announce on (migration 20261203020000_row_change_notify). */
export const ROWS_CHANNEL = 'sms_mirror_rows'

/**
 * One statement's changed rows: sms_users keys ([account id, login]) or accounts ids; `all`: anything.
 * `credentials`: a user's password, IP restrictions or identity changed (or it was created or deleted);
 * `login_failure`: a failed http2sms login was counted for this lockout subject, or this trust was
 * deleted (migration
 * 20261205030000_http2sms_credential_notify).
 */
export type RowChange =
  | { table: 'sms_users'; keys: [number, string][] }
  | { table: 'accounts'; ids: number[] }
  | { table: 'credentials'; key: [number, string] }
  | { table: 'login_failure'; subject: string }
  | { table: 'all' }

const LOG_SIZE = 4096

/** Parses one notification of ROWS_CHANNEL; anything unexpected counts as "everything changed". */
export function parseRowChange(payload: string): RowChange {
  try {
    if (payload === 'u*') return { table: 'all' }
    if (payload.startsWith('u')) return { table: 'sms_users', keys: JSON.parse(payload.slice(1)) }
    if (payload.startsWith('a')) return { table: 'accounts', ids: JSON.parse(payload.slice(1)) }
    if (payload.startsWith('c')) {
      const key = JSON.parse(payload.slice(1))
      if (Array.isArray(key) && typeof key[0] === 'number' && typeof key[1] === 'string') {
        return { table: 'credentials', key: [key[0], key[1]] }
      }
    }
    if (payload.startsWith('g') && payload.length > 1)
      return { table: 'login_failure', subject: payload.slice(1) }
  } catch {}
  return { table: 'all' }
}

/**
 * What this process knows about changes to cached rows, from every process: the row-change triggers'
 * notifications, numbered as they arrive, the last LOG_SIZE kept. A cache reads a row in three steps:
 * `mark()` before the query, the query, then `changedSince(mark, …)` — true when a change to that row
 * was heard meanwhile (the read may predate it: not stored), or when the log no longer reaches back
 * that far or the listening connection was lost in between. A hit is served only after `sync()`,
 * which guarantees every change committed before the call has been heard (see DbHandle.subscribe), so
 * a change acknowledged to a client in one process is seen by the next request in any other.
 */
export class RowChanges {
  private seq = 0
  /** Changes numbered (oldest first); `first` is the number of log[0]. */
  private log: RowChange[] = []
  private first = 1
  private following = false
  private readonly listeners = new Set<(change: RowChange) => void>()
  private subscription: Subscription | null = null

  static async follow(database: DbHandle, log: FastifyBaseLogger): Promise<RowChanges> {
    const changes = new RowChanges()
    changes.subscription = await database.subscribe(ROWS_CHANNEL, {
      onMessage: (payload) => changes.heard(parseRowChange(payload)),
      onLost: () => {
        changes.following = false
        changes.heard({ table: 'all' })
      },
      onReconnect: () => {
        log.info('row-change listener reconnected; row caches cleared')
        changes.heard({ table: 'all' })
        changes.following = true
      },
    })
    changes.following = true
    return changes
  }

  /** True while every change is heard: entries may be served and stored. */
  get live(): boolean {
    return this.following
  }

  onChange(listener: (change: RowChange) => void): void {
    this.listeners.add(listener)
  }

  /** The number of the last change heard; -1 when not following (nothing read now may be stored). */
  mark(): number {
    return this.following ? this.seq : -1
  }

  /** True when a change heard after `mark` matches, or cannot be ruled out. */
  changedSince(mark: number, matches: (change: RowChange) => boolean): boolean {
    if (mark < 0 || !this.following || mark + 1 < this.first) return true
    for (let n = mark + 1; n <= this.seq; n++) {
      const change = this.log[n - this.first] as RowChange
      if (change.table === 'all' || matches(change)) return true
    }
    return false
  }

  /** Resolves when every change committed before the call has been heard; rejects when not following. */
  sync(): Promise<void> {
    if (!this.subscription || !this.following) return Promise.reject(new Error('row changes not followed'))
    return this.subscription.sync()
  }

  async stop(): Promise<void> {
    this.following = false
    await this.subscription?.stop()
  }

  /** Exposed for tests: what a notification does. */
  heard(change: RowChange): void {
    this.seq += 1
    this.log.push(change)
    if (this.log.length > 2 * LOG_SIZE) {
      const dropped = this.log.length - LOG_SIZE
      this.log.splice(0, dropped)
      this.first += dropped
    }
    for (const listener of this.listeners) listener(change)
  }
}
