import { type AddressInfo, createServer } from 'node:net'
import { Writable } from 'node:stream'
import pino from 'pino'
import { SMTPServer } from 'smtp-server'
import t, { type Test } from 'tap'
import { AlertDispatcher, type SendAlertSms, sendAlertSmsWith } from '../../src/alerts/dispatcher.js'
import { type MailSender, smtpMailSender } from '../../src/alerts/mail.js'
import { parseDurations } from '../../src/durations.js'
import { badRequest } from '../../src/errors.js'
import { createSendQueue } from '../../src/sending/service.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps, clock } = await buildTestApp(t, { credits: 100 })
const { db } = deps.database
const account = await db
  .selectFrom('accounts')
  .select('id')
  .where('service_name', '=', SERVICE)
  .executeTakeFirstOrThrow()
await db
  .insertInto('senders')
  .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
  .execute()

const base = `/1.0/sms/${SERVICE}`

/** Every log line the dispatchers write, to check no secret leaks. */
const logLines: string[] = []
const log = pino(
  { level: 'trace' },
  new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk))
      done()
    },
  }),
)

type Tap = Pick<Test, 'equal'>

type Received = { user: string | undefined; to: string[]; raw: string }

/** A real SMTP server on 127.0.0.1; `reject` answers 451 to every message. */
async function smtpServer(options: { reject?: boolean } = {}) {
  const messages: Received[] = []
  let attempts = 0
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === 's3cret-smtp-pass') {
        callback(null, { user: auth.username })
      } else callback(new Error('bad credentials'))
    },
    onData(stream, session, callback) {
      attempts++
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        if (options.reject) {
          const error = Object.assign(new Error('mailbox unavailable'), { responseCode: 451 })
          callback(error)
          return
        }
        messages.push({
          user: session.user as string | undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          // quoted-printable soft line breaks
          raw: Buffer.concat(chunks).toString('utf8').replace(/=\r\n/g, ''),
        })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.server.address() as AddressInfo).port
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port, messages, attempts: () => attempts }
}

const sending = { queue: createSendQueue(db, deps.config.rates), clock }

function dispatcher(mail: MailSender | null, sendSms: SendAlertSms = sendAlertSmsWith(sending)) {
  return new AlertDispatcher({
    db,
    clock,
    log,
    mail,
    sendSms,
    options: { pollMs: 50, retrySchedule: [1000, 2000] },
  })
}

function mailer(port: number) {
  const sender = smtpMailSender({
    url: `smtp://alerts:s3cret-smtp-pass@127.0.0.1:${port}`,
    from: 'sms-mirror <alerts@example.net>',
    timeoutMs: 5000,
  })
  t.teardown(() => sender.close())
  return sender
}

/** A user with a quota and an alert limit. */
async function alertUser(
  t: Tap,
  login: string,
  quotaLeft: number,
  alert: { support: 'mail' | 'sms' | 'both'; alertEmail?: string | null; alertNumber?: string | null },
) {
  t.equal((await call(app, 'POST', `${base}/users`, { login, password: 'abcd1234' })).status, 200)
  const put = await call(app, 'PUT', `${base}/users/${login}`, {
    alertThresholdInformations: { alertThreshold: 5, ...alert },
    quotaInformations: { quotaStatus: 'active', quotaLeft },
  })
  t.equal(put.status, 200)
  return {
    send: async () => {
      const response = await call(app, 'POST', `${base}/users/${login}/jobs`, {
        message: 'hi',
        receivers: ['+33611111111'],
        sender: 'ACME',
      })
      t.equal(response.status, 200, `${login} sends`)
      return response
    },
    quotaLeft: async () =>
      (await call(app, 'GET', `${base}/users/${login}`)).body.quotaInformations.quotaLeft,
    alerts: () => db.selectFrom('alerts').selectAll().where('login', '=', login).orderBy('id').execute(),
  }
}

const creditsLeft = async () => (await call(app, 'GET', base)).body.creditsLeft

