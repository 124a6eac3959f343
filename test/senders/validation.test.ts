/**
 * Sender validation: senders the owner's identity proves (sendersAvailableForValidation, enabled when
 * requested), numeric senders validated by the code they were sent by SMS (through the send steps,
 * charged), and every other sender left to the operator (a 400 on …/validate that says so).
 */
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { admin, buildTestApp, call, createKeys, SERVICE } from '../helpers.js'
import { ALL_RULES } from '../support/signing.js'

const { app, ownerId } = await buildTestApp(t, { credits: 10 })
const S = `/1.0/sms/${SERVICE}`

const statusOf = async (sender: string) =>
  (await call(app, 'GET', `${S}/senders/${encodeURIComponent(sender)}`)).body

/** The SMS written for `number` by the send steps (what the carrier worker will hand over). */
const outgoingTo = (number: string) =>
  app.db
    .selectFrom('outgoing')
    .select(['message', 'tag', 'credits', 'state', 'sender_for_response'])
    .where('receiver', '=', number)
    .execute()

t.test('sendersAvailableForValidation: from the nic handle and domains the operator set', async (t) => {
  const empty = await call(app, 'GET', `${S}/sendersAvailableForValidation`)
  t.same([empty.status, empty.body], [200, []], 'an owner with no identity proves nothing')

  const set = await admin(app, 'PUT', `/admin/v1/owners/${ownerId}/identity`, {
    nichandle: 'ab12345-ovh',
    domains: ['acme-shop.fr', 'www.Acme.co.uk', 'acme-shop.fr'],
  })
  t.same(
    [set.status, set.body],
    [200, { nichandle: 'ab12345-ovh', domains: ['acme-shop.fr', 'www.acme.co.uk'] }],
  )

  const all = await call(app, 'GET', `${S}/sendersAvailableForValidation`)
  t.same(all.body, [
    { referer: 'nichandle', sender: 'ab12345' },
    { referer: 'domain', sender: 'acmeshop' },
    { referer: 'domain', sender: 'acmeco' },
  ])
  const domains = await call(app, 'GET', `${S}/sendersAvailableForValidation?referer=domain`)
  t.same(
    domains.body.map((s: { sender: string }) => s.sender),
    ['acmeshop', 'acmeco'],
  )
  const nic = await call(app, 'GET', `${S}/sendersAvailableForValidation?referer=nichandle`)
  t.same(nic.body, [{ referer: 'nichandle', sender: 'ab12345' }])
  const bad = await call(app, 'GET', `${S}/sendersAvailableForValidation?referer=phone`)
  t.equal(bad.status, 400)
  t.match(bad.body.message, /referer/)

  // Requested, a proven sender is enabled at once, and no longer available.
  t.same((await call(app, 'POST', `${S}/senders`, { sender: 'acmeshop' })).body, 'acmeshop')
  t.match(await statusOf('acmeshop'), { status: 'enable', referer: 'domain', validationMedia: 'domain' })
  t.same((await call(app, 'POST', `${S}/senders`, { sender: 'AB12345' })).body, 'AB12345')
  t.match(await statusOf('AB12345'), { status: 'enable', referer: 'nic' }, 'in any case')
  t.same((await call(app, 'GET', `${S}/sendersAvailableForValidation`)).body, [
    { referer: 'domain', sender: 'acmeco' },
  ])
  // Anything else still waits for the operator.
  await call(app, 'POST', `${S}/senders`, { sender: 'Other' })
  t.match(await statusOf('Other'), { status: 'waitingValidation', referer: 'custom' })

  const foreignOwner = await createOwner(app.db, 'beta')
  await createAccount(app.db, { ownerId: foreignOwner.id, serviceName: 'sms-zz22222-1', credits: 1 })
  const theirs = await createKeys(app, foreignOwner.id, ALL_RULES)
  const foreign = await call(
    app,
    'GET',
    '/1.0/sms/sms-zz22222-1/sendersAvailableForValidation',
    undefined,
    theirs,
  )
  t.same(foreign.body, [], 'another owner’s identity is its own')
  t.equal((await call(app, 'GET', `${S}/sendersAvailableForValidation`, undefined, theirs)).status, 404)
})

t.test('the identity is checked: 400 naming the field; unknown owner 404', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ nichandle: 'ab 12', domains: [] }, /nichandle/],
    [{ nichandle: null, domains: ['not a domain'] }, /domains/],
    [{ nichandle: null }, /domains/],
  ]
  for (const [body, message] of cases) {
    const answer = await admin(app, 'PUT', `/admin/v1/owners/${ownerId}/identity`, body)
    t.equal(answer.status, 400, JSON.stringify(body))
    t.match(answer.body.message, message)
  }
  const unknown = await admin(app, 'PUT', '/admin/v1/owners/999/identity', { nichandle: null, domains: [] })
  t.equal(unknown.status, 404)
})

