import type { FastifyBaseLogger } from 'fastify'
import { fromHundredths } from '../accounts/amounts.js'
import { ALL_OWNERS } from '../auth/scope.js'
import { PollingWorker } from '../background/polling-worker.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import type { AlertChannelState, AlertsTable } from '../db/schema.js'
import { type Sending, sendMessages } from '../sending/service.js'
import type { AlertMail, MailSender } from './mail.js'

/** The SMS alert to send from the account's credits (never from the user's quota). */
export type AlertSms = {
  accountId: number
  serviceName: string
  login: string
  number: string
  message: string
}
/** Sends an SMS alert. An error with a 4xx `statusCode` (e.g. not enough credits) is final; others are retried. */
export type SendAlertSms = (sms: AlertSms) => Promise<void>

export type AlertDispatcherOptions = {
  pollMs: number
  /** Waits between tries (ALERT_RETRY_SCHEDULE); after the last one the channel is 'failed'. */
  retrySchedule: readonly number[]
  /** How long a claimed alert stays invisible to other replicas while it is being sent. */
  leaseMs?: number
  /** Alerts claimed per transaction (sent concurrently). */
  batch?: number
}

export type AlertDispatcherDeps = {
  db: Db
  clock: Clock
  log: FastifyBaseLogger
  /** null: SMTP_URL is not set, e-mail alerts fail at once. */
  mail: MailSender | null
  sendSms: SendAlertSms
  options: AlertDispatcherOptions
  /** Opens the sealed SMPP password of a password mail (the secret box). */
  openSecret?: (sealed: string) => string
}

type AlertRow = {
  id: number
  account_id: number
  login: string
  email: string | null
  number: string | null
  threshold: number
  quota_left: number
  mail_state: AlertChannelState
  sms_state: AlertChannelState
  attempts: number
  created_at: Date
  kind: 'limit' | 'smpp_password'
  secret_enc: string | null
}
type Claimed = AlertRow & { service_name: string }
type Outcome = { kind: 'sent' } | { kind: 'retry'; error: string } | { kind: 'failed'; error: string }
type Channel = 'mail' | 'sms'
const STATE_COLUMN = { mail: 'mail_state', sms: 'sms_state' } as const

/**
 * Delivers the limit alerts written by `raiseAlerts`, in every replica. A short transaction
 * claims due rows (FOR UPDATE SKIP LOCKED) and pushes their next_attempt_at forward by a lease, so no
 * other replica picks them up; the mail/SMS is sent outside any transaction; another short
 * transaction records the outcome. Failures are retried along the schedule, then marked 'failed'.
 */
export class AlertDispatcher extends PollingWorker {
  private readonly db: Db
  private readonly clock: Clock
  private readonly mail: MailSender | null
  private readonly sendSms: SendAlertSms
  private readonly schedule: readonly number[]
  private readonly leaseMs: number
  private readonly batch: number
  private readonly openSecret: (sealed: string) => string

  constructor(deps: AlertDispatcherDeps) {
    super(deps.options.pollMs, deps.log, 'alert dispatcher')
    this.db = deps.db
    this.clock = deps.clock

    this.mail = deps.mail
    this.sendSms = deps.sendSms
    this.schedule = deps.options.retrySchedule
    this.leaseMs = deps.options.leaseMs ?? 10 * 60_000
    this.batch = deps.options.batch ?? 10
    this.openSecret =
      deps.openSecret ??
      (() => {
        throw new Error('no secret box to open the password with')
      })
  }

  /** Sends every due alert; returns how many were handled. Tests call it. */
  async runOnce(): Promise<number> {
    let total = 0
    for (;;) {
      const claimed = await this.claim()
      if (claimed.length === 0) return total
      await Promise.all(claimed.map((row) => this.deliver(row)))
      total += claimed.length
    }
  }

