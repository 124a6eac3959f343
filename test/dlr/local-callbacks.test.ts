// Receiving callbacks locally: with the SSRF guard on (CALLBACK_ALLOW_PRIVATE unset), a callBack on a
// loopback/private host is refused when it is saved, with a message naming the variable; a delivery
// the guard refuses anyway (its URL saved while the guard was off) is final at once.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { admin, buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'

const callbacks = (allowPrivate: boolean) => ({
  dispatcherEnabled: true,
  concurrency: 10,
  scheduleMs: [1000, 2000],
  timeoutMs: 2000,
  allowPrivate,
})

const users = `/1.0/sms/${SERVICE}/users`

t.test('guard on: a loopback or private callBack is a 400 naming CALLBACK_ALLOW_PRIVATE', async (t) => {
  const { app } = await buildTestApp(t, { config: { callbacks: callbacks(false) } })
  t.equal((await call(app, 'POST', users, { login: 'local001', password: 'abcd1234' })).status, 200)
  const refused: [string, string][] = [
    ['http://127.0.0.1:8081/dlr', '127.0.0.1 is a non-public address (loopback)'],
    ['http://localhost:8081/dlr', 'localhost is a non-public address (loopback)'],
    ['http://api.localhost/dlr', 'api.localhost is a non-public address (loopback)'],
    ['http://[::1]/dlr', '[::1] is a non-public address (loopback)'],
    ['http://[::ffff:127.0.0.1]/dlr', 'is a non-public address (ipv4Mapped loopback)'],
    ['http://10.1.2.3/dlr', '10.1.2.3 is a non-public address (private)'],
    ['http://2130706433/dlr', '127.0.0.1 is a non-public address (loopback)'],
  ]
  for (const [url, what] of refused) {
    for (const field of ['callBack', 'stopCallBack']) {
      const answer = await call(app, 'PUT', `${users}/local001`, { [field]: url })
      t.equal(answer.status, 400, `${field} ${url}`)
      t.match(answer.body.message, `Invalid ${field}: host `)
      t.match(answer.body.message, what)
      t.match(
        answer.body.message,
        'use a public host, or set CALLBACK_ALLOW_PRIVATE=true on the server to receive callbacks locally',
      )
    }
  }
  const account = await call(app, 'PUT', `/1.0/sms/${SERVICE}`, { callBack: 'http://127.0.0.1/dlr' })
  t.equal(account.status, 400, 'the account callBack too')
  t.match(account.body.message, 'CALLBACK_ALLOW_PRIVATE=true')
  const user = await call(app, 'GET', `${users}/local001`)
  t.equal(user.body.callBack, null, 'nothing was saved')

  // A public name is not resolved at save time (the dispatcher checks what it resolves to per call).
  t.equal((await call(app, 'PUT', `${users}/local001`, { callBack: 'https://example.com/dlr' })).status, 200)
  t.equal((await call(app, 'PUT', `${users}/local001`, { callBack: 'http://203.0.114.1/dlr' })).status, 200)
})

t.test('guard off (CALLBACK_ALLOW_PRIVATE=true): a local callBack is saved and called', async (t) => {
  const { app, deps } = await buildTestApp(t, { config: { callbacks: callbacks(true) } })
  const calls: string[] = []
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '')
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dlr`
  await call(app, 'POST', users, { login: 'local002', password: 'abcd1234' })
  t.equal((await call(app, 'PUT', `${users}/local002`, { callBack: url })).status, 200)
  await enableAcme(deps)
  const sent = await call(app, 'POST', `${users}/local002/jobs`, {
    message: 'hello',
    receivers: ['+33601020304'],
    sender: 'ACME',
  })
  t.equal(sent.status, 200)
  await app.sendingWorker.runOnce()
  while ((await app.callbackDispatcher.runOnce()) > 0) {}
  t.equal(calls.length, 1, 'the local receiver got the first report')
  t.match(calls[0], /^\/dlr\?id=/)
})

/** The test account's sender ACME, enabled. */
async function enableAcme(deps: Awaited<ReturnType<typeof buildTestApp>>['deps']) {
  const { db } = deps.database
  await enableSender(db, await accountIdOf(db, SERVICE))
}

t.test('a delivery the guard refuses is final: failed, no next attempt, never retried', async (t) => {
  const { app, deps, clock } = await buildTestApp(t, { config: { callbacks: callbacks(false) } })
  const calls: string[] = []
  const server = http.createServer((req, res) => {
    calls.push(req.url ?? '')
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dlr`
  await call(app, 'POST', users, { login: 'local003', password: 'abcd1234' })
  // Saved while the guard was off (an earlier run with CALLBACK_ALLOW_PRIVATE=true).
  await deps.database.db
    .updateTable('sms_users')
    .set({ call_back: url })
    .where('login', '=', 'local003')
    .execute()
  await enableAcme(deps)
  const sent = await call(app, 'POST', `${users}/local003/jobs`, {
    message: 'hello',
    receivers: ['+33601020304'],
    sender: 'ACME',
  })
  t.equal(sent.status, 200)
  await app.sendingWorker.runOnce()
  while ((await app.callbackDispatcher.runOnce()) > 0) {}

  const listed = await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/callbacks`)
  t.equal(listed.status, 200)
  t.equal(listed.body.length, 1)
  const [delivery] = listed.body
  t.equal(delivery.status, 'failed')
  t.equal(delivery.attempts, 1)
  t.equal(delivery.nextAttemptAt, null, 'final: no next attempt')
  t.match(delivery.lastError, 'a non-public address; set CALLBACK_ALLOW_PRIVATE=true to allow it')

  clock.advance(24 * 3600_000)
  while ((await app.callbackDispatcher.runOnce()) > 0) {}
  t.equal(calls.length, 0, 'never called')
  const again = await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/callbacks`)
  t.equal(again.body[0].attempts, 1, 'not retried')
})
