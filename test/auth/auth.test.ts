import t from 'tap'
import { ovhSignature } from '../../src/auth/signature.js'
import { admin, buildTestApp, call, createKeys, type Keys, SERVICE, signedHeaders } from '../helpers.js'

const { app, ownerId, keys, clock } = await buildTestApp(t)
const now = () => Math.floor(clock.now().getTime() / 1000)
const users = `/1.0/sms/${SERVICE}/users`

t.test('the signature scheme matches OVH python client test vectors', async (t) => {
  const as = '9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk'
  const ck = '5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY'
  const url = 'https://eu.api.ovh.com/1.0/auth'
  t.equal(ovhSignature(as, ck, 'GET', url, '', '1457018875'), '$1$e9556054b6309771395efa467c22e627407461ad')
  t.equal(
    ovhSignature(as, ck, 'POST', url, '{"a":"b","c":"d"}', '1457018875'),
    '$1$ec2fb5c7a81f64723c77d2e5b609ae6f58a84fc1',
  )
  t.equal(
    ovhSignature(as, ck, 'PUT', url, '{"a":"b","c":"d"}', '1457018875'),
    '$1$8a75a9e7c8e7296c9dbeda6a2a735eb6bd58ec4b',
  )
  t.equal(
    ovhSignature(as, ck, 'DELETE', url, '', '1457018875'),
    '$1$a1eecd00b3b02b6cf5708b84b9ff42059a950d85',
  )
})

type Headers = Record<string, string>
const send = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, headers: Headers, body = '') => {
  const response = await app.inject({
    method,
    url,
    headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(body ? { payload: body } : {}),
  })
  return { status: response.statusCode, body: JSON.parse(response.body) }
}

t.test('errors with the bodies OVH clients know', async (t) => {
  t.same(await send('GET', '/1.0/sms', {}), {
    status: 401,
    body: { class: 'Client::Unauthorized', message: 'You must login first' },
  })
  const wrongApp = { ...keys, applicationKey: 'unknownAppKey000' }
  t.same(await send('GET', '/1.0/sms', signedHeaders(wrongApp, 'GET', '/1.0/sms', '', now())), {
    status: 403,
    body: {
      class: 'Client::Forbidden',
      message: 'Invalid application key',
      errorCode: 'INVALID_KEY',
      httpCode: '403 Forbidden',
    },
  })
  const wrongCk = { ...keys, consumerKey: 'x'.repeat(32) }
  t.same(await send('GET', '/1.0/sms', signedHeaders(wrongCk, 'GET', '/1.0/sms', '', now())), {
    status: 403,
    body: {
      class: 'Client::Forbidden',
      message: 'This credential is not valid',
      errorCode: 'INVALID_CREDENTIAL',
      httpCode: '403 Forbidden',
    },
  })
  const wrongSecret = { ...keys, applicationSecret: 'y'.repeat(32) }
  t.same(await send('GET', '/1.0/sms', signedHeaders(wrongSecret, 'GET', '/1.0/sms', '', now())), {
    status: 400,
    body: {
      class: 'Client::BadRequest',
      message: 'Invalid signature',
      errorCode: 'INVALID_SIGNATURE',
      httpCode: '400 Bad Request',
    },
  })
})

