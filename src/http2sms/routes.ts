import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { fromHundredths } from '../accounts/amounts.js'
import { ALL_OWNERS } from '../auth/scope.js'
import { ApiError } from '../errors.js'
import { SenderRefused } from '../senders/service.js'
import { creditLeftAfter } from '../sending/send-steps.js'
import { sendMessages } from '../sending/service.js'
import { CredentialCache } from './credential-cache.js'
import { countedAddress, LoginGuard } from './lockout.js'
import { Http2smsParams, readParams } from './params.js'
import { type ContentType, type Outcome, renderOutcome } from './render.js'

/**
 * OVH's http2sms URL: an SMS user (login/password) sends with query or form parameters and reads the
 * outcome from the body, always with HTTP 200 as public clients expect. Statuses: 100 sent, 201
 * missing parameter, 202 invalid parameter, 241 sender not found, 401 authentication or IP refused
 * (one answer for both) or too many failed attempts (LoginGuard).
 */

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

export const http2smsRoutes: FastifyPluginAsync = async (app) => {
  const { db, clock } = app
  const changes = app.rowChanges
  const guard = new LoginGuard(db, undefined, changes)
  const credentials = new CredentialCache(changes, app.secretBox)

  const handle = async (raw: Record<string, unknown>, ip: string, reply: FastifyReply) => {
    const read = readParams(raw)
    const answer = (contentType: ContentType, outcome: Outcome) =>
      reply.code(200).type(`${contentType}; charset=utf-8`).send(renderOutcome(contentType, outcome))
    if (!read.ok) return answer(read.contentType, read.outcome)
    const { contentType, serviceName, login, password, job } = read.request
    const now = clock.now()
    if (read.request.deferred) {
      const at = parseDeferred(read.request.deferred)
      if (!at)
        return answer(contentType, { status: 202, message: 'Invalid deferred time: expected hhmmddMMYYYY' })
      job.differedPeriod = Math.max(0, Math.ceil((at.getTime() - now.getTime()) / 60_000))
    }

    const attempt = { account: serviceName, login, address: countedAddress(ip) }
    // One barrier for both caches (credentials, lockout verdicts): after it, every change committed
    // before this request arrived has been heard, in whichever process it was made.
    const synced =
      changes.live &&
      (await changes.sync().then(
        () => true,
        () => false,
      ))
    const verdict = await guard.check(attempt, now, synced)
    if (verdict.refusal) return answer(contentType, { status: 401, message: verdict.refusal })
    // What is left to spend comes with the send's report: the answer after the send must not need
    // the database again (a failure there would answer an error for a message already accepted,
    // inviting a second send).
    const checked = await credentials.verify(db, synced, serviceName, login, password, ip)
    // Both checked, one answer: a refused address must not tell that the password was right.
    if (!checked?.passwordRight || !checked.addressAllowed) {
      await guard.failed(attempt, now)
      return answer(contentType, {
        status: 401,
        message: `Invalid account, login or password, or your IP address ${ip} is not allowed for this user`,
      })
    }
    await guard.succeeded(attempt, now, verdict)

    try {
      const report = await sendMessages(app.sending, { scope: ALL_OWNERS, serviceName, login }, job)
      if (report.ids.length === 0) {
        return answer(contentType, {
          status: 202,
          message: `Invalid to: no valid receiver in ${report.invalidReceivers.join(',')}`,
        })
      }
      const credit = creditLeftAfter(report)
      if (credit === undefined) throw new Error('an accepted send without its payer’s credit left')
      return answer(contentType, { status: 100, creditLeft: String(fromHundredths(credit)), ids: report.ids })
    } catch (error) {
      if (error instanceof ApiError && error.statusCode < 500) {
        return answer(contentType, {
          status: error instanceof SenderRefused ? 241 : 202,
          message: error.message,
        })
      }
      throw error
    }
  }

  const schema = {
    tags: ['http2sms'],
    summary: 'Send an SMS with a URL (OVH http2sms)',
    description:
      'Always HTTP 200: the status is in the body (100 sent, 201 missing parameter, 202 invalid parameter, 241 sender, 401 refused).',
    security: [],
    querystring: Http2smsParams,
  }
  // The schema documents the parameters; readParams checks them, answering in http2sms's own format.
  const config = { storableCheck: false }
  const acceptAll = () => () => true
  app.get('/cgi-bin/sms/http2sms.cgi', { schema, config, validatorCompiler: acceptAll }, (request, reply) =>
    handle(request.query as Record<string, unknown>, request.ip, reply),
  )
  app.post('/cgi-bin/sms/http2sms.cgi', { schema, config, validatorCompiler: acceptAll }, (request, reply) =>
    handle({ ...(request.query as object), ...((request.body as object) ?? {}) }, request.ip, reply),
  )
}
