import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { Agent } from 'undici'
import { CallbackDispatcher } from '../../src/dlr/dispatcher.js'
import { admin, buildTestApp, call, SERVICE } from '../helpers.js'
import { rawText, refusing, watchUnhandled } from '../support/outage.js'
import type { Teardown } from '../support/teardown.js'

/** A real callback receiver on 127.0.0.1 whose answer per call is decided by `behaviour`. */
async function receiver(behaviour: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const calls: URL[] = []
  const server = http.createServer((req, res) => {
    calls.push(new URL(req.url ?? '/', 'http://127.0.0.1'))
    behaviour(calls.length, req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { calls, url: (path: string) => `http://127.0.0.1:${port}${path}` }
}

const { app, deps, clock } = await buildTestApp(t, {
  credits: 1000,
  config: {
    callbacks: {
      dispatcherEnabled: true,
      concurrency: 10,
      scheduleMs: [1000, 2000, 4000],
      // Shorter, a loaded machine that pauses this process between a quick receiver's answer and
      // its reading turns the answer into a timeout (the timer is handled before the socket).
      timeoutMs: 2000,
      allowPrivate: true,
    },
  },
})
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

let userCount = 0
/** A user whose callBack is `url`, and one SMS sent by it; returns its id. */
async function sendWithCallback(url: string): Promise<{ id: number; login: string }> {
  const login = `dlruser${++userCount}`
  await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login, password: 'abcd1234' })
  await call(app, 'PUT', `/1.0/sms/${SERVICE}/users/${login}`, { callBack: url })
  const sent = await call(app, 'POST', `/1.0/sms/${SERVICE}/users/${login}/jobs`, {
    message: 'hello',
    receivers: ['+33601020304'],
    sender: 'ACME',
  })
  return { id: sent.body.ids[0], login }
}

const deliverAll = async () => {
  await app.sendingWorker.runOnce()
  while ((await app.callbackDispatcher.runOnce()) > 0) {}
}
const deliveries = (outgoingId: number) =>
  db
    .selectFrom('callback_deliveries')
    .selectAll()
    .where('outgoing_id', '=', outgoingId)
    .orderBy('id')
    .execute()

t.test('a receiver that acks gets ptt 3 then ptt 4, its own query kept, in order', async (t) => {
  const rx = await receiver((_n, _req, res) => res.end('ok'))
  const { id } = await sendWithCallback(rx.url('/dlr?token=abc&x=1'))
  await deliverAll()
  clock.advance(1000)
  await deliverAll()
  t.equal(rx.calls.length, 2)
  const [first, second] = rx.calls
  t.equal(first?.searchParams.get('token'), 'abc', 'the URL keeps its own parameters')
  t.equal(first?.searchParams.get('x'), '1')
  t.same(
    [first?.searchParams.get('id'), first?.searchParams.get('ptt'), first?.searchParams.get('description')],
    [String(id), '3', '8'],
  )
  t.equal(first?.searchParams.get('descriptionDlr'), 'Buffered')
  t.same(
    [
      second?.searchParams.get('ptt'),
      second?.searchParams.get('description'),
      second?.searchParams.get('descriptionDlr'),
    ],
    ['4', '1', 'Success'],
  )
  t.match(second?.searchParams.get('date'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
  t.same(
    (await deliveries(id)).map((d) => [d.status, d.attempts]),
    [
      ['delivered', 1],
      ['delivered', 1],
    ],
  )
})

t.test('500 then 200: retried on the schedule, later reports wait in order', async (t) => {
  const rx = await receiver((n, _req, res) => {
    res.statusCode = n === 1 ? 500 : 200
    res.end()
  })
  const { id } = await sendWithCallback(rx.url('/dlr'))
  await deliverAll()
  t.equal(rx.calls.length, 1, 'first attempt failed')
  clock.advance(1000) // ptt 4 becomes due, and so does the retry of ptt 3 (1 s ± 10 %)?
  await deliverAll()
  clock.advance(200)
  await deliverAll()
  t.same(
    rx.calls.map((u) => u.searchParams.get('ptt')),
    ['3', '3', '4'],
    'ptt 3 retried, ptt 4 only after it',
  )
  t.same(
    (await deliveries(id)).map((d) => [d.status, d.attempts]),
    [
      ['delivered', 2],
      ['delivered', 1],
    ],
  )
})

t.test('a hanging receiver times out and is retried, then failed (dead letter) and replayable', async (t) => {
  let hang = true
  const rx = await receiver((_n, _req, res) => {
    if (!hang) res.end('ok')
  })
  const { id } = await sendWithCallback(rx.url('/slow'))
  await admin(app, 'PUT', '/admin/v1/simulator/rules', [
    { receiver: '.*', steps: [{ ptt: 3, dlr: 8, afterMs: 0 }] },
  ])
  await app.sendingWorker.runOnce()
  // The app's schedule with a short timeout: this receiver never answers, so it cannot misfire.
  const impatient = dispatcherOn(t, db, { concurrency: 10, timeoutMs: 200, scheduleMs: [1000, 2000, 4000] })
  for (const wait of [0, 1100, 2200, 4400]) {
    clock.advance(wait)
    await impatient.runOnce()
  }
  await admin(app, 'PUT', '/admin/v1/simulator/rules', [
    {
      receiver: '.*',
      steps: [
        { ptt: 3, dlr: 8, afterMs: 0 },
        { ptt: 4, dlr: 1, afterMs: 1000 },
      ],
    },
  ])
  t.equal(rx.calls.length, 4, 'one try and three retries')
  const [dead] = await deliveries(id)
  t.match(dead, { status: 'failed', attempts: 4 })
  t.match(dead?.last_error, /last attempt/)
  const listed = await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/callbacks?status=failed`)
  t.ok(
    listed.body.some((d: { id: number }) => d.id === dead?.id),
    'visible as a dead letter',
  )
  hang = false
  t.same((await admin(app, 'POST', `/admin/v1/callbacks/${dead?.id}/replay`)).body, {
    id: dead?.id,
    status: 'pending',
  })
  await app.callbackDispatcher.runOnce()
  t.equal(rx.calls.length, 5)
  t.match((await deliveries(id))[0], { status: 'delivered', attempts: 1 })
  t.equal((await admin(app, 'POST', '/admin/v1/callbacks/999999/replay')).status, 404)
})

t.test('404 is a permanent failure; 410 stops retrying; 429 honours Retry-After', async (t) => {
  const notFound = await receiver((_n, _req, res) => {
    res.statusCode = 404
    res.end()
  })
  const gone = await receiver((_n, _req, res) => {
    res.statusCode = 410
    res.end()
  })
  const busy = await receiver((n, _req, res) => {
    res.statusCode = n === 1 ? 429 : 200
    if (n === 1) res.setHeader('retry-after', '30')
    res.end()
  })
  const a = await sendWithCallback(notFound.url('/x'))
  const b = await sendWithCallback(gone.url('/x'))
  await sendWithCallback(busy.url('/x'))
  await deliverAll()
  clock.advance(5000)
  await deliverAll()
  const ptt3 = (calls: URL[]) => calls.filter((u) => u.searchParams.get('ptt') === '3').length
  t.equal(ptt3(notFound.calls), 1, '404 not retried')
  t.match((await deliveries(a.id))[0], { status: 'failed', last_status: 404 })
  t.equal(ptt3(gone.calls), 1, '410 not retried')
  t.match((await deliveries(b.id))[0], { status: 'gone', last_status: 410 })
  t.equal(busy.calls.length, 1, 'still waiting for Retry-After (30 s) although the schedule says 1 s')
  clock.advance(30_000)
  await deliverAll()
  t.equal(busy.calls.length, 3, 'then ptt 3 again and ptt 4')
})

t.test('no callBack on the user: the account’s is used; none at all: nothing queued', async (t) => {
  const rx = await receiver((_n, _req, res) => res.end())
  await call(app, 'PUT', `/1.0/sms/${SERVICE}`, { callBack: rx.url('/account') })
  await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login: 'nocallback', password: 'abcd1234' })
  const sent = await call(app, 'POST', `/1.0/sms/${SERVICE}/users/nocallback/jobs`, {
    message: 'x',
    receivers: ['+33601020305'],
    sender: 'ACME',
  })
  await deliverAll()
  t.equal(rx.calls[0]?.pathname, '/account')
  await call(app, 'PUT', `/1.0/sms/${SERVICE}`, { callBack: null })
  clock.advance(1000)
  await deliverAll()
  t.equal((await deliveries(sent.body.ids[0])).length, 1, 'ptt 4 found no URL any more')
})

t.test('STOP replies blacklist the number and call the stopCallBack', async (t) => {
  const rx = await receiver((_n, _req, res) => res.end())
  const { login, id } = await sendWithCallback(rx.url('/dlr'))
  await call(app, 'PUT', `/1.0/sms/${SERVICE}/users/${login}`, { stopCallBack: rx.url('/stop?k=v') })
  const before = rx.calls.length
  const reply = await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, {
    sender: '+33601020304',
    message: ' stop ',
  })
  await app.callbackDispatcher.runOnce()
  const stop = rx.calls.slice(before).find((u) => u.pathname === '/stop')
  t.ok(stop, 'the stopCallBack was called')
  t.same(
    [
      stop?.searchParams.get('k'),
      stop?.searchParams.get('id'),
      stop?.searchParams.get('sender'),
      stop?.searchParams.get('message'),
    ],
    ['v', String(reply.body.id), '+33601020304', ' stop '],
  )
  t.same((await call(app, 'GET', `/1.0/sms/${SERVICE}/blacklists`)).body, ['+33601020304'])
  t.match((await call(app, 'GET', `/1.0/sms/${SERVICE}/blacklists/0033601020304`)).body, {
    number: '+33601020304',
    smsOutgoingID: id,
  })
  const refused = await call(app, 'POST', `/1.0/sms/${SERVICE}/users/${login}/jobs`, {
    message: 'again',
    receivers: ['+33601020304'],
    sender: 'ACME',
  })
  t.same(refused.body.invalidReceivers, ['+33601020304'], 'blacklisted numbers are refused')
  t.same((await call(app, 'DELETE', `/1.0/sms/${SERVICE}/blacklists/%2B33601020304`)).body, null)
  t.same((await call(app, 'GET', `/1.0/sms/${SERVICE}/blacklists`)).body, [])
  t.equal((await call(app, 'DELETE', `/1.0/sms/${SERVICE}/blacklists/%2B33601020304`)).status, 404)
})

t.test('signed callbacks verify with the Standard Webhooks reference library', async (t) => {
  const { Webhook } = await import('standardwebhooks')
  const headers: http.IncomingHttpHeaders[] = []
  const rx = await receiver((_n, req, res) => {
    headers.push(req.headers)
    res.end()
  })
  const set = await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/callback-secret`, {})
  t.match(set.body.secret, /^whsec_/)
  const { login } = await sendWithCallback(rx.url('/signed'))
  await app.sendingWorker.runOnce()
  await app.callbackDispatcher.runOnce()
  const first = headers[0] ?? {}
  t.match(first['webhook-id'], /^msg_\d+$/)
  t.equal(first['webhook-timestamp'], String(Math.floor(clock.now().getTime() / 1000)))
  const verifier = new Webhook(set.body.secret)
  // The library checks the timestamp against the real clock: verify at the message's own time.
  const realNow = Date.now
  Date.now = () => clock.now().getTime()
  try {
    t.doesNotThrow(() =>
      verifier.verify('', {
        'webhook-id': String(first['webhook-id']),
        'webhook-timestamp': String(first['webhook-timestamp']),
        'webhook-signature': String(first['webhook-signature']),
      }),
    )
    t.throws(() =>
      new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(
        '',
        first as Record<string, string>,
      ),
    )
  } finally {
    Date.now = realNow
  }

  const userSecret = await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/users/${login}/callback-secret`, {
    secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
  })
  t.equal(userSecret.status, 200)
  const bad = await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/callback-secret`, { secret: 'short' })
  t.same(
    [bad.status, bad.body.message],
    [400, 'Invalid secret: expected whsec_ followed by the base64 of 24 to 64 bytes'],
  )
  t.same((await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/callback-secret`, { secret: null })).body, {
    secret: null,
  })
  t.equal(
    (await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/users/nobody99/callback-secret`, {})).status,
    404,
  )
})

