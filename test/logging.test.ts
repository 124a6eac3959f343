// Network rule of this file: only 127.0.0.1 and the servers it starts (the app, a callback receiver,
// an SMTP server).
import http from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import { Writable } from 'node:stream'
import { SMTPServer } from 'smtp-server'
import t from 'tap'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import type { AppDeps } from '../src/context.js'
import { createSecretBox } from '../src/crypto/secret-box.js'
import { loggerOptions, logSafeUrl, maskPersonalText, redactUrl } from '../src/http/logging.js'
import {
  ADMIN_TOKEN,
  admin,
  call,
  createKeys,
  createTestDatabase,
  manualClock,
  TEST_SECRET,
} from './helpers.js'

const SERVICE = 'sms-logs12345-1'
/** Every phone number and text this file sends: none may appear in a log line. */
const NUMBERS = ['33601020304', '33601020305', '33601020306', '33601020307', '33601020308'] as const
const TEXTS = ['confidential-text-alpha', 'confidential-text-beta', 'confidential-text-gamma'] as const
const EMAIL = 'jane.doe@example.com'

function capture() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { lines, stream }
}

const logs = capture()
const { database, config } = await createTestDatabase(t)
const owner = await createOwner(database.db, 'logs')
const account = await createAccount(database.db, { ownerId: owner.id, serviceName: SERVICE, credits: 1000 })
await database.db
  .insertInto('senders')
  .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
  .execute()

/** A real SMTP server that refuses every recipient, quoting the address as servers do. */
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onRcptTo(address, _session, callback) {
    callback(
      Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 }),
    )
  },
})
await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()))
t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())))
const smtpPort = (smtp.server.address() as AddressInfo).port

