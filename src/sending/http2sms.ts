import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import ipaddr from 'ipaddr.js'
import { sql } from 'kysely'
import { ipAllowed } from '../auth/hook.js'
import { fromHundredths, toHundredths } from '../credits.js'
import type { Db } from '../db/index.js'
import type { AppDeps } from '../deps.js'
import { ALL_OWNERS } from '../deps.js'
import { ApiError } from '../errors.js'
import { unstorableValueAt } from '../validation.js'
import { type SendingDeps, sendMessages } from './service.js'

/**
 * OVH's http2sms URL: an SMS user (login/password) sends with query or form parameters and reads the
 * outcome from the body, always with HTTP 200 as public clients expect. Statuses: 100 sent, 201
 * missing parameter, 202 invalid parameter, 241 sender not found, 401 authentication or IP refused
 * (one answer for both) or too many failed attempts (LoginGuard).
 */

const CONTENT_TYPES = [
  'text/plain',
  'text/html',
  'text/xml',
  'application/xml',
  'text/json',
  'application/json',
] as const
type ContentType = (typeof CONTENT_TYPES)[number]
type Outcome = { status: number; message?: string; creditLeft?: string; ids?: number[] }

const HELP =
  'For more informations : https://help.ovhcloud.com/csm/en-gb-sms-sending-via-url-http2sms?id=kb_article_view&sysparm_article=KB0039184'
const CLASSES = ['flash', 'phoneDisplay', 'sim', 'toolkit'] as const

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string,
  )

export function renderOutcome(contentType: ContentType, outcome: Outcome): string {
  const ok = outcome.status >= 100 && outcome.status < 200
  switch (contentType) {
    case 'text/json':
    case 'application/json':
      return JSON.stringify(
        ok
          ? {
              status: outcome.status,
              creditLeft: outcome.creditLeft,
              SmsIds: (outcome.ids ?? []).map(String),
              smsIds: (outcome.ids ?? []).map(String),
            }
          : { status: outcome.status, message: `${outcome.message}. ${HELP}` },
      )
    case 'text/xml':
    case 'application/xml': {
      const inner = ok
        ? `<status>${outcome.status}</status><creditLeft>${outcome.creditLeft}</creditLeft><smsIds>${(
            outcome.ids ?? []
          )
            .map((id) => `<smsId>${id}</smsId>`)
            .join('')}</smsIds>`
        : `<status>${outcome.status}</status><message>${escapeXml(`${outcome.message}. ${HELP}`)}</message>`
      return `<?xml version="1.0" encoding="UTF-8" ?><response>${inner}</response>`
    }
    case 'text/html': {
      const lines = ok
        ? ['OK', outcome.creditLeft ?? '', ...(outcome.ids ?? []).map(String)]
        : ['KO', outcome.message ?? '']
      return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" ' +
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml">' +
        `<head><title>HTTP2SMS</title></head><BODY>${lines.map(escapeXml).join('<br>')}</BODY></html>`
      )
    }
    default:
      return ok
        ? ['OK', outcome.creditLeft ?? '', ...(outcome.ids ?? []).map(String)].join('\n')
        : `KO\n${outcome.message}`
  }
}

/** `hhmmddMMYYYY` in Paris time (OVH's), as a Date; null when malformed. */
export function parseDeferred(value: string): Date | null {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{4})$/.exec(value)
  if (!m) return null
  const [hh, mi, dd, mo, yyyy] = m.slice(1).map(Number) as [number, number, number, number, number]
  if (hh > 23 || mi > 59 || mo < 1 || mo > 12 || dd < 1 || dd > 31) return null
  const wallClock = Date.UTC(yyyy, mo - 1, dd, hh, mi)
  if (new Date(wallClock).getUTCDate() !== dd) return null
  // The offset at the wall-clock time, then again at the instant found (right across DST changes).
  const first = wallClock - parisOffsetMs(new Date(wallClock))
  return new Date(wallClock - parisOffsetMs(new Date(first)))
}

function parisOffsetMs(at: Date): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Paris',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(at)
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value)
  return (
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute')) -
    Math.floor(at.getTime() / 60000) * 60000
  )
}

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

export class LoginGuard {
  constructor(
    private readonly db: Db,
    private readonly limits: typeof LOCKOUT = LOCKOUT,
  ) {}