/** A dispatcher of its own on `on` (a database with an injected outage), run by hand (no loop). */
function dispatcherOn(
  t: Teardown,
  on: typeof db,
  options: { concurrency: number; batch?: number; timeoutMs?: number; scheduleMs?: number[] },
) {
  const agent = new Agent()
  t.teardown(() => agent.close())
  return new CallbackDispatcher({
    db: on,
    agent,
    clock,
    log: app.log,
    scheduleMs: [1000],
    timeoutMs: 2000,
    pollMs: 60_000,
    ...options,
  })
}

t.test('the database going away while calls are in flight fails the run, never the process', async (t) => {
  // Every statement fails while `down` (what a PostgreSQL shutdown does to the pool), through a
  // plugin on the same database.
  let down = false
  const faulty = db.withPlugin(refusing(() => down))
  const unhandled = watchUnhandled(t)

  let release: () => void = () => {}
  const answered = new Promise<void>((resolve) => {
    release = resolve
  })
  let called: () => void = () => {}
  const reached = new Promise<void>((resolve) => {
    called = resolve
  })
  const rx = await receiver((_n, _req, res) => {
    called()
    void answered.then(() => res.end('ok'))
  })
  const { id } = await sendWithCallback(rx.url('/dlr'))
  await app.sendingWorker.runOnce()
  const dispatcher = dispatcherOn(t, faulty, { concurrency: 10 })
  const run = dispatcher.runOnce()
  await reached
  // A NOTIFY during the calls: the run claims again when they end, and that claim fails; so does
  // the record of the batch called.
  dispatcher.nudge()
  down = true
  release()
  await t.rejects(run, /Connection terminated unexpectedly/)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [], 'no rejection left unobserved (Node would end the process)')
  down = false

  t.same(
    (await deliveries(id)).map((d) => [d.status, d.attempts]),
    [['pending', 1]],
    'the outcome was not recorded: the row stays claimed',
  )
  clock.advance(60_000)
  await deliverAll()
  t.same(
    (await deliveries(id)).map((d) => [d.status, d.attempts]),
    [
      ['delivered', 2],
      ['delivered', 1],
    ],
    'claimed again once its lease lapsed and delivered, then the next report',
  )
  t.same(
    rx.calls.map((c) => c.searchParams.get('ptt')),
    ['3', '3', '4'],
  )
})

