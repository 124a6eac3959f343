import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { countedAddress, LOCKOUT } from '../../src/http2sms/lockout.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'

// The http2sms lockout (src/sending/http2sms.ts LoginGuard): per login and address, per address, per
// login; in the database, so replicas share it; IPv6 counted per /64; rows that expire.

const { app, deps, clock } = await buildTestApp(t, { credits: 1000 })
const { db } = deps.database
const account = await db
  .selectFrom('accounts')
  .select('id')
  .where('service_name', '=', SERVICE)
  .executeTakeFirstOrThrow()
await db
  .insertInto('senders')
  .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
  .execute()
const PASSWORD = 'pass1234'
const logins = [
  'alice001',
  'bob00001',
  'carol001',
  'dave0001',
  'erin0001',
  'frank001',
  'gina0001',
  'henry001',
]
for (const login of [...logins, 'ivan0001']) {
  const created = await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login, password: PASSWORD })
  if (created.status !== 200) throw new Error(`creating ${login}: ${created.status}`)
}

/** The http2sms answer (JSON) for `login` with `password`, as seen from `address`. */
async function http2sms(
  target: FastifyInstance,
  login: string,
  password: string,
  address: string,
): Promise<{ status: number; message?: string }> {
  const query = new URLSearchParams({
    account: SERVICE,
    login,
    password,
    from: 'ACME',
    to: '+33601020304',
    message: 'Hello',
    contentType: 'application/json',
  })
  const response = await target.inject({
    method: 'GET',
    url: `/cgi-bin/sms/http2sms.cgi?${query}`,
    remoteAddress: address,
  })
  return JSON.parse(response.body)
}
const fail = (login: string, address: string, target = app) => http2sms(target, login, 'wrong123', address)
const send = (login: string, address: string, target = app) => http2sms(target, login, PASSWORD, address)

t.test('ten failures of one login from an address block that pair only', async (t) => {
  for (let i = 0; i < LOCKOUT.perPair; i++) {
    t.match(await fail('alice001', '10.0.0.1'), {
      status: 401,
      message: /^Invalid account, login or password/,
    })
  }
  t.match(
    await send('alice001', '10.0.0.1'),
    { status: 401, message: /^Too many failed attempts from 10\.0\.0\.1 for this login, retry in 300 s/ },
    'the right password is refused too',
  )
  t.match(await send('bob00001', '10.0.0.1'), { status: 100 }, 'another login from the same address')
  t.match(await send('alice001', '10.0.0.2'), { status: 100 }, 'the same login from another address')
  clock.advance(LOCKOUT.windowMs)
  t.match(await send('alice001', '10.0.0.1'), { status: 100 }, 'the window is over')
  for (let i = 0; i < LOCKOUT.perPair - 1; i++) await fail('alice001', '10.0.0.1')
  t.match(await send('alice001', '10.0.0.1'), { status: 100 }, 'nine failures do not block')
  await fail('alice001', '10.0.0.1')
  t.match(await send('alice001', '10.0.0.1'), { status: 100 }, 'a success cleared the pair’s failures')
})

t.test('two replicas on one database count the same failures', async (t) => {
  const second = await buildApp(deps, { logger: false, workers: false })
  t.teardown(() => second.close())
  for (let i = 0; i < LOCKOUT.perPair / 2; i++) {
    await fail('carol001', '10.0.1.1', app)
    await fail('carol001', '10.0.1.1', second)
  }
  t.match(await send('carol001', '10.0.1.1', app), { status: 401, message: /^Too many failed attempts/ })
  t.match(await send('carol001', '10.0.1.1', second), { status: 401, message: /^Too many failed attempts/ })
})

