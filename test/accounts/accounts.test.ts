import t from 'tap'
import { createAccount } from '../../src/accounts/service.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps, ownerId } = await buildTestApp(t, { credits: 200 })
const account = `/1.0/sms/${SERVICE}`
const users = `${account}/users`

t.test('GET /sms?iamTags= takes OVH’s filter JSON-encoded; accounts carry no tags', async (t) => {
  const query = (value: string) => `/1.0/sms?iamTags=${encodeURIComponent(value)}`
  t.same((await call(app, 'GET', query('{}'))).body, [SERVICE], 'an empty filter keeps every account')
  t.same((await call(app, 'GET', query('{"env":[{"operator":"EQ","value":"prod"}]}'))).body, [])
  t.same((await call(app, 'GET', query('{"env":[{"value":"prod"}]}'))).body, [], 'operator defaults to EQ')
  const bad = await call(app, 'GET', query('{env'))
  t.same(
    [bad.status, bad.body.message],
    [400, 'Invalid iamTags: expected a JSON object such as {"env":[{"operator":"EQ","value":"prod"}]}'],
  )
  const wrongOperator = await call(app, 'GET', query('{"env":[{"operator":"LIKE","value":"p"}]}'))
  t.equal(wrongOperator.status, 400)
  t.match(wrongOperator.body.message, /iamTags/)
})

t.test('GET /sms lists service names, GET /sms/{serviceName} every field', async (t) => {
  t.same((await call(app, 'GET', '/1.0/sms')).body, [SERVICE])
  const { status, body } = await call(app, 'GET', account)
  t.equal(status, 200)
  t.same(Object.keys(body).sort(), [
    'automaticRecreditAmount',
    'callBack',
    'channel',
    'creditThresholdForAutomaticRecredit',
    'creditsHoldByQuota',
    'creditsLeft',
    'description',
    'iam',
    'name',
    'smpp',
    'smsResponse',
    'status',
    'stopCallBack',
    'templates',
    'userQuantityWithQuota',
  ])
  t.match(body, {
    name: SERVICE,
    creditsLeft: 200,
    creditsHoldByQuota: 0,
    userQuantityWithQuota: 0,
    smpp: false,
    status: 'enable',
    channel: 'both',
    automaticRecreditAmount: null,
    iam: { urn: `urn:v1:eu:resource:sms:${SERVICE}` },
  })
  t.match(body.iam.id, /^[0-9a-f-]{36}$/)
  t.equal((await call(app, 'GET', '/1.0/sms/sms-unknown-1')).status, 404)
})

t.test('PUT changes only the writable fields sent', async (t) => {
  const put = await call(app, 'PUT', account, {
    description: 'marketing',
    callBack: 'https://example.com/dlr',
    automaticRecreditAmount: 500,
    creditThresholdForAutomaticRecredit: 12.5,
    smsResponse: { responseType: 'cgi', cgiUrl: 'https://example.com/mo' },
    templates: { customizedSmsMode: true, smsBody: 'hello' },
  })
  t.same([put.status, put.body], [200, null])
  t.equal((await call(app, 'PUT', account, { stopCallBack: 'http://example.com/stop' })).status, 200)
  const { body } = await call(app, 'GET', account)
  t.match(body, {
    description: 'marketing',
    callBack: 'https://example.com/dlr',
    stopCallBack: 'http://example.com/stop',
    automaticRecreditAmount: 500,
    creditThresholdForAutomaticRecredit: 12.5,
    smsResponse: { responseType: 'cgi', cgiUrl: 'https://example.com/mo', text: null },
    templates: { customizedSmsMode: true, customizedEmailMode: false, smsBody: 'hello' },
    creditsLeft: 200,
  })
  // A client may PUT back what it read: unchanged read-only fields are accepted.
  t.equal((await call(app, 'PUT', account, body)).status, 200)
})

t.test('PUT rejections', async (t) => {
  const cases: [string, unknown, string][] = [
    [
      'rename',
      { name: 'sms-other-1' },
      'Invalid name: read-only, it cannot be changed (current value "sms-ab12345-1")',
    ],
    [
      'status',
      { status: 'disable' },
      'Invalid status: read-only, it cannot be changed (current value "enable")',
    ],
    [
      'recredit amount',
      { automaticRecreditAmount: 42 },
      'Invalid automaticRecreditAmount: expected one of 100, 200, 250, 500, 1000, 5000, 10000, or null',
    ],
    [
      'callBack',
      { callBack: 'not a url' },
      'Invalid callBack: expected an absolute http:// or https:// URL of at most 2048 characters, or null/empty to clear',
    ],
    [
      'threshold',
      { creditThresholdForAutomaticRecredit: -1 },
      'Invalid creditThresholdForAutomaticRecredit: expected credits, ≥ 0',
    ],
    [
      'response type',
      { smsResponse: { responseType: 'fax' } },
      'Invalid smsResponse.responseType: expected one of cgi, none, text',
    ],
  ]
  for (const [name, body, message] of cases) {
    const response = await call(app, 'PUT', account, body)
    t.same([response.status, response.body], [400, { class: 'Client::BadRequest', message }], name)
  }
})

