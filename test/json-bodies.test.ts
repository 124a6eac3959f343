import t from 'tap'
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../src/http/json-depth.js'
import { admin, buildTestApp, call, SERVICE } from './helpers.js'

const { app, deps } = await buildTestApp(t)
const account = `/1.0/sms/${SERVICE}`

const nested = (levels: number, leaf = '1') => '{"a":'.repeat(levels) + leaf + '}'.repeat(levels)

t.test('nestedDeeperThan counts brackets outside strings only', async (t) => {
  t.equal(nestedDeeperThan('{}', 1), false)
  t.equal(nestedDeeperThan('{"a":[]}', 1), true)
  t.equal(nestedDeeperThan('{"a":[]}', 2), false)
  t.equal(nestedDeeperThan('[[1],[2],[3]]', 2), false, 'siblings do not add up')
  t.equal(nestedDeeperThan('{"a":"[[[[{{{{"}', 1), false, 'brackets inside a string')
  t.equal(nestedDeeperThan('{"a":"\\"[[[["}', 1), false, 'an escaped quote does not end the string')
  t.equal(nestedDeeperThan('{"a\\\\":[[1]]}', 2), true, 'an escaped backslash does')
  t.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH)), false)
  t.equal(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1)), true)
  t.equal(nestedDeeperThan('['.repeat(100_000)), true, 'malformed text too')
})

const DEEP_MESSAGE = `Invalid body: JSON nested deeper than ${MAX_JSON_DEPTH} levels; no field of this API needs as many`

t.test('a deeply nested body is a 400 on every JSON route, before authentication', async (t) => {
  const deep = `{"templates":${nested(8000)}}`
  for (const [method, url, body] of [
    ['PUT', account, deep],
    ['PUT', account, `{"templates":{"smsBody":"x","extra":${nested(8000)}}}`],
    ['POST', `${account}/users`, `{"login":"deepuser1","password":"abcd1234","x":${nested(40)}}`],
    ['POST', `${account}/jobs`, `{"message":"hi","receivers":${'['.repeat(5000)}${']'.repeat(5000)}}`],
    ['PUT', account, nested(MAX_JSON_DEPTH + 1)],
  ] as const) {
    const { status, body: answer } = await call(app, method, url, body)
    t.same(
      { status, answer },
      { status: 400, answer: { class: 'Client::BadRequest', message: DEEP_MESSAGE } },
      url,
    )
  }
  const unsigned = await app.inject({
    method: 'POST',
    url: '/1.0/auth/credential',
    headers: { 'content-type': 'application/json', 'x-ovh-application': 'whatever' },
    payload: `{"accessRules":${nested(8000)}}`,
  })
  t.equal(unsigned.statusCode, 400, 'unauthenticated route')
  t.equal(unsigned.json().message, DEEP_MESSAGE)
  const adminCall = await app.inject({
    method: 'POST',
    url: '/admin/v1/owners',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-admin-token-0123456789' },
    payload: `{"name":${nested(8000)}}`,
  })
  t.equal(adminCall.statusCode, 400, 'admin route')
  t.equal(adminCall.json().message, DEEP_MESSAGE)
})

t.test('nesting up to the bound reaches validation; brackets in text are not nesting', async (t) => {
  const atBound = await call(app, 'PUT', account, `{"templates":${nested(MAX_JSON_DEPTH - 1)}}`)
  t.equal(atBound.status, 200, 'an unknown key at the bound is dropped, like any unknown key')
  const text = '[{'.repeat(100)
  const bracketed = await call(app, 'PUT', account, { description: text.slice(0, 200) })
  t.equal(bracketed.status, 200)
  t.equal((await call(app, 'GET', account)).body.description, text.slice(0, 200))
})

t.test('PUT {S} drops unknown keys instead of storing them', async (t) => {
  const put = await call(app, 'PUT', account, {
    unknownTop: 1,
    templates: { smsBody: 'hello', injected: { deep: true } },
    smsResponse: { responseType: 'text', text: 'thanks', injected: 'x' },
  })
  t.same([put.status, put.body], [200, null])
  const row = await deps.database.db
    .selectFrom('accounts')
    .select(['templates', 'sms_response'])
    .where('service_name', '=', SERVICE)
    .executeTakeFirstOrThrow()
  const stored = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value)
  t.notOk('injected' in stored(row.templates), 'templates has no unknown key')
  t.notOk('injected' in stored(row.sms_response), 'smsResponse has no unknown key')
  t.notOk('a' in stored(row.templates), 'nor the one sent by the previous test')
  t.match(stored(row.templates), { smsBody: 'hello' })
  t.match(stored(row.sms_response), { responseType: 'text', text: 'thanks' })
  const { body } = await call(app, 'GET', account)
  t.match(body.templates, { smsBody: 'hello' })
  t.notOk('unknownTop' in body)
  t.equal((await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}`)).status < 500, true)
})