  async check(attempt: Attempt, now: Date): Promise<Verdict> {
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
    const subjects = subjectsOf(attempt)
    if (verdict.pairFailures > 0) {
      await this.db.deleteFrom('http2sms_guard').where('subject', '=', subjects.pair).execute()
    }
    const renewFrom = now.getTime() + this.limits.trustedMs - 24 * 3_600_000
    if (verdict.trustedUntil && verdict.trustedUntil.getTime() > renewFrom) return
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

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export const http2smsRoutes: FastifyPluginAsync<{ deps: AppDeps; sending: SendingDeps }> = async (
  app,
  { deps, sending },
) => {
  const { db } = deps.database
  const guard = new LoginGuard(db)

  const handle = async (params: Record<string, unknown>, ip: string, reply: FastifyReply) => {
    const value = (name: string) => {
      const raw = params[name]
      return typeof raw === 'string' ? raw : Array.isArray(raw) ? String(raw[0] ?? '') : undefined
    }
    const requested = value('contentType') ?? 'text/plain'
    const contentType: ContentType = (CONTENT_TYPES as readonly string[]).includes(requested)
      ? (requested as ContentType)
      : 'text/plain'
    const answer = (outcome: Outcome) =>
      reply.code(200).type(`${contentType}; charset=utf-8`).send(renderOutcome(contentType, outcome))

    if (contentType !== requested) {
      return answer({
        status: 202,
        message: `Invalid contentType: expected one of ${CONTENT_TYPES.join(', ')}`,
      })
    }
    const unstorable = unstorableValueAt(params)
    if (unstorable) {
      return answer({ status: 202, message: `Invalid ${unstorable.path}: expected ${unstorable.expected}` })
    }
    const serviceName = value('account') || value('smsAccount')
    const login = value('login')
    const password = value('password')
    for (const [name, given] of [
      ['account', serviceName],
      ['login', login],
      ['password', password],
      ['to', value('to')],
      ['message', value('message')],
    ] as const) {
      if (!given) return answer({ status: 201, message: `Missing ${name}` })
    }
    const senderForResponse = value('senderForResponse') === '1'
    const from = value('from')
    if (!from && !senderForResponse) return answer({ status: 201, message: 'Missing from' })
    const tag = value('tag') ?? ''
    if (tag.length > 20)
      return answer({ status: 202, message: 'Invalid tag: is too long (20 characters at most)' })
    const noStop = value('noStop')
    if (noStop !== undefined && noStop !== '0' && noStop !== '1')
      return answer({ status: 202, message: 'Invalid noStop: expected 0 or 1' })
    const smsCoding = value('smsCoding') ?? value('SMSencoding')
    if (smsCoding !== undefined && smsCoding !== '1' && smsCoding !== '2') {
      return answer({ status: 202, message: 'Invalid smsCoding: expected 1 (7-bit) or 2 (Unicode)' })
    }
    const classParam = value('class')
    const smsClass = classParam === undefined ? undefined : CLASSES[Number(classParam)]
    if (classParam !== undefined && (!/^[0-3]$/.test(classParam) || !smsClass)) {
      return answer({ status: 202, message: 'Invalid class: expected 0, 1, 2 or 3' })
    }
    const now = deps.clock.now()
    let differedPeriod = 0
    const deferred = value('deferred')
    if (deferred) {
      const at = parseDeferred(deferred)
      if (!at) return answer({ status: 202, message: 'Invalid deferred time: expected hhmmddMMYYYY' })
      differedPeriod = Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 60_000))
    }

    const attempt = { account: serviceName as string, login: login as string, address: countedAddress(ip) }
    const verdict = await guard.check(attempt, now)
    if (verdict.refusal) return answer({ status: 401, message: verdict.refusal })
    // With what is left to spend: the answer after the send must not need the database again (a
    // failure there would answer an error for a message already accepted, inviting a second send).
    const user = await db
      .selectFrom('sms_users as u')
      .innerJoin('accounts as a', 'a.id', 'u.account_id')
      .select([
        'u.login',
        'u.password_enc',
        'u.ip_restrictions',
        'u.quota_status',
        'u.quota_left',
        'a.credits_left',
      ])
      .where('a.service_name', '=', serviceName as string)
      .where('u.login', '=', login as string)
      .executeTakeFirst()
    // Both checked, one answer: a refused address must not tell that the password was right.
    const passwordRight =
      user !== undefined && sameText(deps.secretBox.open(user.password_enc), password as string)
    const addressAllowed =
      user !== undefined && (user.ip_restrictions.length === 0 || ipAllowed(ip, user.ip_restrictions))
    if (!user || !passwordRight || !addressAllowed) {
      await guard.failed(attempt, now)
      return answer({
        status: 401,
        message: `Invalid account, login or password, or your IP address ${ip} is not allowed for this user`,
      })
    }
    await guard.succeeded(attempt, now, verdict)

    try {
      const report = await sendMessages(
        sending,
        { scope: ALL_OWNERS, serviceName: serviceName as string, login: login as string },
        {
          message: (value('message') as string).replace(/\r\n/g, '\n'),
          receivers: (value('to') as string)
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
          ...(from ? { sender: from } : {}),
          senderForResponse,
          noStopClause: noStop === '1',
          tag,
          differedPeriod,
          ...(smsClass ? { class: smsClass } : {}),
        },
      )
      if (report.ids.length === 0) {
        return answer({
          status: 202,
          message: `Invalid to: no valid receiver in ${report.invalidReceivers.join(',')}`,
        })
      }
      const before = user.quota_status === 'active' ? user.quota_left : user.credits_left
      const credit = before - toHundredths(report.totalCreditsRemoved)
      return answer({ status: 100, creditLeft: String(fromHundredths(credit)), ids: report.ids })
    } catch (error) {
      if (error instanceof ApiError && error.statusCode < 500) {
        const status = /sender/i.test(error.message) ? 241 : 202
        return answer({ status, message: error.message })
      }
      throw error
    }
  }

  const schema = { tags: ['http2sms'], summary: 'Send an SMS with a URL (OVH http2sms)', security: [] }
  const config = { storableCheck: false }
  app.get('/cgi-bin/sms/http2sms.cgi', { schema, config }, (request, reply) =>
    handle(request.query as Record<string, unknown>, request.ip, reply),
  )
  app.post('/cgi-bin/sms/http2sms.cgi', { schema, config }, (request, reply) =>
    handle({ ...(request.query as object), ...((request.body as object) ?? {}) }, request.ip, reply),
  )
}
