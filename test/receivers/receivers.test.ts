/**
 * Receiver lists: bad files and URLs are 400s that say what to fix; lists belong to their level
 * (account or user) and their account; the SSRF guard applies to csvUrl.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createAccount } from '../../src/accounts/service.js'
import { numbersOfCsv } from '../../src/receivers/csv.js'
import { MAX_CSV_BYTES } from '../../src/receivers/schema.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'

/** A local server answering each path with the given status and body. */
async function files(routes: Record<string, [number, string]>) {
  const server = http.createServer((req, res) => {
    const [status, body] = routes[req.url ?? ''] ?? [404, 'no']
    res.statusCode = status
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`
}

const live: Record<string, [number, string]> = {}
const url = await files({
  get '/live.csv'() {
    return live['/live.csv'] ?? [404, 'no']
  },
  '/ok.csv': [200, '+33601020304\n+33601020305\n'],
  '/quote.csv': [200, '+33601020304\n"+3360102,0305\n+33601020306\n'],
  '/empty-cell.csv': [200, 'number\n+33601020304\n,foo\n'],
  '/big.csv': [200, `${'+33601020304\n'.repeat(Math.ceil(MAX_CSV_BYTES / 13) + 1)}`],
  '/many.csv': [200, '+33601020304\n'.repeat(1001)],
  '/gone.csv': [500, 'oops'],
})

const { app, deps, ownerId } = await buildTestApp(t, {
  config: {
    callbacks: {
      dispatcherEnabled: false,
      concurrency: 1,
      scheduleMs: [1000],
      timeoutMs: 2000,
      allowPrivate: true,
    },
  },
})
const account = `/1.0/sms/${SERVICE}`
const create = (base: string, body: Record<string, unknown>) =>
  call(app, 'POST', `${base}/receivers`, { slotId: 1, description: 'd', autoUpdate: false, ...body })

t.test('the CSV parser: first column, header, separators, quotes', async (t) => {
  t.same(numbersOfCsv('number,name\n+33601020304,Ann\n\n0033601020305,Bob\r\n'), [
    '+33601020304',
    '0033601020305',
  ])
  t.same(numbersOfCsv('tel;nom\n"+33601020304";Ann\n'), ['+33601020304'])
  t.throws(() => numbersOfCsv('number\n'), { message: 'Invalid CSV: no number in the file' })
})

t.test('bad files and URLs are 400s naming the line or the problem', async (t) => {
  const cases: [string, Record<string, unknown>, number, RegExp][] = [
    ['unclosed quote', { csvUrl: url('/quote.csv') }, 400, /^Invalid CSV at line \d+: /],
    [
      'empty first column',
      { csvUrl: url('/empty-cell.csv') },
      400,
      /^Invalid CSV at line 3: the first column holds no number$/,
    ],
    [
      'too large',
      { csvUrl: url('/big.csv') },
      400,
      /^Invalid csvUrl: the file is larger than 1048576 bytes$/,
    ],
    [
      'too many rows',
      { csvUrl: url('/many.csv') },
      400,
      /^Invalid CSV at line 1001: more than 1000 numbers in one list$/,
    ],
    ['HTTP error', { csvUrl: url('/gone.csv') }, 400, /^Invalid csvUrl: it answered HTTP 500$/],
    ['not a URL', { csvUrl: 'ftp://example.com/x.csv' }, 400, /^Invalid csvUrl: expected an absolute http/],
    ['no source', {}, 400, /^Missing parameter: csvUrl \(a CSV to fetch\) or documentId/],
    [
      'an unknown document',
      { documentId: 'abc' },
      400,
      /^Invalid documentId: abc is not one of your documents \(POST \/me\/document/,
    ],
    [
      'both sources',
      { documentId: 'abc', csvUrl: url('/ok.csv') },
      400,
      /^Invalid body: give csvUrl or documentId, not both$/,
    ],
    ['slot out of range', { slotId: 51, csvUrl: url('/ok.csv') }, 400, /slotId/],
  ]
  for (const [name, body, status, message] of cases) {
    const response = await create(account, body)
    t.equal(response.status, status, name)
    t.match(response.body.message, message, name)
  }
  t.same((await call(app, 'GET', `${account}/receivers`)).body, [], 'nothing was stored')
})

t.test('the SSRF guard refuses a private address when private addresses are not allowed', async (t) => {
  const guarded = await buildTestApp(t)
  const response = await call(guarded.app, 'POST', `/1.0/sms/${SERVICE}/receivers`, {
    slotId: 1,
    description: 'd',
    autoUpdate: false,
    csvUrl: url('/ok.csv'),
  })
  t.same([response.status, response.body.message], [400, 'Invalid csvUrl: its host is not a public address'])
})

t.test('lists belong to their level and their account', async (t) => {
  const users = `${account}/users`
  t.equal((await call(app, 'POST', users, { login: 'listuser1', password: 'abcd1234' })).status, 200)
  t.equal((await create(account, { csvUrl: url('/ok.csv') })).status, 200)
  const again = await create(account, { csvUrl: url('/ok.csv') })
  t.same(
    [again.status, again.body.message],
    [409, 'Slot 1 is already used: delete it or choose another slotId'],
  )
  t.same(
    (await call(app, 'GET', `${users}/listuser1/receivers`)).body,
    [],
    'the user does not see the account’s',
  )
  t.equal((await call(app, 'GET', `${users}/listuser1/receivers/1`)).status, 404)
  const job = await call(app, 'POST', `${users}/listuser1/jobs`, { message: 'x', receiversSlotId: '1' })
  t.equal(job.status, 404, 'a user job reads the user’s slots only')

  await createAccount(deps.database.db, { ownerId, serviceName: 'sms-other-1', credits: 10 })
  t.same((await call(app, 'GET', '/1.0/sms/sms-other-1/receivers')).body, [], 'another account has none')
  t.equal(
    (await call(app, 'PUT', `${account}/receivers/1`, { description: 'renamed', autoUpdate: true })).status,
    200,
  )
  t.match((await call(app, 'GET', `${account}/receivers/1`)).body, {
    description: 'renamed',
    autoUpdate: true,
    records: 2,
  })
  t.equal((await call(app, 'DELETE', `${account}/receivers/1`)).status, 200)
  t.equal((await call(app, 'GET', `${account}/receivers/1`)).status, 404)
  const bad = await call(app, 'POST', `${account}/jobs`, { message: 'x', receiversSlotId: 'abc' })
  t.same(
    [bad.status, bad.body.message],
    [400, 'Invalid receiversSlotId: expected the slotId of one of your receiver lists'],
  )
})

t.test('receiversDocumentUrl: a CSV fetched for one job', async (t) => {
  const { db } = deps.database
  await enableSender(db, await accountIdOf(db, SERVICE))
  const sent = await call(app, 'POST', `${account}/jobs`, {
    message: 'x',
    receiversDocumentUrl: url('/ok.csv'),
    sender: 'ACME',
  })
  t.equal(sent.status, 200)
  t.same(sent.body.validReceivers, ['+33601020304', '+33601020305'])
  const gone = await call(app, 'POST', `${account}/jobs`, {
    message: 'x',
    receiversDocumentUrl: url('/gone.csv'),
  })
  t.same([gone.status, gone.body.message], [400, 'Invalid receiversDocumentUrl: it answered HTTP 500'])
})

t.test('autoUpdate: the list is fetched again when a job uses it', async (t) => {
  live['/live.csv'] = [200, '+33601020304\n']
  const created = await create(account, { slotId: 2, autoUpdate: true, csvUrl: url('/live.csv') })
  t.match(created.body, { slotId: 2, records: 1, autoUpdate: true })
  live['/live.csv'] = [200, '+33601020304\n+33601020307\n']
  const sent = await call(app, 'POST', `${account}/jobs`, {
    message: 'x',
    receiversSlotId: '2',
    sender: 'ACME',
  })
  t.same(sent.body.validReceivers, ['+33601020304', '+33601020307'])
  t.match((await call(app, 'GET', `${account}/receivers/2`)).body, { records: 2 }, 'the new list is stored')
  live['/live.csv'] = [503, 'down']
  const failed = await call(app, 'POST', `${account}/jobs`, {
    message: 'x',
    receiversSlotId: '2',
    sender: 'ACME',
  })
  t.same(
    [failed.status, failed.body.message],
    [
      400,
      'Invalid receiversSlotId: list 2 could not be updated from its csvUrl (Invalid csvUrl: it answered HTTP 503)',
    ],
  )
})
