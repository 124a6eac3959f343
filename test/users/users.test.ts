import t from 'tap'
import { buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps } = await buildTestApp(t)
const users = `/1.0/sms/${SERVICE}/users`

t.test('create → get → put partial → get → delete → 404', async (t) => {
  const answer = await call(app, 'POST', users, { login: 'alice01', password: 'abcd1234' })
  const probe = await call(app, 'POST', users, { login: 'probe01', password: 'abcd1234' })
  // The same headers as another creation, `date` aside: the two answers may fall on either side of a
  // second (they did at a load average of 24).
  t.same(answer, { status: 200, body: null, headers: { ...probe.headers, date: answer.headers.date } })
  const created = await call(app, 'GET', `${users}/alice01`)
  t.equal(created.status, 200)
  t.same(created.body, {
    alertThresholdInformations: { alertEmail: '', alertNumber: '', alertThreshold: -1, support: 'mail' },
    callBack: null,
    ipRestrictions: [],
    login: 'alice01',
    password: 'abcd1234',
    quotaInformations: { quotaLeft: 0, quotaStatus: 'inactive' },
    stopCallBack: null,
  })

  t.equal(
    (await call(app, 'PUT', `${users}/alice01`, { ipRestrictions: ['127.0.0.1', '2001:DB8:0::1'] })).status,
    200,
  )
  t.equal(
    (await call(app, 'PUT', `${users}/alice01`, { callBack: 'https://example.com/dlr?x=1' })).status,
    200,
  )
  const put = await call(app, 'PUT', `${users}/alice01`, {
    alertThresholdInformations: { alertThreshold: 10, support: 'both', alertEmail: 'ops@example.com' },
  })
  t.same(put.body, null)
  const after = await call(app, 'GET', `${users}/alice01`)
  t.same(after.body, {
    alertThresholdInformations: {
      alertEmail: 'ops@example.com',
      alertNumber: '',
      alertThreshold: 10,
      support: 'both',
    },
    callBack: 'https://example.com/dlr?x=1',
    ipRestrictions: ['127.0.0.1', '2001:db8::1'],
    login: 'alice01',
    password: 'abcd1234',
    quotaInformations: { quotaLeft: 0, quotaStatus: 'inactive' },
    stopCallBack: null,
  })

  t.equal((await call(app, 'PUT', `${users}/alice01`, { password: 'zyxw9876', callBack: '' })).status, 200)
  const changed = await call(app, 'GET', `${users}/alice01`)
  t.equal(changed.body.password, 'zyxw9876')
  t.equal(changed.body.callBack, null, 'an empty callBack clears it')
  t.same(changed.body.ipRestrictions, ['127.0.0.1', '2001:db8::1'], 'fields not sent keep their value')

  t.same((await call(app, 'GET', users)).body, ['alice01', 'probe01'])
  t.same(await call(app, 'DELETE', `${users}/alice01`).then((r) => [r.status, r.body]), [200, null])
  const gone = await call(app, 'GET', `${users}/alice01`)
  t.equal(gone.status, 404)
  t.same(gone.body, {
    class: 'Client::NotFound',
    message: 'The requested object (login = alice01) does not exist',
  })
  t.same((await call(app, 'GET', users)).body, ['probe01'])
})

t.test('the /v1 prefix serves the same resource', async (t) => {
  await call(app, 'POST', `/v1/sms/${SERVICE}/users`, { login: 'viaV1user', password: 'abcd1234' })
  t.equal((await call(app, 'GET', `${users}/viaV1user`)).status, 200)
  t.equal((await call(app, 'DELETE', `/v1/sms/${SERVICE}/users/viaV1user`)).status, 200)
})

t.test('passwords are stored encrypted', async (t) => {
  await call(app, 'POST', users, { login: 'secret01', password: 'pass1234' })
  const row = await deps.database.db
    .selectFrom('sms_users')
    .select('password_enc')
    .where('login', '=', 'secret01')
    .executeTakeFirstOrThrow()
  t.notMatch(row.password_enc, /pass1234/)
  t.equal(deps.secretBox.open(row.password_enc), 'pass1234')
})

