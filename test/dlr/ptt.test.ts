import t from 'tap'
import { DLR_STATUS, PTT_TABLE } from '../../src/dlr/ptt.js'
import { buildTestApp, call } from '../helpers.js'

const { app } = await buildTestApp(t)

// Every code of the table in seed 003 ("Tout savoir sur les utilisateurs SMS").
const SEED_CODES = [1, 2, 3, 4, 5, 6, 8, 20, 21, 23, 24, 25, 26, 27, 28, 29, 33, 39, 73, 74, 76, 202]

t.test('every ptt code of the guide is explained', async (t) => {
  t.same([...PTT_TABLE.keys()], SEED_CODES)
  for (const code of SEED_CODES) {
    const { status, body } = await call(app, 'GET', `/1.0/sms/ptts?ptt=${code}`)
    t.equal(status, 200, `ptt ${code}`)
    t.same(Object.keys(body).sort(), ['comment', 'description', 'duration'])
    t.ok(body.description.length > 10)
  }
})

t.test('durations follow the meaning of each code', async (t) => {
  const duration = async (code: number) => (await call(app, 'GET', `/1.0/sms/ptts?ptt=${code}`)).body.duration
  for (const code of [1, 2, 3, 24, 25, 26]) t.equal(await duration(code), 'temporary', `ptt ${code}`)
  for (const code of [4, 5, 8, 23, 27]) t.equal(await duration(code), 'permanent', `ptt ${code}`)
  t.equal(await duration(6), 'indeterminated')
  t.equal((await call(app, 'GET', '/1.0/sms/ptts?ptt=4')).body.description, 'The message was delivered.')
})

t.test('unknown or malformed codes', async (t) => {
  t.same(await call(app, 'GET', '/1.0/sms/ptts?ptt=7').then((r) => [r.status, r.body]), [
    404,
    { class: 'Client::NotFound', message: 'The requested object (ptt = 7) does not exist' },
  ])
  t.equal(
    (await call(app, 'GET', '/1.0/sms/ptts?ptt=abc')).body.message,
    'Invalid querystring ptt: expected an integer',
  )
  t.equal((await call(app, 'GET', '/1.0/sms/ptts')).body.message, 'Missing querystring parameter: ptt')
})

t.test('DLR ids of the guide', async (t) => {
  t.same([...DLR_STATUS.keys()], [0, 1, 2, 4, 8, 16])
  t.equal(DLR_STATUS.get(1), 'Success')
})

t.test('auth/time answers a bare integer', async (t) => {
  const { status, body } = await call(app, 'GET', '/1.0/auth/time')
  t.equal(status, 200)
  t.equal(body, Date.parse('2026-11-26T12:00:00Z') / 1000, 'from the injected clock')
})

t.test('health', async (t) => {
  t.same((await call(app, 'GET', '/health')).body, { status: 'ok' })
})