t.test('an IPv6 client counts for its /64', async (t) => {
  t.equal(countedAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(countedAddress('::ffff:192.0.2.7'), '192.0.2.7', 'an IPv4-mapped address is the IPv4 one')
  t.equal(countedAddress('192.0.2.7'), '192.0.2.7')
  for (let i = 1; i <= LOCKOUT.perPair; i++) await fail('dave0001', `2001:db8:1:2::${i.toString(16)}`)
  t.match(await send('dave0001', '2001:db8:1:2:ffff:ffff:ffff:1'), {
    status: 401,
    message: /^Too many failed attempts from 2001:db8:1:2::\/64 for this login/,
  })
  t.match(await send('dave0001', '2001:db8:1:3::1'), { status: 100 }, 'another /64')
})

t.test('an address spraying many logins is blocked, except for logins it used lately', async (t) => {
  const address = '10.0.3.1'
  t.match(await send('erin0001', address), { status: 100 }, 'erin0001 authenticates from the address first')
  for (let i = 0; i < LOCKOUT.perAddress - 1; i++) await fail(`spray${String(i).padStart(3, '0')}`, address)
  t.match(await send('frank001', address), { status: 100 }, `${LOCKOUT.perAddress - 1} failures do not block`)
  await fail('spray999', address)
  t.match(await send('gina0001', address), {
    status: 401,
    message: /^Too many failed attempts from 10\.0\.3\.1 for many logins/,
  })
  t.match(await send('erin0001', address), { status: 100 }, 'a login that authenticated there lately')
  t.match(await send('gina0001', '10.0.3.2'), { status: 100 }, 'another address')
})

t.test('a login attacked from many addresses: blocked, except from an address it used lately', async (t) => {
  t.match(await send('henry001', '10.0.4.1'), { status: 100 }, 'henry001 authenticates from 10.0.4.1')
  for (let i = 1; i <= LOCKOUT.perLogin; i++) await fail('henry001', `10.1.${Math.floor(i / 250)}.${i % 250}`)
  t.match(await send('henry001', '10.0.4.2'), {
    status: 401,
    message: /^Too many failed attempts for this login from many addresses/,
  })
  t.match(await send('henry001', '10.0.4.1'), { status: 100 }, 'the address it authenticated from')
  t.match(await send('bob00001', '10.0.4.2'), { status: 100 }, 'other logins are not affected')
})

t.test('a refused address answers like a wrong password, and counts as a failure', async (t) => {
  await call(app, 'PUT', `/1.0/sms/${SERVICE}/users/ivan0001`, { ipRestrictions: ['10.0.5.1'] })
  const rightPassword = await send('ivan0001', '10.0.5.9')
  const wrongPassword = await fail('ivan0001', '10.0.5.9')
  t.same(rightPassword, wrongPassword, 'the same answer: nothing tells that the password was right')
  t.match(rightPassword, {
    status: 401,
    message: /^Invalid account, login or password, or your IP address 10\.0\.5\.9 is not allowed/,
  })
  for (let i = 2; i < LOCKOUT.perPair; i++) await send('ivan0001', '10.0.5.9')
  t.match(await send('ivan0001', '10.0.5.9'), { status: 401, message: /^Too many failed attempts/ })
  t.match(await send('ivan0001', '10.0.5.1'), { status: 100 }, 'the allowed address')
})

t.test('the table stays bounded: expired rows go as failures come in', async (t) => {
  const count = async (where: 'all' | 'expired' | 'trusted') => {
    let query = db.selectFrom('http2sms_guard').select((eb) => eb.fn.countAll<number>().as('count'))
    if (where === 'expired') query = query.where('expires_at', '<=', clock.now())
    if (where === 'trusted') query = query.where('subject', 'like', 'trusted:%')
    return Number((await query.executeTakeFirstOrThrow()).count)
  }
  /** Failures of fresh logins from a fresh address until no expired row is left (a few suffice). */
  const failUntilClean = async (from: number) => {
    let failures = 0
    do await fail(`fresh${from + failures}`, `10.3.0.${++failures}`)
    while ((await count('expired')) > 0 && failures < 10)
    return failures
  }
  for (let i = 0; i < 300; i++) await fail(`many${String(i).padStart(3, '0')}`, `10.2.${i >> 8}.${i & 255}`)
  t.ok((await count('all')) >= 900, 'three rows for each of 300 failures')
  const trusted = await count('trusted')
  clock.advance(LOCKOUT.windowMs)
  t.ok((await failUntilClean(0)) <= 3, 'a few failures purge every expired counter')
  t.equal(await count('expired'), 0)
  t.ok((await count('all')) <= trusted + 9, 'what is left: the trusted addresses and the last failures')
  clock.advance(LOCKOUT.trustedMs)
  await failUntilClean(100)
  t.equal(await count('trusted'), 0, 'trusted addresses expire too')
  t.equal(await count('expired'), 0)
})