  private async claim(): Promise<Claimed[]> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const due = await trx
        .selectFrom('alerts')
        .select('id')
        .where((eb) => eb.or([eb('mail_state', '=', 'pending'), eb('sms_state', '=', 'pending')]))
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(this.batch)
        .forUpdate()
        .skipLocked()
        .execute()
      if (due.length === 0) return []
      const rows = await trx
        .updateTable('alerts')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          next_attempt_at: new Date(now.getTime() + this.leaseMs),
        }))
        .where(
          'id',
          'in',
          due.map((r) => r.id),
        )
        .returning([
          'id',
          'account_id',
          'login',
          'email',
          'number',
          'threshold',
          'quota_left',
          'mail_state',
          'sms_state',
          'attempts',
          'created_at',
          'kind',
          'secret_enc',
        ])
        .execute()
      const accounts = await trx
        .selectFrom('accounts')
        .select(['id', 'service_name'])
        .where('id', 'in', [...new Set(rows.map((r) => r.account_id))])
        .execute()
      const names = new Map(accounts.map((a) => [a.id, a.service_name]))
      return rows.map((row) => ({
        ...row,
        id: Number(row.id),
        threshold: Number(row.threshold),
        quota_left: Number(row.quota_left),
        service_name: names.get(row.account_id) ?? String(row.account_id),
      }))
    })
  }

  private async deliver(row: Claimed): Promise<void> {
    const outcomes: Partial<Record<Channel, Outcome>> = {}
    if (row.mail_state === 'pending') outcomes.mail = await this.tryMail(row)
    if (row.sms_state === 'pending') outcomes.sms = await this.trySms(row)
    try {
      await this.record(row, outcomes)
    } catch (err) {
      // The lease runs out and the alert is tried again: at least once, never lost.
      this.log.error({ err, alertId: row.id }, 'could not record the outcome of a limit alert')
    }
  }

  private async tryMail(row: Claimed): Promise<Outcome> {
    if (!row.email) return { kind: 'failed', error: 'no alertEmail' }
    if (!this.mail) return { kind: 'failed', error: 'e-mail alerts are not configured (SMTP_URL)' }
    try {
      const content =
        row.kind === 'smpp_password'
          ? smppPasswordMail(row.service_name, this.openSecret(row.secret_enc ?? ''), row.created_at)
          : alertMail(row)
      await this.mail.send({ to: row.email, ...content })
      return { kind: 'sent' }
    } catch (err) {
      return { kind: 'retry', error: describe(err) }
    }
  }

  private async trySms(row: Claimed): Promise<Outcome> {
    if (!row.number) return { kind: 'failed', error: 'no alertNumber' }
    try {
      await this.sendSms({
        accountId: row.account_id,
        serviceName: row.service_name,
        login: row.login,
        number: row.number,
        message: alertSmsText(row),
      })
      return { kind: 'sent' }
    } catch (err) {
      const status = (err as { statusCode?: unknown } | null)?.statusCode
      const final = typeof status === 'number' && status >= 400 && status < 500
      return { kind: final ? 'failed' : 'retry', error: describe(err) }
    }
  }

  private async record(row: Claimed, outcomes: Partial<Record<Channel, Outcome>>): Promise<void> {
    const now = this.clock.now()
    const delay = this.schedule[row.attempts - 1]
    await this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('alerts')
        .select(['attempts', 'mail_state', 'sms_state'])
        .where('id', '=', row.id)
        .forUpdate()
        .executeTakeFirst()
      if (!current) return
      // Our lease ran out and another replica claimed the alert: record only what was sent.
      const ownsLease = current.attempts === row.attempts
      const patch: Partial<Pick<AlertsTable, 'mail_state' | 'sms_state' | 'next_attempt_at' | 'last_error'>> =
        {}
      const errors: string[] = []
      let retrying = false
      for (const channel of ['mail', 'sms'] as const) {
        const outcome = outcomes[channel]
        const column = STATE_COLUMN[channel]
        if (!outcome || current[column] !== 'pending') continue
        const ids = { alertId: row.id, accountId: row.account_id, login: row.login, channel }
        if (outcome.kind === 'sent') {
          patch[column] = 'sent'
          this.log.info({ ...ids, kind: row.kind, attempt: row.attempts }, 'limit alert sent')
          continue
        }
        errors.push(outcome.error)
        if (!ownsLease) continue
        if (outcome.kind === 'retry' && delay !== undefined) {
          retrying = true
          this.log.warn(
            { ...ids, attempt: row.attempts, error: outcome.error, retryInMs: delay },
            'limit alert not sent; will retry',
          )
        } else {
          patch[column] = 'failed'
          this.log.warn({ ...ids, attempt: row.attempts, error: outcome.error }, 'limit alert failed')
        }
      }
      if (ownsLease) patch.next_attempt_at = retrying ? new Date(now.getTime() + (delay ?? 0)) : now
      if (errors.length === 1) patch.last_error = errors[0] as string
      else if (errors.length > 1) patch.last_error = `mail: ${errors[0]}; sms: ${errors[1]}`
      if (Object.keys(patch).length === 0) return
      // A password mail sent or given up no longer needs its password.
      const done = patch.mail_state === 'sent' || patch.mail_state === 'failed'
      await trx
        .updateTable('alerts')
        .set(row.kind === 'smpp_password' && done ? { ...patch, secret_enc: null } : patch)
        .where('id', '=', row.id)
        .execute()
    })
  }
}