t.test('a record refused while the run waits for a call fails the run, never the process', async (t) => {
  // Only the statement that records outcomes fails (claims still answer), so the refusal comes while
  // the run is busy with later batches: one delivery per batch, one call at a time.
  const recordsRefused = db.withPlugin(
    refusing((node) => rawText(node).includes('update callback_deliveries as d')),
  )
  const unhandled = watchUnhandled(t)

  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  let secondCall: () => void = () => {}
  const second = new Promise<void>((resolve) => {
    secondCall = resolve
  })
  // The second call waits; the others are answered at once.
  const rx = await receiver((n, _req, res) => {
    if (n !== 2) return res.end('ok')
    secondCall()
    void held.then(() => res.end('ok'))
  })
  const sent = [
    await sendWithCallback(rx.url('/a')),
    await sendWithCallback(rx.url('/b')),
    await sendWithCallback(rx.url('/c')),
  ]
  await app.sendingWorker.runOnce()
  const dispatcher = dispatcherOn(t, recordsRefused, { concurrency: 1, batch: 1 })
  const run = dispatcher.runOnce()
  await second
  // The first batch's record was refused by now (it began when the first call ended, before the
  // second call was made) while the run waits for the second call to free the only slot; a few
  // turns for a rejection nobody handled to surface.
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
  t.same(unhandled, [], 'no rejection left unobserved while the run goes on')
  release()
  await t.rejects(run, /Connection terminated unexpectedly/, 'the run fails once its calls have ended')
  t.same(unhandled, [])

  // The first report (ptt 3) of each SMS, as the row of its delivery says.
  const firstReports = async () =>
    Promise.all(sent.map(async ({ id }) => (await deliveries(id))[0])).then((rows) =>
      rows.map((d) => [d?.status, d?.attempts]),
    )
  t.same(
    await firstReports(),
    [
      ['pending', 1],
      ['pending', 1],
      ['pending', 1],
    ],
    'no outcome recorded: the rows stay leased',
  )
  clock.advance(60_000)
  await deliverAll()
  t.same(
    await firstReports(),
    [
      ['delivered', 2],
      ['delivered', 2],
      ['delivered', 2],
    ],
    'claimed again once their lease lapsed, and delivered',
  )
})
