import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { renderOutcome } from '../../src/http2sms/render.js'
import { parseDeferred } from '../../src/http2sms/routes.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps } = await buildTestApp(t, { credits: 50 })
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
await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login: 'http2sms1', password: 'pass1234' })
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port

/** GET the http2sms URL from a chosen local address (all of 127.0.0.0/8 is loopback on Linux). */
function get(
  params: Record<string, string>,
  localAddress = '127.0.0.1',
): Promise<{ status: number; type: string; body: string }> {
  const query = new URLSearchParams(params).toString()
  return new Promise((resolve, reject) => {
    http
      .get(
        { host: '127.0.0.1', port, path: `/cgi-bin/sms/http2sms.cgi?${query}`, localAddress },
        (response) => {
          let body = ''
          response.setEncoding('utf8')
          response.on('data', (chunk) => {
            body += chunk
          })
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              type: String(response.headers['content-type']),
              body,
            }),
          )
        },
      )
      .on('error', reject)
  })
}

const good = {
  account: SERVICE,
  login: 'http2sms1',
  password: 'pass1234',
  from: 'ACME',
  to: '0033601020304',
  message: 'Hello from http2sms',
  contentType: 'application/json',
}
const setIps = (ipRestrictions: string[]) =>
  call(app, 'PUT', `/1.0/sms/${SERVICE}/users/http2sms1`, { ipRestrictions })

t.test('IP restrictions', async (t) => {
  const sent = await get(good)
  t.equal(sent.status, 200)
  t.match(JSON.parse(sent.body), { status: 100, creditLeft: '49' })
  t.equal(JSON.parse(sent.body).SmsIds.length, 1)

  await setIps(['127.0.0.1'])
  t.equal(JSON.parse((await get(good)).body).status, 100, 'a list holding 127.0.0.1')
  const refused = JSON.parse((await get(good, '127.0.0.2')).body)
  t.equal(refused.status, 401, 'a client bound to 127.0.0.2')
  t.match(refused.message, /127\.0\.0\.2 is not allowed/)
  await setIps(['10.1.2.3'])
  t.equal(JSON.parse((await get(good)).body).status, 401, 'a list without 127.0.0.1')
  await setIps([])
  t.equal(JSON.parse((await get(good, '127.0.0.2')).body).status, 100, 'an empty list restricts nothing')
})