t.test('signature edge cases', async (t) => {
  const body = JSON.stringify({ login: 'sign0001', password: 'abcd1234' })
  const headers = signedHeaders(keys, 'POST', users, body, now())
  t.equal(
    (await send('POST', users, headers, `${body} `)).body.errorCode,
    'INVALID_SIGNATURE',
    'altered body',
  )
  const getHeaders = signedHeaders(keys, 'GET', '/1.0/sms/ptts?ptt=4', '', now())
  t.equal(
    (await send('GET', '/1.0/sms/ptts?ptt=5', getHeaders)).body.errorCode,
    'INVALID_SIGNATURE',
    'altered query',
  )
  t.equal((await send('GET', '/1.0/sms/ptts?ptt=4', getHeaders)).status, 200, 'the signed query passes')
  const stale = signedHeaders(keys, 'GET', '/1.0/sms', '', now() - 301)
  const staleAnswer = await send('GET', '/1.0/sms', stale)
  t.equal(staleAnswer.status, 400)
  t.match(staleAnswer.body.message, /X-Ovh-Timestamp is outside the allowed ±300 s/)
  t.equal(
    (await send('GET', '/1.0/sms', signedHeaders(keys, 'GET', '/1.0/sms', '', now() + 299))).status,
    200,
  )
  const early = signedHeaders(keys, 'GET', '/1.0/sms', '', now())
  clock.advance(301_000)
  t.equal((await send('GET', '/1.0/sms', early)).status, 400, 'replay outside the window')
  clock.advance(-301_000)
  // The Node client escapes every non-ASCII character as \uXXXX and signs that text.
  const unicode = JSON.stringify({ callBack: 'https://example.com/é?x=ü' }).replace(
    /[\u0080-\uFFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
  await call(app, 'POST', users, { login: 'unicode01', password: 'abcd1234' })
  const put = await send(
    'PUT',
    `${users}/unicode01`,
    signedHeaders(keys, 'PUT', `${users}/unicode01`, unicode, now()),
    unicode,
  )
  t.same(put, { status: 200, body: null })
  t.equal((await call(app, 'GET', `${users}/unicode01`)).body.callBack, 'https://example.com/é?x=ü')
  // The port in the Host header is ignored (Node client) or kept (others); http:// also accepted.
  const withPort = signedHeaders(keys, 'GET', '/1.0/sms', '', now(), 'api.example.com:8443')
  t.equal((await send('GET', '/1.0/sms', withPort)).status, 200)
  const keptPort = {
    ...withPort,
    'x-ovh-signature': ovhSignature(
      keys.applicationSecret,
      keys.consumerKey,
      'GET',
      'http://api.example.com:8443/1.0/sms',
      '',
      String(now()),
    ),
  }
  t.equal((await send('GET', '/1.0/sms', keptPort)).status, 200)
})

t.test('a body that is not JSON is refused, never read unsigned', async (t) => {
  // Signed over an empty body (what the signature check would see of a form body), sent as a form.
  for (const contentType of ['application/x-www-form-urlencoded', 'text/plain']) {
    const response = await app.inject({
      method: 'POST',
      url: users,
      headers: { ...signedHeaders(keys, 'POST', users, '', now()), 'content-type': contentType },
      payload: 'login=unsigned1&password=abcd1234',
    })
    t.equal(response.statusCode, 415, contentType)
    t.match(JSON.parse(response.body).message, /send the body as JSON/)
  }
  t.equal((await call(app, 'GET', `${users}/unsigned1`)).status, 404, 'no user was created')
})

t.test('access rules', async (t) => {
  const readOnly = await createKeys(app, ownerId, [{ method: 'GET', path: '/sms/*' }])
  t.equal((await call(app, 'GET', users, undefined, readOnly)).status, 200)
  const write = await call(app, 'POST', users, { login: 'denied01', password: 'abcd1234' }, readOnly)
  t.same(write, {
    status: 403,
    body: {
      class: 'Client::Forbidden',
      message: 'This call has not been granted',
      errorCode: 'NOT_GRANTED_CALL',
      httpCode: '403 Forbidden',
    },
    headers: write.headers,
  })
  const narrow = await createKeys(app, ownerId, [{ method: 'GET', path: `/sms/${SERVICE}/users/*` }])
  t.equal(
    (await call(app, 'GET', `${users}/sign0001`, undefined, narrow)).status,
    404,
    'granted, then not found',
  )
  t.equal(
    (await call(app, 'GET', users, undefined, narrow)).status,
    403,
    '/users itself is not under /users/*',
  )
  t.equal((await call(app, 'GET', '/v1/sms', undefined, readOnly)).status, 403, '/sms is not /sms/*')
})

t.test('two owners never see each other', async (t) => {
  const other = await admin(app, 'POST', '/admin/v1/owners', { name: 'globex' })
  t.equal(other.status, 200)
  await admin(app, 'POST', '/admin/v1/accounts', {
    serviceName: 'sms-gx00001-1',
    owner: other.body.id,
    credits: 10,
  })
  const otherKeys: Keys = await createKeys(app, other.body.id, [
    { method: 'GET', path: '/*' },
    { method: 'POST', path: '/*' },
    { method: 'PUT', path: '/*' },
    { method: 'DELETE', path: '/*' },
  ])
  t.same((await call(app, 'GET', '/1.0/sms', undefined, otherKeys)).body, ['sms-gx00001-1'])
  t.notOk((await call(app, 'GET', '/1.0/sms')).body.includes('sms-gx00001-1'))
  await call(app, 'POST', users, { login: 'victim01', password: 'abcd1234' })
  const notFound = { class: 'Client::NotFound', message: 'This service does not exist' }
  for (const [method, url, body] of [
    ['GET', `/1.0/sms/${SERVICE}`, undefined],
    ['PUT', `/1.0/sms/${SERVICE}`, { description: 'pwned' }],
    ['GET', users, undefined],
    ['POST', users, { login: 'intruder1', password: 'abcd1234' }],
    ['GET', `${users}/victim01`, undefined],
    ['PUT', `${users}/victim01`, { password: 'hacked12' }],
    ['DELETE', `${users}/victim01`, undefined],
  ] as const) {
    const response = await call(app, method, url, body, otherKeys)
    t.same([response.status, response.body], [404, notFound], `${method} ${url}`)
  }
  const victim = await call(app, 'GET', `${users}/victim01`)
  t.equal(victim.body.password, 'abcd1234', 'nothing was touched')
  t.equal((await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.description, '')
  t.equal((await call(app, 'GET', `${users}/intruder1`)).status, 404)
})

t.test('requesting, validating, reading and revoking a consumer key', async (t) => {
  const request = await app.inject({
    method: 'POST',
    url: '/1.0/auth/credential',
    headers: { 'x-ovh-application': keys.applicationKey, 'content-type': 'application/json' },
    payload: JSON.stringify({
      accessRules: [{ method: 'GET', path: '/sms' }],
      redirection: 'https://example.com',
    }),
  })
  t.equal(request.statusCode, 200)
  const pending = JSON.parse(request.body)
  t.equal(pending.state, 'pendingValidation')
  t.match(
    pending.validationUrl,
    /^http:\/\/localhost(:80)?\/auth\/validation\?credentialToken=[A-Za-z0-9]{32}$/,
  )
  const page = await app.inject({
    method: 'GET',
    url: new URL(pending.validationUrl).pathname + new URL(pending.validationUrl).search,
  })
  t.equal(page.statusCode, 200)
  t.match(page.body, /GET \/sms/)
  const pendingKeys = { ...keys, consumerKey: pending.consumerKey }
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, pendingKeys)).body.errorCode, 'INVALID_CREDENTIAL')
  t.same((await admin(app, 'POST', `/admin/v1/credentials/${pending.consumerKey}/validate`)).body, {
    state: 'validated',
  })
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, pendingKeys)).status, 200)

  const current = await call(app, 'GET', '/1.0/auth/currentCredential', undefined, pendingKeys)
  t.match(current.body, { status: 'validated', rules: [{ method: 'GET', path: '/sms' }], ovhSupport: false })

  t.same((await call(app, 'POST', '/1.0/auth/logout', undefined, pendingKeys)).body, null)
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, pendingKeys)).body.errorCode, 'INVALID_CREDENTIAL')

  const unknownApp = await app.inject({
    method: 'POST',
    url: '/1.0/auth/credential',
    headers: { 'x-ovh-application': 'nope', 'content-type': 'application/json' },
    payload: JSON.stringify({ accessRules: [{ method: 'GET', path: '/sms' }] }),
  })
  t.equal(unknownApp.statusCode, 403)
})