t.test('not found and conflict', async (t) => {
  await call(app, 'POST', users, { login: 'bob12345', password: 'abcd1234' })
  const again = await call(app, 'POST', users, { login: 'bob12345', password: 'abcd1234' })
  t.equal(again.status, 409)
  t.same(again.body, { class: 'Client::Conflict', message: `The user bob12345 already exists on ${SERVICE}` })

  for (const [method, url, body] of [
    ['GET', '/1.0/sms/sms-zz99999-1/users', undefined],
    ['POST', '/1.0/sms/sms-zz99999-1/users', { login: 'carol123', password: 'abcd1234' }],
    ['GET', '/1.0/sms/sms-zz99999-1/users/bob12345', undefined],
    ['PUT', '/1.0/sms/sms-zz99999-1/users/bob12345', { callBack: null }],
    ['DELETE', '/1.0/sms/sms-zz99999-1/users/bob12345', undefined],
  ] as const) {
    const response = await call(app, method, url, body)
    t.same(
      [response.status, response.body],
      [404, { class: 'Client::NotFound', message: 'This service does not exist' }],
      `${method} ${url}`,
    )
  }
  for (const method of ['GET', 'PUT', 'DELETE'] as const) {
    const response = await call(
      app,
      method,
      `${users}/nobody99`,
      method === 'PUT' ? { callBack: null } : undefined,
    )
    t.equal(response.status, 404, `${method} unknown login`)
    t.equal(response.body.message, 'The requested object (login = nobody99) does not exist')
  }
})