t.test('quotas move credits between the account and its users (seed: 200 → 150 → 50)', async (t) => {
  await call(app, 'POST', users, { login: 'quota001', password: 'abcd1234' })
  await call(app, 'POST', users, { login: 'quota002', password: 'abcd1234' })
  const give = await call(app, 'PUT', `${users}/quota001`, {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 150 },
  })
  t.same([give.status, give.body], [200, null])
  t.match((await call(app, 'GET', account)).body, {
    creditsLeft: 50,
    creditsHoldByQuota: 150,
    userQuantityWithQuota: 1,
  })

  const tooMuch = await call(app, 'PUT', `${users}/quota002`, {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 50.01 },
  })
  t.same(tooMuch.body, {
    class: 'Client::BadRequest',
    message: 'Not enough credits: the account has 50 credits available for quotas, 50.01 more were asked',
  })
  t.equal(
    (
      await call(app, 'PUT', `${users}/quota002`, {
        quotaInformations: { quotaStatus: 'active', quotaLeft: 0.5 },
      })
    ).status,
    200,
  )
  t.match((await call(app, 'GET', account)).body, {
    creditsLeft: 49.5,
    creditsHoldByQuota: 150.5,
    userQuantityWithQuota: 2,
  })

  t.equal(
    (await call(app, 'PUT', `${users}/quota001`, { quotaInformations: { quotaLeft: 100 } })).status,
    200,
    'lowering a quota',
  )
  t.match((await call(app, 'GET', account)).body, { creditsLeft: 99.5, creditsHoldByQuota: 100.5 })

  const thirds = await call(app, 'PUT', `${users}/quota001`, { quotaInformations: { quotaLeft: 1.234 } })
  t.equal(
    thirds.body.message,
    'Invalid quotaInformations.quotaLeft: expected a number of credits ≥ 0 with at most 2 decimals',
  )

  t.equal(
    (await call(app, 'PUT', `${users}/quota002`, { quotaInformations: { quotaStatus: 'inactive' } })).status,
    200,
  )
  t.match((await call(app, 'GET', `${users}/quota002`)).body.quotaInformations, {
    quotaStatus: 'inactive',
    quotaLeft: 0,
  })
  const inactiveLeft = await call(app, 'PUT', `${users}/quota002`, { quotaInformations: { quotaLeft: 10 } })
  t.equal(
    inactiveLeft.body.message,
    'Invalid quotaInformations.quotaLeft: expected quotaStatus "active" to set a quota (the quota is inactive)',
  )

  t.equal((await call(app, 'DELETE', `${users}/quota001`)).status, 200, 'deleting returns the quota')
  t.match((await call(app, 'GET', account)).body, {
    creditsLeft: 200,
    creditsHoldByQuota: 0,
    userQuantityWithQuota: 0,
  })
})

t.test('concurrent quota changes never create or lose a credit', async (t) => {
  const logins = ['conc0001', 'conc0002', 'conc0003', 'conc0004']
  for (const login of logins) await call(app, 'POST', users, { login, password: 'abcd1234' })
  const requests = Array.from({ length: 40 }, (_, i) =>
    call(app, 'PUT', `${users}/${logins[i % logins.length]}`, {
      quotaInformations:
        i % 5 === 4 ? { quotaStatus: 'inactive' } : { quotaStatus: 'active', quotaLeft: (i * 7) % 90 },
    }),
  )
  const statuses = (await Promise.all(requests)).map((r) => r.status)
  t.ok(
    statuses.every((s) => s === 200 || s === 400),
    'each change either applied or refused',
  )
  const { body } = await call(app, 'GET', account)
  t.equal(body.creditsLeft + body.creditsHoldByQuota, 200, 'credits are conserved')
  t.ok(body.creditsLeft >= 0)
})

t.test('accounts are created only by administration code', async (t) => {
  await createAccount(deps.database.db, {
    ownerId,
    serviceName: 'smpp-ab12345-2',
    credits: 3.25,
    secretBox: deps.secretBox,
  })
  t.same((await call(app, 'GET', '/1.0/sms')).body, ['smpp-ab12345-2', SERVICE].sort())
  t.match((await call(app, 'GET', '/1.0/sms/smpp-ab12345-2')).body, {
    smpp: true,
    channel: 'transactional',
    creditsLeft: 3.25,
  })
  await t.rejects(
    createAccount(deps.database.db, { ownerId, serviceName: 'SMS-Upper' }),
    /Invalid serviceName/,
  )
  await t.rejects(createAccount(deps.database.db, { ownerId, serviceName: SERVICE }), /already exists/)
  t.equal(
    (await call(app, 'POST', '/1.0/sms', { serviceName: 'sms-new-1' })).status,
    404,
    'no public creation route',
  )
})

t.test('int8 columns come back as numbers on this driver', async (t) => {
  const big = 9_000_000_000_000 // hundredths: 90 billion credits, above int4
  await deps.database.db
    .updateTable('accounts')
    .set({ credits_left: big })
    .where('service_name', '=', 'smpp-ab12345-2')
    .execute()
  const row = await deps.database.db
    .selectFrom('accounts')
    .select('credits_left')
    .where('service_name', '=', 'smpp-ab12345-2')
    .executeTakeFirstOrThrow()
  t.equal(row.credits_left, big)
  t.equal(typeof row.credits_left, 'number')
  t.equal((await call(app, 'GET', '/1.0/sms/smpp-ab12345-2')).body.creditsLeft, 90_000_000_000)
})