t.test('expired credentials', async (t) => {
  const application = await admin(app, 'POST', '/admin/v1/applications', { owner: ownerId, name: 'expiring' })
  const credential = await admin(app, 'POST', '/admin/v1/credentials', {
    applicationKey: application.body.applicationKey,
    accessRules: [{ method: 'GET', path: '/*' }],
    expiration: new Date(clock.now().getTime() + 60_000).toISOString(),
  })
  const expiring = { ...application.body, consumerKey: credential.body.consumerKey }
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, expiring)).status, 200)
  clock.advance(61_000)
  const expired = await send('GET', '/1.0/sms', signedHeaders(expiring, 'GET', '/1.0/sms', '', now()))
  t.equal(expired.body.errorCode, 'INVALID_CREDENTIAL')
  clock.advance(-61_000)
})

t.test('allowedIPs restrict where a key can be used from', async (t) => {
  const application = await admin(app, 'POST', '/admin/v1/applications', { owner: ownerId, name: 'ips' })
  const elsewhere = await admin(app, 'POST', '/admin/v1/credentials', {
    applicationKey: application.body.applicationKey,
    accessRules: [{ method: 'GET', path: '/*' }],
    allowedIPs: ['192.0.2.0/24'],
  })
  const local = await admin(app, 'POST', '/admin/v1/credentials', {
    applicationKey: application.body.applicationKey,
    accessRules: [{ method: 'GET', path: '/*' }],
    allowedIPs: ['127.0.0.1'],
  })
  // app.inject comes from 127.0.0.1
  t.equal(
    (await call(app, 'GET', '/1.0/sms', undefined, { ...application.body, ...elsewhere.body })).status,
    403,
  )
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, { ...application.body, ...local.body })).status, 200)
})

t.test('admin API', async (t) => {
  const noToken = await app.inject({ method: 'POST', url: '/admin/v1/owners', payload: { name: 'x' } })
  t.equal(noToken.statusCode, 401)
  t.equal((await admin(app, 'POST', '/admin/v1/owners', { name: 'acme' })).status, 409)
  t.equal(
    (await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'sms-zz1-1', owner: 999 })).status,
    404,
  )
  t.equal(
    (await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'bad', owner: ownerId })).status,
    400,
  )
  const credits = await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/credits`, { credits: 0.5 })
  t.equal(credits.status, 200)
  t.equal(credits.body.creditsLeft % 1, 0.5)
  t.equal((await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/credits`, { credits: -1 })).status, 400)
  t.equal(
    (
      await admin(app, 'POST', '/admin/v1/credentials', {
        applicationKey: keys.applicationKey,
        accessRules: [],
      })
    ).status,
    400,
  )
})