t.test('every validation rule answers 400 naming the field and the rule', async (t) => {
  await call(app, 'POST', users, { login: 'valid001', password: 'abcd1234' })
  const cases: [string, 'POST' | 'PUT', unknown, string][] = [
    [
      'login too short',
      'POST',
      { login: 'abc12', password: 'abcd1234' },
      'Invalid login: expected 6 to 40 letters or digits',
    ],
    [
      'login too long',
      'POST',
      { login: 'a'.repeat(41), password: 'abcd1234' },
      'Invalid login: expected 6 to 40 letters or digits',
    ],
    [
      'login with symbols',
      'POST',
      { login: 'bad_login', password: 'abcd1234' },
      'Invalid login: expected 6 to 40 letters or digits',
    ],
    ['login missing', 'POST', { password: 'abcd1234' }, 'Missing parameter: login'],
    ['password missing', 'POST', { login: 'carol123' }, 'Missing parameter: password'],
    [
      'password 7 chars',
      'POST',
      { login: 'carol123', password: 'abc1234' },
      'Invalid password: expected exactly 8 letters or digits',
    ],
    [
      'password 9 chars',
      'POST',
      { login: 'carol123', password: 'abcd12345' },
      'Invalid password: expected exactly 8 letters or digits',
    ],
    [
      'password symbols',
      'PUT',
      { password: 'abcd-123' },
      'Invalid password: expected exactly 8 letters or digits',
    ],
    [
      'login wrong type',
      'POST',
      { login: 12, password: 'abcd1234' },
      'Invalid login: expected 6 to 40 letters or digits',
    ],
    ['body not an object', 'POST', [1, 2], 'Invalid body: expected a JSON object'],
    [
      '6 ip restrictions',
      'PUT',
      { ipRestrictions: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'] },
      'Invalid ipRestrictions: expected at most 5 distinct IPv4 or IPv6 addresses allowed to use http2sms; empty = no restriction',
    ],
    [
      'bad ip',
      'PUT',
      { ipRestrictions: ['300.1.1.1'] },
      'Invalid ipRestrictions: expected valid IPv4 or IPv6 addresses, "300.1.1.1" is not one',
    ],
    [
      'short ip',
      'PUT',
      { ipRestrictions: ['10.1.1'] },
      'Invalid ipRestrictions: expected valid IPv4 or IPv6 addresses, "10.1.1" is not one',
    ],
    [
      'ip with zone',
      'PUT',
      { ipRestrictions: ['fe80::1%eth0'] },
      'Invalid ipRestrictions: expected valid IPv4 or IPv6 addresses, "fe80::1%eth0" is not one',
    ],
    [
      'duplicate ip',
      'PUT',
      { ipRestrictions: ['1.2.3.4', '1.2.3.4'] },
      'Invalid ipRestrictions: expected distinct IP addresses, "1.2.3.4" appears twice',
    ],
    [
      'duplicate ipv6 spelled twice',
      'PUT',
      { ipRestrictions: ['2001:db8::1', '2001:DB8:0:0::1'] },
      'Invalid ipRestrictions: expected distinct IP addresses, "2001:DB8:0:0::1" appears twice',
    ],
    [
      'callBack ftp',
      'PUT',
      { callBack: 'ftp://example.com/x' },
      'Invalid callBack: expected an absolute http:// or https:// URL of at most 2048 characters, or null/empty to clear',
    ],
    [
      'callBack relative',
      'PUT',
      { callBack: '/dlr' },
      'Invalid callBack: expected an absolute http:// or https:// URL of at most 2048 characters, or null/empty to clear',
    ],
    [
      'callBack too long',
      'PUT',
      { callBack: `https://example.com/${'a'.repeat(2030)}` },
      'Invalid callBack: expected absolute http:// or https:// URL of at most 2048 characters; null or empty to clear',
    ],
    [
      'stopCallBack javascript',
      'PUT',
      { stopCallBack: 'javascript:alert(1)' },
      'Invalid stopCallBack: expected an absolute http:// or https:// URL of at most 2048 characters, or null/empty to clear',
    ],
    [
      'alertThreshold -2',
      'PUT',
      { alertThresholdInformations: { alertThreshold: -2 } },
      'Invalid alertThresholdInformations.alertThreshold: expected -1 (alert off) or a number of credits ≥ 0',
    ],
    [
      'alertThreshold fractional',
      'PUT',
      { alertThresholdInformations: { alertThreshold: 1.5 } },
      'Invalid alertThresholdInformations.alertThreshold: expected an integer',
    ],
    [
      'support not in enum',
      'PUT',
      { alertThresholdInformations: { support: 'fax' } },
      'Invalid alertThresholdInformations.support: expected one of both, mail, sms',
    ],
    [
      'alertNumber national',
      'PUT',
      { alertThresholdInformations: { alertNumber: '0601020304' } },
      'Invalid alertThresholdInformations.alertNumber: expected a phone number in international format such as +33601020304 or 0033601020304',
    ],
    [
      'alertNumber garbage',
      'PUT',
      { alertThresholdInformations: { alertNumber: '+33abc' } },
      'Invalid alertThresholdInformations.alertNumber: expected a phone number in international format such as +33601020304 or 0033601020304',
    ],
    [
      'alertEmail invalid',
      'PUT',
      { alertThresholdInformations: { alertEmail: 'not-an-address' } },
      'Invalid alertThresholdInformations.alertEmail: expected a valid e-mail address such as ops@example.com',
    ],
    [
      'quotaStatus not in enum',
      'PUT',
      { quotaInformations: { quotaStatus: 'on' } },
      'Invalid quotaInformations.quotaStatus: expected active or inactive',
    ],
    [
      'quotaLeft negative',
      'PUT',
      { quotaInformations: { quotaStatus: 'active', quotaLeft: -1 } },
      'Invalid quotaInformations.quotaLeft: expected credits still usable when the quota is active (≥ 0)',
    ],
    [
      'login changed',
      'PUT',
      { login: 'other001' },
      'Invalid login: read-only, it cannot be changed (current value "valid001")',
    ],
  ]
  for (const [name, method, body, message] of cases) {
    const url = method === 'POST' ? users : `${users}/valid001`
    const response = await call(app, method, url, body)
    t.same([response.status, response.body], [400, { class: 'Client::BadRequest', message }], name)
  }
  const unchanged = await call(app, 'GET', `${users}/valid001`)
  t.same(unchanged.body.ipRestrictions, [], 'rejected requests changed nothing')
  t.equal(unchanged.body.password, 'abcd1234')
  t.equal((await call(app, 'GET', `${users}/carol123`)).status, 404, 'rejected creations wrote nothing')
})

t.test('accepted edge values', async (t) => {
  await call(app, 'POST', users, { login: 'edge0001', password: 'ABCDefgh' })
  await call(app, 'POST', users, { login: 'a'.repeat(40), password: '12345678' })
  t.equal((await call(app, 'GET', `${users}/${'a'.repeat(40)}`)).status, 200, 'a 40-character login')
  const put = await call(app, 'PUT', `${users}/edge0001`, {
    login: 'edge0001',
    ipRestrictions: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '::1', '::ffff:10.0.0.1'],
    callBack: `http://example.com/${'a'.repeat(2048 - 'http://example.com/'.length)}`,
    stopCallBack: 'http://stop.example.com:8080/stop',
    alertThresholdInformations: {
      alertNumber: '0033601020304',
      alertThreshold: 0,
      support: 'sms',
      alertEmail: '',
    },
  })
  t.same([put.status, put.body], [200, null])
  const user = (await call(app, 'GET', `${users}/edge0001`)).body
  t.equal(user.alertThresholdInformations.alertNumber, '+33601020304', 'stored in E.164')
  t.equal(user.alertThresholdInformations.alertEmail, '', 'unset reads back as "" (OVH: canBeNull false)')
  t.equal(user.ipRestrictions.length, 5)
  t.equal(user.callBack.length, 2048)
  t.equal((await call(app, 'PUT', `${users}/edge0001`, { ipRestrictions: [] })).status, 200)
  t.same((await call(app, 'GET', `${users}/edge0001`)).body.ipRestrictions, [])
})