t.test('the six content types', async (t) => {
  const ok = async (contentType: string) => get({ ...good, contentType })
  const plain = await ok('text/plain')
  t.match(plain.type, /^text\/plain/)
  t.match(plain.body, /^OK\n\d+(\.\d+)?\n\d+$/)
  const html = await ok('text/html')
  t.match(html.body, /<title>HTTP2SMS<\/title><\/head><BODY>OK<br>\d+(\.\d+)?<br>\d+<\/BODY>/)
  for (const type of ['text/xml', 'application/xml']) {
    const xml = await ok(type)
    t.match(xml.type, new RegExp(`^${type}`))
    t.match(
      xml.body,
      /^<\?xml version="1.0" encoding="UTF-8" \?><response><status>100<\/status><creditLeft>[\d.]+<\/creditLeft><smsIds><smsId>\d+<\/smsId><\/smsIds><\/response>$/,
    )
  }
  for (const type of ['text/json', 'application/json']) {
    const json = JSON.parse((await ok(type)).body)
    t.equal(json.status, 100)
    t.equal(typeof json.creditLeft, 'string')
    t.same(json.SmsIds, json.smsIds)
  }
  const errors = {
    'text/plain': /^KO\nMissing message$/,
    'text/html': /<BODY>KO<br>Missing message<\/BODY>/,
    'text/xml': /<response><status>201<\/status><message>Missing message\. For more informations/,
    'application/json': /^\{"status":201,"message":"Missing message\. For more informations/,
  }
  for (const [contentType, pattern] of Object.entries(errors)) {
    const { message: _omit, ...rest } = good
    t.match((await get({ ...rest, contentType })).body, pattern, contentType)
  }
  const unknown = await get({ ...good, contentType: 'image/png' })
  t.match(unknown.type, /^text\/plain/)
  t.match(unknown.body, /^KO\nInvalid contentType/)
})

t.test('statuses 201, 202, 241 and 401', async (t) => {
  const status = async (params: Record<string, string>) => JSON.parse((await get(params)).body)
  for (const missing of ['account', 'login', 'password', 'to', 'message', 'from']) {
    const { [missing as keyof typeof good]: _omit, ...rest } = good
    t.match(
      await status(rest),
      { status: 201, message: new RegExp(`^Missing ${missing}\\.`) },
      `missing ${missing}`,
    )
  }
  t.match(await status({ ...good, tag: 'x'.repeat(21) }), {
    status: 202,
    message: /^Invalid tag: is too long/,
  })
  t.match(await status({ ...good, deferred: '2561' }), { status: 202, message: /^Invalid deferred time/ })
  t.match(await status({ ...good, class: '7' }), { status: 202 })
  t.match(await status({ ...good, to: 'nonsense' }), { status: 202, message: /^Invalid to/ })
  t.match(await status({ ...good, from: 'UNKNOWN' }), { status: 241 })
  t.match(await status({ ...good, password: 'wrong123' }), {
    status: 401,
    message: /^Invalid account, login or password/,
  })
  t.match(await status({ ...good, login: 'nobody99' }), {
    status: 401,
    message: /^Invalid account, login or password/,
  })
  t.match(await status({ ...good, account: 'sms-none-1' }), {
    status: 401,
    message: /^Invalid account, login or password/,
  })
  t.match(await status({ ...good, smsAccount: SERVICE, account: '' }), { status: 100 }, 'smsAccount alias')
})

t.test('deferred sends become pending jobs', async (t) => {
  const body = JSON.parse((await get({ ...good, deferred: '120001012030' })).body)
  t.equal(body.status, 100)
  const jobs = (await call(app, 'GET', `/1.0/sms/${SERVICE}/users/http2sms1/jobs`)).body
  t.ok(jobs.includes(Number(body.SmsIds[0])))
  t.equal(parseDeferred('183019072020')?.toISOString(), '2020-07-19T16:30:00.000Z', 'Paris time (CEST)')
  t.equal(parseDeferred('120015012020')?.toISOString(), '2020-01-15T11:00:00.000Z', 'Paris time (CET)')
  t.equal(parseDeferred('250015012020'), null)
})

t.test('form POST', async (t) => {
  const response = await app.inject({
    method: 'POST',
    url: '/cgi-bin/sms/http2sms.cgi',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(good).toString(),
  })
  t.equal(response.statusCode, 200)
  t.equal(JSON.parse(response.body).status, 100)
})

t.test('more than 1,000 receivers are refused, like in a REST job', async (t) => {
  const to = Array.from({ length: 1001 }, (_, n) => `+3361${String(n).padStart(7, '0')}`).join(',')
  const response = await app.inject({
    method: 'POST',
    url: '/cgi-bin/sms/http2sms.cgi',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ ...good, to }).toString(),
  })
  t.match(JSON.parse(response.body), {
    status: 202,
    message: /^Invalid receivers: expected at most 1000 numbers in one request/,
  })
})

t.test('repeated failures from one address are refused for a while', async (t) => {
  for (let i = 0; i < 10; i++) await get({ ...good, password: 'badpass1' }, '127.0.0.3')
  const blocked = JSON.parse((await get(good, '127.0.0.3')).body)
  t.match(blocked, { status: 401, message: /^Too many failed attempts from 127\.0\.0\.3/ })
  t.equal(JSON.parse((await get(good, '127.0.0.4')).body).status, 100, 'other addresses are unaffected')
})

t.test('passwords never reach the rendered answers', async (t) => {
  t.notMatch(
    renderOutcome('text/plain', { status: 401, message: 'Invalid account, login or password' }),
    /pass1234/,
  )
})
