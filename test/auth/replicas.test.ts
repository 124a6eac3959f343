import t from 'tap'
import { buildApp } from '../../src/app.js'
import { admin, buildTestApp, call, sameSigningAs, usingPostgres } from '../helpers.js'
import { waitFor } from '../support/wait.js'

t.test(
  'a key revoked on one replica is refused by the other at once',
  { skip: usingPostgres ? false : 'needs PostgreSQL: replicas hear revocations through LISTEN/NOTIFY' },
  async (t) => {
    const { app: first, deps, keys } = await buildTestApp(t)
    const second = await buildApp(deps, { logger: false, workers: false })
    t.teardown(() => second.close())
    sameSigningAs(second, first)

    t.equal(
      (await call(second, 'GET', '/1.0/sms', undefined, keys)).status,
      200,
      'cached as valid on the second',
    )
    t.equal((await call(first, 'POST', '/1.0/auth/logout', undefined, keys)).status, 200)

    // The caches run on the test's manual clock, which does not move: only the revocation heard
    // through LISTEN/NOTIFY can end the cached entry, however long a busy machine takes to deliver it.
    let status = 200
    await waitFor('the second replica to refuse the logged-out key', async () => {
      status = (await call(second, 'GET', '/1.0/sms', undefined, keys)).status
      return status !== 200
    })
    t.equal(status, 403, 'refused well before the 10 s cache TTL')
  },
)

t.test(
  'a service account revoked on one replica loses its tokens on the other at once',
  { skip: usingPostgres ? false : 'needs PostgreSQL: replicas hear revocations through LISTEN/NOTIFY' },
  async (t) => {
    const { app: first, deps, ownerId } = await buildTestApp(t)
    const second = await buildApp(deps, { logger: false, workers: false })
    t.teardown(() => second.close())
    sameSigningAs(second, first)
    const account = await admin(first, 'POST', '/admin/v1/service-accounts', {
      owner: ownerId,
      accessRules: [{ method: 'GET', path: '/*' }],
    })
    const issued = await second.inject({
      method: 'POST',
      url: '/auth/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=client_credentials&client_id=${account.body.clientId}&client_secret=${account.body.clientSecret}`,
    })
    const authorization = `Bearer ${JSON.parse(issued.body).access_token}`
    const read = () => second.inject({ method: 'GET', url: '/1.0/sms', headers: { authorization } })
    t.equal((await read()).statusCode, 200, 'cached as valid on the second')
    await admin(first, 'DELETE', `/admin/v1/service-accounts/${account.body.clientId}`)
    let status = 200
    await waitFor('the second replica to refuse the revoked token', async () => {
      status = (await read()).statusCode
      return status !== 200
    })
    t.equal(status, 401)
  },
)