t.test('one mail per crossing of the threshold, again after the quota is raised', async (t) => {
  const smtp = await smtpServer()
  const mail = mailer(smtp.port)
  // Two replicas: a claimed alert is never sent twice.
  const first = dispatcher(mail)
  const second = dispatcher(mail)
  const runBoth = () => Promise.all([first.runOnce(), second.runOnce()])
  const user = await alertUser(t, 'mailer01', 10, { support: 'mail', alertEmail: 'ops@example.com' })

  for (let i = 0; i < 4; i++) await user.send()
  await runBoth()
  t.equal(await user.quotaLeft(), 6)
  t.equal(smtp.messages.length, 0, 'above the threshold: no mail')

  await user.send()
  t.equal(await user.quotaLeft(), 5)
  await runBoth()
  t.equal(smtp.messages.length, 1, 'the crossing send alerts once')
  const message = smtp.messages[0]
  t.same(message?.to, ['ops@example.com'])
  t.equal(message?.user, 'alerts', 'authenticated with the URL credentials')
  t.match(message?.raw, /^Subject: SMS quota alert: user mailer01 of sms-ab12345-1 has 5 credits left/m)
  t.match(message?.raw, /^From: "sms-mirror" <alerts@example\.net>/m)
  t.match(message?.raw, /"mailer01" of the SMS account sms-ab12345-1 has 5 credits left/)
  t.match(message?.raw, /alert threshold of 5 credits/)
  t.match(await user.alerts(), [{ mail_state: 'sent', sms_state: 'none', attempts: 1, last_error: null }])

  await user.send()
  t.equal(await user.quotaLeft(), 4)
  await runBoth()
  clock.advance(3_600_000)
  await runBoth()
  t.equal(smtp.messages.length, 1, 'below the threshold: no more mail')

  const raised = await call(app, 'PUT', `${base}/users/mailer01`, { quotaInformations: { quotaLeft: 10 } })
  t.equal(raised.status, 200)
  for (let i = 0; i < 4; i++) await user.send()
  await runBoth()
  t.equal(smtp.messages.length, 1, 'above the threshold again: no mail')
  await user.send()
  await user.send()
  t.equal(await user.quotaLeft(), 4)
  await runBoth()
  t.equal(smtp.messages.length, 2, 'crossing again alerts once more')
  t.equal((await user.alerts()).length, 2)
  t.notOk(
    logLines.some((line) => line.includes('s3cret-smtp-pass')),
    'the SMTP password is never logged',
  )
})

t.test('a failing SMTP server is retried per the schedule, then failed; sends go on', async (t) => {
  const smtp = await smtpServer({ reject: true })
  const run = dispatcher(mailer(smtp.port))
  const user = await alertUser(t, 'mailer02', 6, { support: 'mail', alertEmail: 'ops@example.com' })
  await user.send()
  const started = clock.now().getTime()
  t.equal(await run.runOnce(), 1)
  t.equal(smtp.attempts(), 1)
  let [alert] = await user.alerts()
  t.match(alert, { mail_state: 'pending', attempts: 1, last_error: /451 mailbox unavailable/ })
  t.equal(alert?.next_attempt_at.getTime(), started + 1000, '1st wait of the schedule')

  await user.send()
  t.equal(await user.quotaLeft(), 4, 'the send path does not care about SMTP')
  clock.advance(999)
  await run.runOnce()
  t.equal(smtp.attempts(), 1, 'not before its time')
  clock.advance(1)
  await run.runOnce()
  t.equal(smtp.attempts(), 2)
  ;[alert] = await user.alerts()
  t.match(alert, { mail_state: 'pending', attempts: 2 })
  t.equal(alert?.next_attempt_at.getTime(), clock.now().getTime() + 2000, '2nd wait of the schedule')

  clock.advance(2000)
  await run.runOnce()
  t.equal(smtp.attempts(), 3)
  ;[alert] = await user.alerts()
  t.match(alert, { mail_state: 'failed', attempts: 3, last_error: /451/ })
  clock.advance(86_400_000)
  t.equal(await run.runOnce(), 0)
  t.equal(smtp.attempts(), 3, 'no try after the last')
})

t.test('a closed SMTP port is retried too', async (t) => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()))
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const run = dispatcher(mailer(port))
  const user = await alertUser(t, 'mailer03', 6, { support: 'mail', alertEmail: 'ops@example.com' })
  await user.send()
  await run.runOnce()
  t.match(await user.alerts(), [{ mail_state: 'pending', attempts: 1, last_error: /ECONNREFUSED/ }])
  clock.advance(1000)
  await run.runOnce()
  clock.advance(2000)
  await run.runOnce()
  t.match(await user.alerts(), [{ mail_state: 'failed', attempts: 3 }])
})

t.test('no alertEmail, or no SMTP configured: failed at once', async (t) => {
  const run = dispatcher(null)
  const user = await alertUser(t, 'mailer04', 6, { support: 'mail' })
  await user.send()
  await run.runOnce()
  t.match(await user.alerts(), [{ mail_state: 'failed', attempts: 1, last_error: 'no alertEmail' }])
  const other = await alertUser(t, 'mailer05', 6, { support: 'mail', alertEmail: 'ops@example.com' })
  await other.send()
  await run.runOnce()
  t.match(await other.alerts(), [{ mail_state: 'failed', last_error: /SMTP_URL/ }])
})