t.test('a numeric sender gets a code by SMS; the right code enables it', async (t) => {
  const before = (await call(app, 'GET', S)).body.creditsLeft
  const requested = await call(app, 'POST', `${S}/senders`, { sender: '+33601020304' })
  t.same([requested.status, requested.body], [200, '+33601020304'])
  t.match(await statusOf('+33601020304'), { status: 'waitingValidation', type: 'numeric' })

  const sent = await outgoingTo('+33601020304')
  t.equal(sent.length, 1, 'one SMS to the number')
  const code = /: (\d{6})$/.exec(sent[0]?.message ?? '')?.[1]
  t.ok(code, `the SMS holds a 6-digit code: ${sent[0]?.message.replace(/\d{6}$/, '######')}`)
  t.equal(sent[0]?.tag, 'senderValidation')
  t.equal((await call(app, 'GET', S)).body.creditsLeft, before - 1, 'charged to the account as any SMS')

  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')
  const refused = await call(app, 'POST', `${S}/senders/%2B33601020304/validate`, { code: wrong })
  t.same(
    [refused.status, refused.body.message],
    [400, 'Invalid code: it is not the code sent to +33601020304; 4 attempts left'],
  )
  t.equal((await statusOf('+33601020304')).status, 'waitingValidation')

  const ok = await call(app, 'POST', `${S}/senders/%2B33601020304/validate`, { code })
  t.same([ok.status, ok.body], [200, null])
  t.match(await statusOf('+33601020304'), { status: 'enable', validationMedia: 'sms' })
  const again = await call(app, 'POST', `${S}/senders/%2B33601020304/validate`, { code })
  t.equal(again.status, 400)
  t.match(again.body.message, /is enable; only a sender waiting for validation takes a code/)
  const row = await app.db
    .selectFrom('senders')
    .select(['code_hash'])
    .where('sender', '=', '+33601020304')
    .executeTakeFirstOrThrow()
  t.equal(row.code_hash, null, 'the code is spent')
})

t.test('five wrong codes spend the code; the stored code is a hash', async (t) => {
  await call(app, 'POST', `${S}/senders`, { sender: '33601020305' })
  const code = /: (\d{6})$/.exec((await outgoingTo('+33601020305'))[0]?.message ?? '')?.[1] as string
  t.ok(code, 'a sender written without + is a number too')
  const row = await app.db
    .selectFrom('senders')
    .select(['code_hash'])
    .where('sender', '=', '33601020305')
    .executeTakeFirstOrThrow()
  t.match(row.code_hash, /^[0-9a-f]{64}$/)
  t.not(row.code_hash, code)
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')
  const messages = []
  for (let i = 0; i < 5; i++) {
    messages.push(
      (await call(app, 'POST', `${S}/senders/33601020305/validate`, { code: wrong })).body.message,
    )
  }
  t.match(messages[3], /1 attempt left$/)
  t.match(messages[4], /that was the last attempt; delete the sender and request it again/)
  const late = await call(app, 'POST', `${S}/senders/33601020305/validate`, { code })
  t.equal(late.status, 400, 'even the right code, once spent')
  t.match(late.body.message, /no code is pending/)
  t.equal((await statusOf('33601020305')).status, 'waitingValidation')
})

t.test('senders that take no code: a 400 that says how they are validated', async (t) => {
  await call(app, 'POST', `${S}/senders`, { sender: 'Brand' })
  const alpha = await call(app, 'POST', `${S}/senders/Brand/validate`, { code: '123456' })
  t.equal(alpha.status, 400)
  t.match(
    alpha.body.message,
    /not validated with a code: the operator validates it, from the documents you add \(POST \/sms\/.*\/senders\/Brand\/documents/,
  )
  await call(app, 'POST', `${S}/senders`, { sender: '36111' })
  const short = await call(app, 'POST', `${S}/senders/36111/validate`, { code: '123456' })
  t.match(short.body.message, /the operator validates it/, 'a short code is no phone to send a code to')
  t.equal((await call(app, 'POST', `${S}/senders/Nobody/validate`, { code: '1' })).status, 404)
  const noCode = await call(app, 'POST', `${S}/senders/Brand/validate`, {})
  t.equal(noCode.status, 400)
  t.match(noCode.body.message, /code/)
})

t.test('no credits to send the code: 400 saying why, nothing requested', async (t) => {
  const poor = await createOwner(app.db, 'poor')
  await createAccount(app.db, { ownerId: poor.id, serviceName: 'sms-pp00000-1', credits: 0 })
  const keys = await createKeys(app, poor.id, ALL_RULES)
  const answer = await call(app, 'POST', '/1.0/sms/sms-pp00000-1/senders', { sender: '+33601020306' }, keys)
  t.equal(answer.status, 400)
  t.match(answer.body.message, /^The validation code could not be sent to \+33601020306: .*credits/)
  t.same((await call(app, 'GET', '/1.0/sms/sms-pp00000-1/senders', undefined, keys)).body, [])
})
