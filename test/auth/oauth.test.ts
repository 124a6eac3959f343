import t from 'tap'
import { admin, buildTestApp, SERVICE } from '../helpers.js'

const { app, ownerId, clock } = await buildTestApp(t)

async function token(clientId: string, clientSecret: string, how: 'basic' | 'body' = 'basic') {
  const form = new URLSearchParams({ grant_type: 'client_credentials', scope: 'all' })
  if (how === 'body') {
    form.set('client_id', clientId)
    form.set('client_secret', clientSecret)
  }
  const response = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(how === 'basic'
        ? { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` }
        : {}),
    },
    payload: form.toString(),
  })
  return { status: response.statusCode, body: JSON.parse(response.body) }
}

async function bearer(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  accessToken: string,
  payload?: unknown,
) {
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${accessToken}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  })
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined }
}

t.test('a read-only service account reads but cannot write', async (t) => {
  const account = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: ownerId,
    accessRules: [{ method: 'GET', path: '/sms/*' }],
    name: 'reader',
  })
  t.equal(account.status, 200)
  const issued = await token(account.body.clientId, account.body.clientSecret)
  t.equal(issued.status, 200)
  t.match(issued.body, { token_type: 'Bearer', expires_in: 3600, scope: 'all' })
  const read = await bearer('GET', `/1.0/sms/${SERVICE}`, issued.body.access_token)
  t.equal(read.status, 200)
  const write = await bearer('POST', `/1.0/sms/${SERVICE}/users`, issued.body.access_token, {
    login: 'reader01',
    password: 'abcd1234',
  })
  t.same(write, {
    status: 403,
    body: {
      class: 'Client::Forbidden',
      message: 'This call has not been granted',
      errorCode: 'NOT_GRANTED_CALL',
      httpCode: '403 Forbidden',
    },
  })
})

t.test('full CRUD with a token; credentials in the form body work too', async (t) => {
  const account = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: ownerId,
    accessRules: ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' })),
  })
  const { body } = await token(account.body.clientId, account.body.clientSecret, 'body')
  const users = `/v1/sms/${SERVICE}/users`
  t.equal(
    (await bearer('POST', users, body.access_token, { login: 'oauth001', password: 'abcd1234' })).status,
    200,
  )
  t.equal(
    (await bearer('PUT', `${users}/oauth001`, body.access_token, { callBack: 'https://example.com' })).status,
    200,
  )
  t.equal((await bearer('GET', `${users}/oauth001`, body.access_token)).body.callBack, 'https://example.com')
  t.equal((await bearer('DELETE', `${users}/oauth001`, body.access_token)).status, 200)
  t.equal((await bearer('GET', `${users}/oauth001`, body.access_token)).status, 404)
})

t.test('expired and revoked tokens answer 401', async (t) => {
  const account = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: ownerId,
    accessRules: [{ method: 'GET', path: '/*' }],
  })
  const first = (await token(account.body.clientId, account.body.clientSecret)).body.access_token
  clock.advance(3601_000)
  const expired = await bearer('GET', '/1.0/sms', first)
  t.equal(expired.status, 401)
  t.equal(expired.body.class, 'Client::Unauthorized')
  const second = (await token(account.body.clientId, account.body.clientSecret)).body.access_token
  t.equal((await bearer('GET', '/1.0/sms', second)).status, 200)
  t.same((await admin(app, 'DELETE', `/admin/v1/service-accounts/${account.body.clientId}`)).body, null)
  t.equal((await bearer('GET', '/1.0/sms', second)).status, 401, 'revoked with its account')
  t.equal((await token(account.body.clientId, account.body.clientSecret)).status, 401, 'no new token')
  t.equal((await admin(app, 'DELETE', `/admin/v1/service-accounts/${account.body.clientId}`)).status, 404)
  clock.advance(-3601_000)
})

t.test('token endpoint errors follow RFC 6749', async (t) => {
  t.match(await token('EU.nobody', 'wrong'), { status: 401, body: { error: 'invalid_client' } })
  const noGrant = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=password&username=a&password=b',
  })
  t.equal(noGrant.statusCode, 400)
  t.equal(JSON.parse(noGrant.body).error, 'unsupported_grant_type')
  const missing = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'scope=all',
  })
  t.equal(missing.statusCode, 400)
  t.equal(JSON.parse(missing.body).error, 'invalid_request')
  t.equal((await bearer('GET', '/1.0/sms', 'made-up-token')).status, 401)
})

t.test('tokens of another owner see nothing of this one', async (t) => {
  const other = await admin(app, 'POST', '/admin/v1/owners', { name: 'initech' })
  const account = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: other.body.id,
    accessRules: [{ method: 'GET', path: '/*' }],
  })
  const { body } = await token(account.body.clientId, account.body.clientSecret)
  t.same((await bearer('GET', '/1.0/sms', body.access_token)).body, [])
  t.equal((await bearer('GET', `/1.0/sms/${SERVICE}/users`, body.access_token)).status, 404)
})
