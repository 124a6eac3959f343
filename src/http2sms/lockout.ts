import { createHash } from 'node:crypto'
import ipaddr from 'ipaddr.js'
import { sql } from 'kysely'
import type { Db } from '../db/index.js'
import type { RowChanges } from '../db/row-changes.js'

/**
 * The lockout of failed logins, in the database so that every replica counts the same failures,
 * with no memory in the process and rows that expire. Failures are counted three ways, each in a
 * fixed window that starts at its first failure:
 * - one login (account + login) from one address: `perPair` failures block that pair — the users of
 *   the same NAT or proxy with other logins are not affected;
 * - one address, whatever the login (a password spray): `perAddress` failures block the address;
 * - one login, whatever the address (an attack from many addresses): `perLogin` failures block the
 *   login.
 * An address from which the login authenticated within `trustedMs` is exempt from the last two, so
 * the real user still gets in while the login or a shared address is under attack. An IPv6 client
 * counts for its /64 (a host usually holds a whole /64). A refused address (`ipRestrictions`)
 * counts as a failure like a wrong password.
 */
export const LOCKOUT = {
  windowMs: 5 * 60_000,
  perPair: 10,
  perAddress: 100,
  perLogin: 50,
  trustedMs: 30 * 24 * 3_600_000,
} as const