type AlertFacts = Pick<Claimed, 'service_name' | 'login' | 'threshold' | 'quota_left' | 'created_at'>

/** Subject and body of the alert e-mail. */
export function alertMail(alert: AlertFacts): Omit<AlertMail, 'to'> {
  const left = fromHundredths(alert.quota_left)
  return {
    subject: `SMS quota alert: user ${alert.login} of ${alert.service_name} has ${left} credits left`,
    text: [
      `The API user "${alert.login}" of the SMS account ${alert.service_name} has ${left} credits left on its quota,`,
      `at or below its alert threshold of ${alert.threshold} credits.`,
      '',
      `Raise its quota (PUT /sms/${alert.service_name}/users/${alert.login}, quotaInformations) to keep it sending.`,
      '',
      `Raised at ${alert.created_at.toISOString()}.`,
      '',
      '-- ',
      'sms-mirror',
    ].join('\n'),
  }
}

/** The mail that carries a regenerated SMPP password (the only place it is ever written in clear). */
export function smppPasswordMail(serviceName: string, password: string, at: Date): Omit<AlertMail, 'to'> {
  return {
    subject: `New SMPP password of ${serviceName}`,
    text: [
      `A new SMPP password was generated for the SMS account ${serviceName} at ${at.toISOString()}.`,
      '',
      `Password: ${password}`,
      '',
      'Sessions bound with the previous password stay up until they unbind; new binds need this one.',
      'The system ID and endpoints are in GET /sms/' + serviceName + '/smpp/settings.',
      '',
      '-- ',
      'sms-mirror',
    ].join('\n'),
  }
}

/** Text of the SMS alert (GSM 7-bit, one part). */
export function alertSmsText(alert: AlertFacts): string {
  return `SMS quota alert: user ${alert.login} of ${alert.service_name} has ${fromHundredths(alert.quota_left)} credits left (threshold ${alert.threshold}).`
}

/** The production SMS path: an account-level send, spending the account's credits. */
export function sendAlertSmsWith(sending: Sending): SendAlertSms {
  return async (sms) => {
    await sendMessages(
      sending,
      { scope: ALL_OWNERS, serviceName: sms.serviceName, login: null },
      { message: sms.message, receivers: [sms.number], noStopClause: true },
    )
  }
}

/** An error as one log-safe line: no URL credentials, bounded length. */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/\/\/[^/\s@]*@/g, '//[redacted]@').slice(0, 500)
}
