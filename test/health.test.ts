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

t.test('a URL whose percent-escapes are not UTF-8 gets an OVH error body', async (t) => {
  const { app } = await buildTestApp(t)
  for (const url of ['/1.0/sms/%zz/users', '/1.0/sms/%ED%A0%80/users']) {
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 400, url)
    t.match(JSON.parse(response.body), { class: 'Client::BadRequest', message: /^Invalid URL: / }, url)
  }
})
