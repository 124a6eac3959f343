import t from 'tap'
import { buildTestApp, call } from './helpers.js'

t.test('health answers 503 once the database is gone, without internals', async (t) => {
  const { app, deps } = await buildTestApp(t)
  t.equal((await call(app, 'GET', '/health')).status, 200)
  await deps.database.close()
  const { status, body } = await call(app, 'GET', '/health')
  t.equal(status, 503)
  t.same(body, { class: 'Server::ServiceUnavailable', message: 'The database does not answer' })
  const read = await call(app, 'GET', '/1.0/sms')
  t.equal(read.status, 500)
  t.same(read.body, {
    class: 'Server::InternalServerError',
    message: 'Internal server error, the incident has been logged',
  })
})