/** The address failures are counted for: an IPv4 address, or the /64 of an IPv6 one. */
export function countedAddress(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6
  try {
    address = ipaddr.process(ip)
  } catch {
    return ip
  }
  if (address.kind() === 'ipv4') return address.toString()
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4)
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`
}

type Attempt = { account: string; login: string; address: string }
/** What the lockout knows of an attempt before its password is checked. */
type Verdict = { refusal: string | null; pairFailures: number; trustedUntil: Date | null }

/** A row key of fixed size, whatever the length of what the client sent. */
const subject = (kind: 'pair' | 'address' | 'login' | 'trusted', ...parts: string[]) =>
  `${kind}:${createHash('sha256').update(JSON.stringify(parts)).digest('base64url')}`

const subjectsOf = (attempt: Attempt) => ({
  pair: subject('pair', attempt.account, attempt.login, attempt.address),
  address: subject('address', attempt.address),
  login: subject('login', attempt.account, attempt.login),
  trusted: subject('trusted', attempt.account, attempt.login, attempt.address),
})

/** Expired rows deleted per failure: more than a failure writes, so the table shrinks back. */
const PURGE_BATCH = 500

/** Verdicts kept per process (see LoginGuard): this many attempts' at most. */
const MAX_CLEAN = 10_000

export class LoginGuard {
  /**
   * "Nothing against this login from this address, which it authenticated from lately", by attempt,
   * with the trust's end: such an attempt's verdict needs no query while no failure is counted for
   * the pair and the trust is not deleted (their 'g' notifications, from any replica, drop the entry)
   * and the trust lasts (no renewal due). Only with `changes`, and served only after their sync().
   */
  private readonly clean = new Map<string, { pair: string; trusted: string; trustedUntil: Date }>()
  /** The pair's and the trust's subjects → the attempt's key, to apply 'g' notifications. */
  private readonly cleanBySubject = new Map<string, string>()

  constructor(
    private readonly db: Db,
    private readonly limits: typeof LOCKOUT = LOCKOUT,
    private readonly changes: RowChanges | null = null,
  ) {
    changes?.onChange((change) => {
      if (change.table === 'all') {
        this.clean.clear()
        this.cleanBySubject.clear()
      } else if (change.table === 'login_failure') {
        const key = this.cleanBySubject.get(change.subject)
        if (key !== undefined) this.forget(key)
      }
    })
  }

  /**
   * The verdict on an attempt before its password is checked. `synced`: the caller's
   * RowChanges.sync() resolved after the request arrived (a clean verdict may then come from memory).
   */
  async check(attempt: Attempt, now: Date, synced = false): Promise<Verdict> {
    const key = `${attempt.account}\u0000${attempt.login}\u0000${attempt.address}`
    const kept = synced && this.changes?.live ? this.clean.get(key) : undefined
    if (kept && kept.trustedUntil.getTime() > this.renewFrom(now)) {
      return { refusal: null, pairFailures: 0, trustedUntil: kept.trustedUntil }
    }
    const mark = this.changes?.mark() ?? -1
    const verdict = await this.read(attempt, now)
    if (
      this.changes &&
      verdict.refusal === null &&
      verdict.pairFailures === 0 &&
      verdict.trustedUntil &&
      verdict.trustedUntil.getTime() > this.renewFrom(now)
    ) {
      const { pair, trusted } = subjectsOf(attempt)
      const changed = this.changes.changedSince(
        mark,
        (c) => c.table === 'login_failure' && (c.subject === pair || c.subject === trusted),
      )
      if (!changed) this.keep(key, { pair, trusted, trustedUntil: verdict.trustedUntil })
    }
    return verdict
  }

  /** After this instant, a success renews the address's trust (a write): not served from memory. */
  private renewFrom(now: Date): number {
    return now.getTime() + this.limits.trustedMs - 24 * 3_600_000
  }

  private keep(key: string, entry: { pair: string; trusted: string; trustedUntil: Date }): void {
    this.forget(key)
    if (this.clean.size >= MAX_CLEAN) this.forget(this.clean.keys().next().value as string)
    this.clean.set(key, entry)
    this.cleanBySubject.set(entry.pair, key)
    this.cleanBySubject.set(entry.trusted, key)
  }

  private forget(key: string): void {
    const entry = this.clean.get(key)
    if (!entry) return
    this.clean.delete(key)
    this.cleanBySubject.delete(entry.pair)
    this.cleanBySubject.delete(entry.trusted)
  }

  private async read(attempt: Attempt, now: Date): Promise<Verdict> {
    const subjects = subjectsOf(attempt)
    const rows = await this.db
      .selectFrom('http2sms_guard')
      .select(['subject', 'failures', 'expires_at'])
      .where('subject', 'in', Object.values(subjects))
      .where('expires_at', '>', now)
      .execute()
    const row = (key: string) => rows.find((r) => r.subject === key)
    const retryIn = (until: Date) => Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000))
    const pair = row(subjects.pair)
    const trusted = row(subjects.trusted)
    const verdict = (refusal: string | null): Verdict => ({
      refusal,
      pairFailures: pair?.failures ?? 0,
      trustedUntil: trusted?.expires_at ?? null,
    })
    if (pair && pair.failures >= this.limits.perPair) {
      return verdict(
        `Too many failed attempts from ${attempt.address} for this login, retry in ${retryIn(pair.expires_at)} s`,
      )
    }
    if (trusted) return verdict(null)
    const address = row(subjects.address)
    if (address && address.failures >= this.limits.perAddress) {
      return verdict(
        `Too many failed attempts from ${attempt.address} for many logins, retry in ${retryIn(address.expires_at)} s`,
      )
    }
    const login = row(subjects.login)
    if (login && login.failures >= this.limits.perLogin) {
      return verdict(
        `Too many failed attempts for this login from many addresses, retry in ${retryIn(login.expires_at)} s ` +
          '(or from an address it authenticated from lately)',
      )
    }
    return verdict(null)
  }

  async failed(attempt: Attempt, now: Date): Promise<void> {
    const subjects = subjectsOf(attempt)
    const expiresAt = new Date(now.getTime() + this.limits.windowMs)
    // One statement for the three counters, always in the same order: concurrent failures neither
    // lose a count nor deadlock.
    await this.db
      .insertInto('http2sms_guard')
      .values(
        [subjects.pair, subjects.address, subjects.login].map((key) => ({
          subject: key,
          failures: 1,
          expires_at: expiresAt,
        })),
      )
      .onConflict((conflict) =>
        conflict.column('subject').doUpdateSet({
          failures: sql<number>`case when http2sms_guard.expires_at <= ${now} then 1 else http2sms_guard.failures + 1 end`,
          expires_at: sql<Date>`case when http2sms_guard.expires_at <= ${now} then excluded.expires_at else http2sms_guard.expires_at end`,
        }),
      )
      .execute()
    await this.purge(now)
  }

  /** The pair's failures are forgotten; the address is trusted for the login (renewed daily at most). */
  async succeeded(attempt: Attempt, now: Date, verdict: Verdict): Promise<void> {
    if (
      verdict.pairFailures === 0 &&
      verdict.trustedUntil &&
      verdict.trustedUntil.getTime() > this.renewFrom(now)
    )
      return
    const subjects = subjectsOf(attempt)
    if (verdict.pairFailures > 0) {
      await this.db.deleteFrom('http2sms_guard').where('subject', '=', subjects.pair).execute()
    }
    if (verdict.trustedUntil && verdict.trustedUntil.getTime() > this.renewFrom(now)) return
    const expiresAt = new Date(now.getTime() + this.limits.trustedMs)
    await this.db
      .insertInto('http2sms_guard')
      .values({ subject: subjects.trusted, failures: 0, expires_at: expiresAt })
      .onConflict((conflict) => conflict.column('subject').doUpdateSet({ expires_at: expiresAt }))
      .execute()
  }

  private async purge(now: Date): Promise<void> {
    await this.db
      .deleteFrom('http2sms_guard')
      .where('subject', 'in', (eb) =>
        eb
          .selectFrom('http2sms_guard')
          .select('subject')
          .where('expires_at', '<=', now)
          .limit(PURGE_BATCH)
          .forUpdate()
          .skipLocked(),
      )
      .execute()
  }
}
