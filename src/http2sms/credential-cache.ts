import { createHash, timingSafeEqual } from 'node:crypto'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import type { RowChange, RowChanges } from '../db/row-changes.js'
import { ipAllowed } from '../fields/ip.js'

/** What http2sms checks of a user: its password (as a digest) and its IP restrictions. */
type Credentials = {
  accountId: number
  login: string
  passwordDigest: Buffer
  ipRestrictions: readonly string[]
}

const sep = '\u0000'
const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * The credentials of http2sms users, per process, so that a request neither reads the user nor
 * decrypts its password. The user cache (src/users/cache.ts) cannot serve here: every send spends the
 * user's quota, which drops its entry. This one is dropped only by what changes a credential — the
 * password, the IP restrictions, the user's creation, deletion or renaming (the 'c' notifications of
 * migration 20261205030000), its account's name or owner ('a') — whoever makes the change (any
 * replica, psql). A hit is served only after RowChanges.sync() (done by the caller, once per request
 * for this cache and the lockout's), so it is never older than a change committed before the request
 * arrived; a row read while a change to it was heard is not stored; nothing is stored while the
 * listener is down. The password is kept as its SHA-256 only; unknown users are not cached.
 */
export class CredentialCache {
  private readonly byName = new Map<string, Credentials>()
  /** account id + login → byName key, to apply 'c' notifications. */
  private readonly byUser = new Map<string, string>()

  constructor(
    private readonly changes: RowChanges,
    private readonly box: SecretBox,
    private readonly maxEntries = 10_000,
  ) {
    changes.onChange((change) => {
      if (change.table === 'all') this.clear()
      else if (change.table === 'credentials') {
        const name = this.byUser.get(`${change.key[0]}${sep}${change.key[1]}`)
        if (name !== undefined) this.drop(name)
      } else if (change.table === 'accounts') {
        const ids = new Set(change.ids)
        for (const [name, entry] of this.byName) if (ids.has(entry.accountId)) this.drop(name)
      }
    })
  }

  get size(): number {
    return this.byName.size
  }

  /**
   * Whether `password` is the user's and `ip` may use it: undefined when there is no such user. `synced`:
   * the caller's RowChanges.sync() resolved after this request arrived (else the database is read).
   */
  async verify(
    db: Db,
    synced: boolean,
    serviceName: string,
    login: string,
    password: string,
    ip: string,
  ): Promise<{ passwordRight: boolean; addressAllowed: boolean } | undefined> {
    const name = `${serviceName}${sep}${login}`
    const credentials =
      (synced && this.changes.live && this.byName.get(name)) ||
      (await this.load(db, name, serviceName, login))
    if (!credentials) return undefined
    const given = digest(password)
    return {
      passwordRight: timingSafeEqual(given, credentials.passwordDigest),
      addressAllowed: credentials.ipRestrictions.length === 0 || ipAllowed(ip, credentials.ipRestrictions),
    }
  }

  clear(): void {
    this.byName.clear()
    this.byUser.clear()
  }

  private async load(
    db: Db,
    name: string,
    serviceName: string,
    login: string,
  ): Promise<Credentials | undefined> {
    const mark = this.changes.mark()
    const row = await db
      .selectFrom('sms_users as u')
      .innerJoin('accounts as a', 'a.id', 'u.account_id')
      .select(['u.account_id', 'u.login', 'u.password_enc', 'u.ip_restrictions'])
      .where('a.service_name', '=', serviceName)
      .where('u.login', '=', login)
      .executeTakeFirst()
    if (!row) return undefined
    const credentials: Credentials = {
      accountId: row.account_id,
      login: row.login,
      passwordDigest: digest(this.box.open(row.password_enc)),
      ipRestrictions: Object.freeze([...row.ip_restrictions]),
    }
    const stale = this.changes.changedSince(mark, (change: RowChange) =>
      change.table === 'accounts'
        ? change.ids.includes(row.account_id)
        : change.table === 'credentials' && change.key[0] === row.account_id && change.key[1] === row.login,
    )
    if (!stale) this.store(name, credentials)
    return credentials
  }

  private store(name: string, entry: Credentials): void {
    this.drop(name)
    if (this.byName.size >= this.maxEntries) this.drop(this.byName.keys().next().value as string)
    this.byName.set(name, entry)
    this.byUser.set(`${entry.accountId}${sep}${entry.login}`, name)
  }

  private drop(name: string): void {
    const entry = this.byName.get(name)
    if (!entry) return
    this.byName.delete(name)
    this.byUser.delete(`${entry.accountId}${sep}${entry.login}`)
  }
}
