import { createHash } from 'node:crypto'
import t from 'tap'
import { admin, buildTestApp } from '../helpers.js'

const { app, deps, ownerId } = await buildTestApp(t)
const { db } = deps.database

/** A consumer key requested the way an OVH client does, by an application named `name`. */
async function requestKey(name: string) {
  const application = await admin(app, 'POST', '/admin/v1/applications', { owner: ownerId, name })
  const response = await app.inject({
    method: 'POST',
    url: '/1.0/auth/credential',
    headers: { 'x-ovh-application': application.body.applicationKey, 'content-type': 'application/json' },
    payload: { accessRules: [{ method: 'GET', path: '/sms/*' }] },
  })
  t.equal(response.statusCode, 200)
  const body = response.json() as { consumerKey: string; validationUrl: string }
  const url = new URL(body.validationUrl)
  return { ...body, path: url.pathname + url.search, token: url.searchParams.get('credentialToken') ?? '' }
}

const page = (url: string) => app.inject({ method: 'GET', url })

t.test('the validationUrl carries a random token that opens the page', async (t) => {
  const key = await requestKey('secret-app-name')
  t.match(key.validationUrl, /^http:\/\/localhost(:80)?\/auth\/validation\?credentialToken=[A-Za-z0-9]{32}$/)
  const shown = await page(key.path)
  t.equal(shown.statusCode, 200)
  t.match(shown.body, /secret-app-name/)
  t.match(shown.body, /GET \/sms\/\*/)
  const other = await requestKey('other-app')
  t.not(other.token, key.token, 'every key gets its own token')
})

t.test('the token is stored hashed, never as given', async (t) => {
  const key = await requestKey('hashed-app')
  const rows = await db.selectFrom('credentials').selectAll().execute()
  t.notOk(JSON.stringify(rows).includes(key.token), 'no column holds the token')
  const hash = createHash('sha256').update(key.token).digest('hex')
  t.equal(rows.filter((row) => row.validation_token_hash === hash).length, 1)
})

t.test('sequential ids no longer open anybody’s page', async (t) => {
  const key = await requestKey('tenant-app-by-id')
  const ids = await db.selectFrom('credentials').select('id').execute()
  for (const { id } of ids) {
    const byId = await page(`/auth/validation?credentialId=${id}`)
    t.equal(byId.statusCode, 400, `credentialId=${id}`)
    t.notMatch(byId.body, /tenant-app-by-id/)
    t.match(byId.json(), {
      class: 'Client::BadRequest',
      message: /^Invalid credentialId: .*credentialToken/,
    })
  }
  const missing = await page('/auth/validation')
  t.equal(missing.statusCode, 400)
  t.match(missing.json().message, /^Missing parameter: credentialToken/)
  for (const wrong of [key.token.slice(0, -1), `${key.token}x`, 'A'.repeat(32), key.token.toLowerCase()]) {
    if (wrong === key.token) continue
    const response = await page(`/auth/validation?credentialToken=${wrong}`)
    t.equal(response.statusCode, 404, `token ${wrong}`)
    t.notMatch(response.body, /tenant-app-by-id/)
  }
  t.equal((await page(`/auth/validation?credentialToken=${'x'.repeat(65)}`)).statusCode, 400, 'too long')
})

t.test('validation by the operator still works; every credential made since has a token', async (t) => {
  const key = await requestKey('validated-later')
  const validated = await admin(app, 'POST', `/admin/v1/credentials/${key.consumerKey}/validate`)
  t.same(validated.body, { state: 'validated' })
  const shown = await page(key.path)
  t.match(shown.body, /state: <b>validated<\/b>/)
  const rows = await db.selectFrom('credentials').select('validation_token_hash').execute()
  t.ok(
    rows.every((row) => typeof row.validation_token_hash === 'string'),
    'every credential made since has a hashed token (admin-made ones included)',
  )
})