/** A callback receiver that fails every call: the dispatcher records (and may log) the outcome. */
const received: URL[] = []
const receiver = http.createServer((req, res) => {
  received.push(new URL(req.url ?? '/', 'http://127.0.0.1'))
  res.statusCode = 500
  res.end(`cannot handle ${req.url}`)
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
t.teardown(() => {
  receiver.closeAllConnections()
  receiver.close()
})
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

const clock = manualClock(new Date())
const deps: AppDeps = {
  config: {
    ...config,
    adminToken: ADMIN_TOKEN,
    callbacks: { ...config.callbacks, allowPrivate: true, scheduleMs: [1000], timeoutMs: 2000 },
    alerts: { smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'alerts@example.net', retryScheduleMs: [] },
  },
  database,
  secretBox: createSecretBox(TEST_SECRET),
  clock,
}
// Level trace: personal data stays out of every level unless LOG_PERSONAL_DATA=true.
const app = await buildApp(deps, {
  logger: { ...loggerOptions('trace'), stream: logs.stream },
  workers: false,
})
t.teardown(() => app.close())
await app.listen({ port: 0, host: '127.0.0.1' })
const keys = await createKeys(app, owner.id, [
  { method: 'GET', path: '/*' },
  { method: 'POST', path: '/*' },
  { method: 'PUT', path: '/*' },
  { method: 'DELETE', path: '/*' },
])
const base = `/1.0/sms/${SERVICE}`
const signed = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) =>
  call(app, method, url, body, keys)

t.test('sends, http2sms, STOP replies, callbacks and alerts log no number, text or address', async (t) => {
  t.equal((await signed('POST', `${base}/users`, { login: 'logsuser1', password: 'abcd1234' })).status, 200)
  const put = await signed('PUT', `${base}/users/logsuser1`, {
    callBack: `${receiverUrl}/dlr`,
    stopCallBack: `${receiverUrl}/stop`,
    alertThresholdInformations: {
      alertThreshold: 998,
      support: 'both',
      alertEmail: EMAIL,
      alertNumber: `+${NUMBERS[4]}`,
    },
    quotaInformations: { quotaStatus: 'active', quotaLeft: 1000 },
  })
  t.equal(put.status, 200)

  const job = await signed('POST', `${base}/users/logsuser1/jobs`, {
    message: TEXTS[0],
    receivers: [`+${NUMBERS[0]}`],
    sender: 'ACME',
  })
  t.equal(job.status, 200)
  const refused = await signed('POST', `${base}/users/logsuser1/jobs`, {
    message: TEXTS[0],
    receivers: ['+12'],
    sender: `00${NUMBERS[1]}`,
  })
  t.equal(refused.status, 400, 'a refused send (its message quotes the sender)')

  const query = new URLSearchParams({
    account: SERVICE,
    login: 'logsuser1',
    password: 'abcd1234',
    from: 'ACME',
    to: `00${NUMBERS[1]}`,
    message: TEXTS[1],
  })
  const http2sms = await app.inject({ method: 'GET', url: `/cgi-bin/sms/http2sms.cgi?${query}` })
  t.match(http2sms.body, /^OK/)
  const form = await app.inject({
    method: 'POST',
    url: '/cgi-bin/sms/http2sms.cgi',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: query.toString().replace(TEXTS[1], TEXTS[2]),
  })
  t.match(form.body, /^OK/)

  await app.sendingWorker.runOnce()
  const filtered = await signed('GET', `${base}/outgoing?receiver=%2B${NUMBERS[0]}&sender=ACME`)
  t.equal(filtered.status, 200)
  t.equal(filtered.body.length, 1, 'the history filter found the send')

  const stop = await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, {
    sender: `+${NUMBERS[0]}`,
    message: 'STOP',
  })
  t.equal(stop.status, 200)
  const blacklisted = await signed('GET', `${base}/blacklists/%2B${NUMBERS[0]}`)
  t.equal(blacklisted.status, 200)
  t.equal((await signed('GET', `${base}/blacklist/%2B${NUMBERS[0]}`)).status, 404, 'a mistyped route')
  t.equal((await signed('GET', `${base}/blacklists/00${NUMBERS[2]}`)).status, 404)

  while ((await app.callbackDispatcher.runOnce()) > 0) {}
  t.ok(
    received.some((url) => url.pathname === '/stop' && url.searchParams.get('sender') === `+${NUMBERS[0]}`),
    'the stopCallBack was called with the number',
  )
  t.ok(
    received.some((url) => url.pathname === '/dlr'),
    'the callBack was called',
  )

  await app.alertDispatcher.runOnce()
  const alerts = await database.db.selectFrom('alerts').select(['mail_state', 'last_error']).execute()
  t.match(alerts, [{ mail_state: 'failed' }], 'the SMTP server refused the alert mail')
  t.match(alerts[0]?.last_error, new RegExp(EMAIL.replace('.', '\\.')), 'its refusal quotes the address')

  // A real database error whose detail echoes the value (a duplicate key).
  const duplicate = await database.db
    .insertInto('blacklist')
    .values({
      account_id: account.id,
      number: `+${NUMBERS[0]}`,
      batch_id: null,
      sms_outgoing_id: null,
      created_at: new Date(),
    })
    .execute()
    .then(
      () => null,
      (error: unknown) => error,
    )
  t.match(duplicate, { detail: new RegExp(NUMBERS[0]) }, 'PostgreSQL quotes the number')
  app.log.error({ err: duplicate }, 'a database error')

  // A request line Node cannot parse: Fastify logs the client error with the raw bytes.
  const { port } = app.server.address() as AddressInfo
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET /cgi-bin/sms/http2sms.cgi?to=%2B${NUMBERS[3]}&message=${TEXTS[2]} HTTP/1.1\r\nBad Header\r\n\r\n`,
      ),
    )
    socket.on('data', () => {})
    socket.on('close', () => resolve())
  })

  const text = logs.lines.join('')
  t.ok(logs.lines.length > 20, `the log stream was captured (${logs.lines.length} lines)`)
  t.match(
    text,
    /"url":"\/cgi-bin\/sms\/http2sms\.cgi\?account=sms-logs12345-1&login=logsuser1/,
    'URLs are still logged',
  )
  t.match(text, /blacklists\/\[redacted\]/)
  t.match(text, /a database error/)
  for (const secret of [...NUMBERS, ...TEXTS, EMAIL, 'abcd1234']) {
    const line = logs.lines.find((l) => l.includes(secret))
    t.notOk(line, `${secret} is not logged${line ? `: ${line}` : ''}`)
  }
})

t.test('LOG_PERSONAL_DATA=true shows them (the capture above can see them)', async (t) => {
  t.equal(loadConfig({ DATA_DIR: 'memory' }).logPersonalData, false, 'off by default')
  t.equal(loadConfig({ DATA_DIR: 'memory', LOG_PERSONAL_DATA: 'true' }).logPersonalData, true)
  const open = capture()
  const debugging = await buildApp(deps, {
    logger: { ...loggerOptions('info', { personalData: true }), stream: open.stream },
    workers: false,
  })
  t.teardown(() => debugging.close())
  const query = new URLSearchParams({
    account: SERVICE,
    login: 'logsuser1',
    password: 'abcd1234',
    from: 'ACME',
    to: `00${NUMBERS[1]}`,
    message: TEXTS[1],
  })
  await debugging.inject({ method: 'GET', url: `/cgi-bin/sms/http2sms.cgi?${query}` })
  const text = open.lines.join('')
  t.match(text, new RegExp(`to=00${NUMBERS[1]}`))
  t.match(text, new RegExp(`message=${TEXTS[1]}`))
  t.notMatch(text, /abcd1234/, 'secrets stay redacted')
})

t.test('logSafeUrl and maskPersonalText', async (t) => {
  t.equal(
    logSafeUrl('/cgi-bin/sms/http2sms.cgi?account=a&to=%2B33601020304&message=hi&password=x', {
      personalData: false,
    }),
    '/cgi-bin/sms/http2sms.cgi?account=a&to=%5Bredacted%5D&message=%5Bredacted%5D&password=%5Bredacted%5D',
  )
  t.equal(
    logSafeUrl('/1.0/sms/sms-a-1/blacklists/%2B33601020304', {
      personalData: false,
      route: '/1.0/sms/:serviceName/blacklists/:number',
    }),
    '/1.0/sms/sms-a-1/blacklists/[redacted]',
  )
  t.equal(
    logSafeUrl('/1.0/sms/sms-a-1/outgoing/1234567890', {
      personalData: false,
      route: '/1.0/sms/:serviceName/outgoing/:id',
    }),
    '/1.0/sms/sms-a-1/outgoing/1234567890',
    'ids of a matched route stay',
  )
  t.equal(logSafeUrl('/nowhere/0033601020304/x', { personalData: false }), '/nowhere/[redacted]/x')
  t.equal(
    logSafeUrl('/1.0/sms/sms-a-1/outgoing?ptt=4', { personalData: false }),
    '/1.0/sms/sms-a-1/outgoing?ptt=4',
  )
  t.equal(
    logSafeUrl('/x?tag=%2B33601020304', { personalData: false }),
    '/x?tag=%5Bredacted%5D',
    'a value that looks like a number, whatever its key',
  )
  t.equal(logSafeUrl('/x?to=1&token=2', { personalData: true }), '/x?to=1&token=%5Bredacted%5D')
  t.equal(redactUrl('/x?to=1'), '/x?to=1', 'redactUrl hides secrets only')
  t.equal(
    maskPersonalText('550 <jane.doe@example.com>: rejected; to +33601020304 or 0033601020304 at 10.0.0.1:25'),
    '550 <[email]>: rejected; to [number] or [number] at 10.0.0.1:25',
  )
  t.equal(
    maskPersonalText('at file:///work/node_modules/@fastify/swagger/index.js:12:3 (id 1764630000)'),
    'at file:///work/node_modules/@fastify/swagger/index.js:12:3 (id 1764630000)',
    'paths, ids and timestamps are left alone',
  )
})
