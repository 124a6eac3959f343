import fp from 'fastify-plugin'
import type { Scope } from '../auth/scope.js'
import type { Db } from '../db/index.js'
import { RowChanges } from '../db/row-changes.js'
import type { SmsUserRow } from '../db/schema.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Changes to cached rows heard from every process (row-change triggers, LISTEN). */
    rowChanges: RowChanges
    /** sms_users rows by service name and login, for the hot read (GET {S}/users/{login}). */
    userCache: UserCache
  }
}

type Entry = { accountId: number; ownerId: number; row: SmsUserRow }

const sep = '\u0000'

/**
 * A per-process cache of sms_users rows joined to their account's owner, keyed by service name and
 * login. Every change to a user (quota spent by a send, settings, deletion; in any process) or to its
 * account's name or owner removes the entry when its notification is heard; a hit is served only after
 * RowChanges.sync(), so it is never older than a change committed before the request arrived. A row
 * read while a change to it was heard is not stored. Unknown users are not cached.
 */
export class UserCache {
  private readonly byName = new Map<string, Entry>()
  /** account id + login → byName key, to apply sms_users notifications. */
  private readonly byUser = new Map<string, string>()

  constructor(
    private readonly changes: RowChanges,
    private readonly maxEntries = 10_000,
  ) {
    changes.onChange((change) => {
      if (change.table === 'all') this.clear()
      else if (change.table === 'sms_users') {
        for (const [accountId, login] of change.keys) {
          const name = this.byUser.get(`${accountId}${sep}${login}`)
          if (name !== undefined) this.drop(name)
        }
      } else if (change.table === 'accounts') {
        const ids = new Set(change.ids)
        for (const [name, entry] of this.byName) if (ids.has(entry.accountId)) this.drop(name)
      }
    })
  }

  get size(): number {
    return this.byName.size
  }

  /** The user of the (scoped) account named serviceName, or undefined. */
  async find(db: Db, scope: Scope, serviceName: string, login: string): Promise<SmsUserRow | undefined> {
    const name = `${serviceName}${sep}${login}`
    if (this.byName.has(name) && this.changes.live) {
      const synced = await this.changes.sync().then(
        () => true,
        () => false,
      )
      const hit = synced ? this.byName.get(name) : undefined
      if (hit && (scope.ownerId === undefined || scope.ownerId === hit.ownerId)) return hit.row
    }
    const mark = this.changes.mark()
    const found = await db
      .selectFrom('sms_users as u')
      .innerJoin('accounts as a', 'a.id', 'u.account_id')
      .selectAll('u')
      .select('a.owner_id as account_owner_id')
      .where('a.service_name', '=', serviceName)
      .where('u.login', '=', login)
      .executeTakeFirst()
    if (!found) return undefined
    const { account_owner_id: ownerId, ...row } = found
    const stale = this.changes.changedSince(mark, (change) =>
      change.table === 'accounts'
        ? change.ids.includes(row.account_id)
        : change.table === 'sms_users' &&
          change.keys.some(([accountId, key]) => accountId === row.account_id && key === login),
    )
    if (!stale) this.store(name, { accountId: row.account_id, ownerId, row: Object.freeze(row) })
    return scope.ownerId === undefined || scope.ownerId === ownerId ? row : undefined
  }

  clear(): void {
    this.byName.clear()
    this.byUser.clear()
  }

  private store(name: string, entry: Entry): void {
    this.drop(name)
    if (this.byName.size >= this.maxEntries) this.drop(this.byName.keys().next().value as string)
    this.byName.set(name, entry)
    this.byUser.set(`${entry.accountId}${sep}${entry.row.login}`, name)
  }

  private drop(name: string): void {
    const entry = this.byName.get(name)
    if (!entry) return
    this.byName.delete(name)
    this.byUser.delete(`${entry.accountId}${sep}${entry.row.login}`)
  }
}

/** Follows row changes from ready to close and decorates the caches built on them. */
export const rowCachesPlugin = fp(
  async (app) => {
    const changes = await RowChanges.follow(app.database, app.log)
    app.decorate('rowChanges', changes)
    app.decorate('userCache', new UserCache(changes))
    app.addHook('onClose', () => changes.stop())
  },
  { name: 'sms-mirror-row-caches', dependencies: ['sms-mirror-context'] },
)
