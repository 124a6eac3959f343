import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { ipAllowed } from '../auth/hook.js'
import { fromHundredths, toHundredths } from '../credits.js'
import type { AppDeps } from '../deps.js'
import { ALL_OWNERS } from '../deps.js'
import { ApiError } from '../errors.js'
import { unstorableValueAt } from '../validation.js'
import { type SendingDeps, sendMessages } from './service.js'

/**
 * OVH's http2sms URL: an SMS user (login/password) sends with query or form parameters and reads the
 * outcome from the body, always with HTTP 200 as public clients expect. Statuses: 100 sent, 201
 * missing parameter, 202 invalid parameter, 241 sender not found, 401 authentication or IP refused.
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

/** Counts failed logins per client address; past the limit, that address is refused for a while. */
class FailureLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>()
  constructor(
    private readonly max = 10,
    private readonly windowMs = 5 * 60_000,
  ) {}
  blockedFor(ip: string, now: number): number {
    const entry = this.failures.get(ip)
    if (!entry || now - entry.since > this.windowMs) return 0
    return entry.count >= this.max ? Math.ceil((entry.since + this.windowMs - now) / 1000) : 0
  }
  fail(ip: string, now: number): void {
    const entry = this.failures.get(ip)
    if (!entry || now - entry.since > this.windowMs) {
      if (this.failures.size > 100_000) this.failures.clear()
      this.failures.set(ip, { count: 1, since: now })
    } else entry.count++
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
  const limiter = new FailureLimiter()

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

    const blocked = limiter.blockedFor(ip, now.getTime())
    if (blocked > 0) {
      return answer({ status: 401, message: `Too many failed attempts from ${ip}, retry in ${blocked} s` })
    }
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
    if (!user || !sameText(deps.secretBox.open(user.password_enc), password as string)) {
      limiter.fail(ip, now.getTime())
      return answer({ status: 401, message: 'Invalid account, login or password' })
    }
    if (user.ip_restrictions.length > 0 && !ipAllowed(ip, user.ip_restrictions)) {
      return answer({ status: 401, message: `Your IP address ${ip} is not allowed for this user` })
    }

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