t.test('support sms: the alert SMS is paid by the account, not the user', async (t) => {
  const smtp = await smtpServer()
  const run = dispatcher(mailer(smtp.port))
  const user = await alertUser(t, 'texter01', 6, { support: 'sms', alertNumber: '+33699999901' })
  await user.send()
  t.equal(await user.quotaLeft(), 5)
  const before = await creditsLeft()
  await run.runOnce()
  t.equal(await creditsLeft(), before - 1, 'one credit from the account')
  t.equal(await user.quotaLeft(), 5, 'the quota is untouched')
  t.equal(smtp.messages.length, 0, 'no mail')
  t.match(await user.alerts(), [{ mail_state: 'none', sms_state: 'sent' }])
  const outgoing = await db
    .selectFrom('outgoing')
    .selectAll()
    .where('receiver', '=', '+33699999901')
    .execute()
  t.equal(outgoing.length, 1)
  t.match(outgoing[0], {
    account_id: account.id,
    login: null,
    spend_source: 'account',
    no_stop_clause: true,
    sender: 'ACME',
    message: /user texter01 of sms-ab12345-1 has 5 credits left \(threshold 5\)/,
  })
})

t.test('support both: a mail and an SMS', async (t) => {
  const smtp = await smtpServer()
  const run = dispatcher(mailer(smtp.port))
  const user = await alertUser(t, 'both0001', 6, {
    support: 'both',
    alertEmail: 'both@example.com',
    alertNumber: '+33699999902',
  })
  await user.send()
  const before = await creditsLeft()
  await run.runOnce()
  t.equal(smtp.messages.length, 1)
  t.same(smtp.messages[0]?.to, ['both@example.com'])
  t.equal(await creditsLeft(), before - 1)
  t.equal(
    (await db.selectFrom('outgoing').select('id').where('receiver', '=', '+33699999902').execute()).length,
    1,
  )
  t.match(await user.alerts(), [{ mail_state: 'sent', sms_state: 'sent', attempts: 1 }])
})

t.test('SMS: a 4xx is final, other errors are retried, no alertNumber fails', async (t) => {
  let calls = 0
  let failWith: Error = badRequest('Not enough credits: the account has 0 credits left, 1 needed')
  const run = dispatcher(null, async () => {
    calls++
    throw failWith
  })
  const broke = await alertUser(t, 'texter02', 6, { support: 'sms', alertNumber: '+33699999903' })
  await broke.send()
  await run.runOnce()
  t.equal(calls, 1)
  t.match(await broke.alerts(), [{ sms_state: 'failed', last_error: /^Not enough credits/ }])

  failWith = new Error('database went away')
  const flaky = await alertUser(t, 'texter03', 6, { support: 'sms', alertNumber: '+33699999904' })
  await flaky.send()
  await run.runOnce()
  t.match(await flaky.alerts(), [{ sms_state: 'pending', attempts: 1, last_error: 'database went away' }])
  clock.advance(1000)
  await run.runOnce()
  clock.advance(2000)
  await run.runOnce()
  t.equal(calls, 4)
  t.match(await flaky.alerts(), [{ sms_state: 'failed', attempts: 3 }])

  const nowhere = await alertUser(t, 'texter04', 6, { support: 'sms' })
  await nowhere.send()
  await run.runOnce()
  t.equal(calls, 4)
  t.match(await nowhere.alerts(), [{ sms_state: 'failed', last_error: 'no alertNumber' }])
})

t.test('ALERT_RETRY_SCHEDULE parsing', async (t) => {
  t.same(parseDurations('1m, 5m,30m,2h,6h'), [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000])
  t.same(parseDurations('500ms,2s,1500'), [500, 2000, 1500])
  t.throws(() => parseDurations('5 minutes'), /"5 minutes" is not a wait/)
  t.throws(() => parseDurations('8d'), /not a wait/)
})

t.test('start/nudge/stop deliver in the background', async (t) => {
  const smtp = await smtpServer()
  const run = dispatcher(mailer(smtp.port))
  const user = await alertUser(t, 'mailer06', 6, { support: 'mail', alertEmail: 'bg@example.com' })
  run.start()
  await user.send()
  run.nudge()
  for (let i = 0; i < 100 && smtp.messages.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  await run.stop()
  t.equal(smtp.messages.length, 1)
  t.match(await user.alerts(), [{ mail_state: 'sent' }])
})
