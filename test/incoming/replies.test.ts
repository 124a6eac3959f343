/**
 * smsResponse: an incoming SMS on an account with responseType cgi reaches a real local receiver with
 * the documented parameters (signed, retried); with text, the reply is an outgoing SMS charged to the
 * account; with none, nothing happens.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { signatureHeaders } from '../../src/dlr/signature.js'
import { receiveFromCarrier } from '../../src/incoming/receive.js'
import { admin, buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'

type Call = { url: URL; headers: http.IncomingHttpHeaders }

/** A real HTTP receiver on 127.0.0.1 answering `statuses` in turn (then 200). */
async function receiver(statuses: number[] = []) {
  const calls: Call[] = []
  const server = http.createServer((req, res) => {
    calls.push({ url: new URL(req.url ?? '/', 'http://127.0.0.1'), headers: req.headers })
    res.statusCode = statuses[calls.length - 1] ?? 200
    res.end()
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
  credits: 100,
  config: {
    callbacks: {
      dispatcherEnabled: true,
      concurrency: 4,
      scheduleMs: [1000, 2000],
      timeoutMs: 2000,
      allowPrivate: true,
    },
  },
})
const { db } = deps.database
const accountRow = { id: await accountIdOf(db, SERVICE) }
await enableSender(db, accountRow.id)
const account = `/1.0/sms/${SERVICE}`
const incomingUrl = `/admin/v1/accounts/${SERVICE}/incoming`
const creditsLeft = async () => (await call(app, 'GET', account)).body.creditsLeft as number
const drain = async () => {
  while ((await app.callbackDispatcher.runOnce()) > 0) {}
}

t.test(
  'responseType cgi: every incoming SMS calls cgiUrl with id, serviceName, sender, message, date, tag',
  async (t) => {
    const rx = await receiver([503])
    const { body: secret } = await admin(app, 'PUT', `/admin/v1/accounts/${SERVICE}/callback-secret`, {})
    t.equal(
      (await call(app, 'PUT', account, { smsResponse: { responseType: 'cgi', cgiUrl: rx.url('/mo?k=v') } }))
        .status,
      200,
    )
    const before = await creditsLeft()
    const received = await admin(app, 'POST', incomingUrl, {
      sender: '0033601020304',
      message: 'Oui, à 14h & merci',
      tag: 'rdv',
    })
    t.equal(received.status, 200)
    await drain()
    t.equal(rx.calls.length, 1, 'first attempt (answered 503)')
    clock.advance(1100) // the first delay, 1000 ms ± 10 % jitter
    await drain()
    t.equal(rx.calls.length, 2, 'retried after the first delay')
    const { url, headers } = rx.calls[1] as Call
    t.equal(url.pathname, '/mo')
    t.same(Object.fromEntries(url.searchParams), {
      k: 'v',
      id: String(received.body.id),
      serviceName: SERVICE,
      sender: '+33601020304',
      message: 'Oui, à 14h & merci',
      date: '2026-11-26 12:00:00',
      tag: 'rdv',
    })
    const id = headers['webhook-id'] as string
    const timestamp = Number(headers['webhook-timestamp'])
    t.equal(
      headers['webhook-signature'],
      signatureHeaders(secret.secret, id, timestamp)['webhook-signature'],
      'signed with the account’s callback secret',
    )
    t.equal(await creditsLeft(), before, 'nothing is charged')
    const rows = await db
      .selectFrom('callback_deliveries')
      .select(['kind', 'status'])
      .where('kind', '=', 'reply')
      .execute()
    t.same(rows, [{ kind: 'reply', status: 'delivered' }])
  },
)

t.test('responseType cgi: a private address is refused by the SSRF guard unless allowed', async (t) => {
  const guarded = await buildTestApp(t, {
    config: {
      callbacks: {
        dispatcherEnabled: true,
        concurrency: 1,
        scheduleMs: [1000],
        timeoutMs: 2000,
        allowPrivate: false,
      },
    },
  })
  const rx = await receiver()
  await call(guarded.app, 'PUT', `/1.0/sms/${SERVICE}`, {
    smsResponse: { responseType: 'cgi', cgiUrl: rx.url('/mo') },
  })
  await admin(guarded.app, 'POST', incomingUrl, { sender: '+33601020304', message: 'hi' })
  while ((await guarded.app.callbackDispatcher.runOnce()) > 0) {}
  t.equal(rx.calls.length, 0, 'never called')
  const row = await guarded.deps.database.db
    .selectFrom('callback_deliveries')
    .select(['kind', 'status'])
    .executeTakeFirstOrThrow()
  t.same(row, { kind: 'reply', status: 'failed' })
})

t.test('responseType text: the reply is an outgoing SMS charged to the account', async (t) => {
  t.equal(
    (
      await call(app, 'PUT', account, {
        smsResponse: { responseType: 'text', text: 'Merci, nous vous rappelons.' },
      })
    ).status,
    200,
  )
  const sent = await call(app, 'POST', `${account}/jobs`, {
    message: 'Rappel RDV',
    receivers: ['+33611223344'],
    sender: 'ACME',
  })
  t.equal(sent.status, 200)
  const before = await creditsLeft()
  const received = await receiveFromCarrier(
    db,
    'simulator',
    [{ from: '33611223344', to: 'ACME', text: 'ok', at: clock.now() }],
    clock.now(),
    { write: app.sending.write },
  )
  t.same(received, { received: 1, waiting: 0, unattributed: 0 })
  t.equal(await creditsLeft(), before - 1, 'one SMS (1 credit) charged to the account')
  const replies = () =>
    db.selectFrom('outgoing').select(['id', 'login']).where('tag', '=', 'smsResponse').execute()
  const [reply] = await replies()
  t.equal(reply?.login, null, 'an account-level SMS')
  await app.sendingWorker.runOnce() // hands it to the simulator carrier
  t.match((await call(app, 'GET', `${account}/outgoing/${reply?.id}`)).body, {
    receiver: '+33611223344',
    sender: 'ACME',
    message: 'Merci, nous vous rappelons.',
    tag: 'smsResponse',
    credits: 1,
  })

  const stop = await admin(app, 'POST', incomingUrl, { sender: '+33611223344', message: 'STOP' })
  t.equal(stop.status, 200)
  t.equal(
    (await call(app, 'GET', `${account}/outgoing?tag=smsResponse`)).body.length,
    1,
    'no reply to a STOP',
  )
  t.equal(await creditsLeft(), before - 1)
})

t.test('responseType text with no credits left: the message is received, no reply is sent', async (t) => {
  await db.updateTable('accounts').set({ credits_left: 0 }).where('id', '=', accountRow.id).execute()
  t.teardown(() =>
    db.updateTable('accounts').set({ credits_left: 10_000 }).where('id', '=', accountRow.id).execute(),
  )
  const received = await admin(app, 'POST', incomingUrl, { sender: '+33699887766', message: 'allo' })
  t.equal(received.status, 200)
  t.equal((await call(app, 'GET', `${account}/incoming/${received.body.id}`)).status, 200)
  const sentTo = await db.selectFrom('outgoing').select('id').where('receiver', '=', '+33699887766').execute()
  t.equal(sentTo.length, 0)
})

t.test('responseType none: nothing is called, nothing is sent', async (t) => {
  await call(app, 'PUT', account, { smsResponse: { responseType: 'none' } })
  const deliveries = async () => (await db.selectFrom('callback_deliveries').select('id').execute()).length
  const outgoing = async () => (await db.selectFrom('outgoing').select('id').execute()).length
  const [d, o] = [await deliveries(), await outgoing()]
  t.equal((await admin(app, 'POST', incomingUrl, { sender: '+33601020304', message: 'hello' })).status, 200)
  t.same([await deliveries(), await outgoing()], [d, o])
})
