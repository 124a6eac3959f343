import t from 'tap'
import { defaultSender, requireEnabledSender } from '../../src/senders/service.js'
import { ADMIN_TOKEN, admin, buildTestApp, call, createKeys, SERVICE } from '../helpers.js'

const { app, deps, clock } = await buildTestApp(t)
const senders = `/1.0/sms/${SERVICE}/senders`
const adminSenders = `/admin/v1/accounts/${SERVICE}/senders`
const db = deps.database.db

const accountId = async (serviceName = SERVICE) =>
  (
    await db
      .selectFrom('accounts')
      .select('id')
      .where('service_name', '=', serviceName)
      .executeTakeFirstOrThrow()
  ).id

const statusOf = async (name: string) => (await call(app, 'GET', `${senders}/${name}`)).body.status

t.test('create → get → put → get → delete → 404', async (t) => {
  t.same(
    await call(app, 'POST', senders, { sender: 'Acme' }).then((r) => [r.status, r.body]),
    [200, 'Acme'],
    'answers the created sender’s name as a JSON string',
  )
  const created = await call(app, 'GET', `${senders}/Acme`)
  t.same(
    [created.status, created.body],
    [
      200,
      {
        comment: null,
        description: '',
        referer: 'custom',
        sender: 'Acme',
        status: 'waitingValidation',
        type: 'alpha',
        validationMedia: null,
      },
    ],
  )

  const numeric = await call(app, 'POST', senders, {
    sender: '+33601020304',
    description: 'our line',
    reason: 'support calls',
  })
  t.same([numeric.status, numeric.body], [200, '+33601020304'])
  const number = (await call(app, 'GET', `${senders}/+33601020304`)).body
  t.equal(number.type, 'numeric')
  t.equal(number.description, 'our line')
  t.equal((await call(app, 'GET', `${senders}/%2B33601020304`)).status, 200, 'an encoded + works too')
  const reason = await db
    .selectFrom('senders')
    .select('reason')
    .where('sender', '=', '+33601020304')
    .execute()
  t.same(reason, [{ reason: 'support calls' }], 'the reason is kept for the operator')
  await call(app, 'POST', senders, { sender: '12345' })
  t.equal((await call(app, 'GET', `${senders}/12345`)).body.type, 'numeric', 'digits only → numeric')

  t.same((await call(app, 'GET', senders)).body, ['+33601020304', '12345', 'Acme'], 'sorted')

  const put = await call(app, 'PUT', `${senders}/Acme`, { description: 'brand' })
  t.same([put.status, put.body], [200, null])
  t.equal((await call(app, 'GET', `${senders}/Acme`)).body.description, 'brand')

  t.same(await call(app, 'DELETE', `${senders}/Acme`).then((r) => [r.status, r.body]), [200, null])
  const gone = await call(app, 'GET', `${senders}/Acme`)
  t.same(
    [gone.status, gone.body],
    [404, { class: 'Client::NotFound', message: 'The requested object (sender = Acme) does not exist' }],
  )
  t.same((await call(app, 'GET', senders)).body, ['+33601020304', '12345'])
  t.equal((await call(app, 'GET', `/v1/sms/${SERVICE}/senders/12345`)).status, 200, '/v1 serves it too')
})

t.test('a sender that exists answers 409', async (t) => {
  await call(app, 'POST', senders, { sender: 'Twice' })
  const again = await call(app, 'POST', senders, { sender: 'Twice', description: 'other' })
  t.same(
    [again.status, again.body],
    [409, { class: 'Client::Conflict', message: `The sender Twice already exists on ${SERVICE}` }],
  )
  t.equal((await call(app, 'GET', `${senders}/Twice`)).body.description, '', 'the first one is unchanged')
})

t.test('every validation rule answers 400 naming the field and the rule', async (t) => {
  await call(app, 'POST', senders, { sender: 'Valid' })
  const senderRule =
    'Invalid sender: expected 1 to 11 letters or digits (alphanumeric sender), or a number of up to 15 digits with an optional leading +'
  const cases: [string, 'POST' | 'PUT', unknown, string][] = [
    ['12 letters', 'POST', { sender: 'Abcdefghijkl' }, senderRule],
    ['empty', 'POST', { sender: '' }, senderRule],
    ['space', 'POST', { sender: 'My Shop' }, senderRule],
    ['symbol', 'POST', { sender: 'shop-1' }, senderRule],
    ['accented', 'POST', { sender: 'Café' }, senderRule],
    ['16 digits', 'POST', { sender: '1234567890123456' }, senderRule],
    ['+ then 16 digits', 'POST', { sender: '+1234567890123456' }, senderRule],
    ['two +', 'POST', { sender: '++33601020304' }, senderRule],
    ['+ inside an alpha name', 'POST', { sender: '+Shop' }, senderRule],
    ['missing', 'POST', { description: 'x' }, 'Missing parameter: sender'],
    [
      'description too long',
      'POST',
      { sender: 'Shop', description: 'd'.repeat(256) },
      'Invalid description: expected at most 255 characters',
    ],
    [
      'reason too long',
      'POST',
      { sender: 'Shop', reason: 'r'.repeat(1001) },
      'Invalid reason: expected why you need this sender, at most 1000 characters',
    ],
    ['body not an object', 'POST', ['Shop'], 'Invalid body: expected a JSON object'],
    [
      'put description too long',
      'PUT',
      { description: 'd'.repeat(256) },
      'Invalid description: expected at most 255 characters',
    ],
    [
      'status not in enum',
      'PUT',
      { status: 'on' },
      'Invalid status: expected one of disable, enable, refused, waitingValidation',
    ],
    [
      'sender changed',
      'PUT',
      { sender: 'Other' },
      'Invalid sender: read-only, it cannot be changed (current value "Valid")',
    ],
    [
      'type changed',
      'PUT',
      { type: 'numeric' },
      'Invalid type: read-only, it cannot be changed (current value "alpha")',
    ],
    [
      'type not in enum',
      'PUT',
      { type: 'fax' },
      'Invalid type: expected one of alpha, numeric, shortcode, virtual',
    ],
    [
      'referer changed',
      'PUT',
      { referer: 'nic' },
      'Invalid referer: read-only, it cannot be changed (current value "custom")',
    ],
    [
      'comment changed',
      'PUT',
      { comment: 'hi' },
      'Invalid comment: read-only, it cannot be changed (current value null)',
    ],
    [
      'validationMedia changed',
      'PUT',
      { validationMedia: 'sms' },
      'Invalid validationMedia: read-only, it cannot be changed (current value null)',
    ],
  ]
  for (const [name, method, body, message] of cases) {
    const url = method === 'POST' ? senders : `${senders}/Valid`
    const response = await call(app, method, url, body)
    t.same([response.status, response.body], [400, { class: 'Client::BadRequest', message }], name)
  }
  t.equal((await call(app, 'GET', `${senders}/Shop`)).status, 404, 'rejected creations wrote nothing')
  t.same(
    (await call(app, 'GET', `${senders}/Valid`)).body.description,
    '',
    'rejected updates changed nothing',
  )
})

t.test('accepted edge values; read-only fields may be sent back unchanged', async (t) => {
  for (const sender of ['A', 'Abcdefghij1', '12345678901', '123456789012345', '+123456789012345']) {
    t.same(
      await call(app, 'POST', senders, { sender }).then((r) => [r.status, r.body]),
      [200, sender],
      sender,
    )
  }
  const current = (await call(app, 'GET', `${senders}/Abcdefghij1`)).body
  const put = await call(app, 'PUT', `${senders}/Abcdefghij1`, { ...current, description: 'd'.repeat(255) })
  t.same([put.status, put.body], [200, null], 'a PUT of the whole GET answer is accepted')
  t.same((await call(app, 'GET', `${senders}/Abcdefghij1`)).body, {
    ...current,
    description: 'd'.repeat(255),
  })
  t.equal((await call(app, 'PUT', `${senders}/Abcdefghij1`, {})).status, 200, 'an empty PUT changes nothing')
})

t.test('status: the owner disables and re-enables; only the operator validates', async (t) => {
  await call(app, 'POST', senders, { sender: 'Moderated' })
  const url = `${senders}/Moderated`
  const notValidated = (status: string) =>
    `Invalid status: the sender "Moderated" is ${status}; it can be enabled or disabled only once the operator has validated it`
  for (const status of ['enable', 'disable', 'refused'] as const) {
    const response = await call(app, 'PUT', url, { status })
    t.same([response.status, response.body.message], [400, notValidated('waitingValidation')], `→ ${status}`)
  }
  t.equal((await call(app, 'PUT', url, { status: 'waitingValidation' })).status, 200, 'same status: accepted')
  await call(app, 'POST', senders, { sender: 'Sneaky', status: 'enable' })
  t.equal(await statusOf('Sneaky'), 'waitingValidation', 'a status sent at creation is ignored')
  t.equal(await statusOf('Moderated'), 'waitingValidation')

  const enabled = await admin(app, 'POST', `${adminSenders}/Moderated/enable`)
  t.same([enabled.status, enabled.body.status], [200, 'enable'])
  t.same(enabled.body, (await call(app, 'GET', url)).body, 'the admin answer is the sms.Sender')

  for (const status of ['refused', 'waitingValidation'] as const) {
    const response = await call(app, 'PUT', url, { status })
    t.same(
      [response.status, response.body.message],
      [400, `Invalid status: expected disable or enable; ${status} is set by the operator's validation only`],
      `enable → ${status}`,
    )
  }
  t.same((await call(app, 'PUT', url, { status: 'disable' })).status, 200)
  t.equal(await statusOf('Moderated'), 'disable')
  t.same((await call(app, 'PUT', url, { status: 'disable', description: 'paused' })).status, 200)
  t.same((await call(app, 'PUT', url, { status: 'enable' })).status, 200)
  t.equal(await statusOf('Moderated'), 'enable')

  const refused = await admin(app, 'POST', `${adminSenders}/Moderated/refuse`, {
    comment: 'brand not proven',
  })
  t.same(refused, {
    status: 200,
    body: {
      comment: 'brand not proven',
      description: 'paused',
      referer: 'custom',
      sender: 'Moderated',
      status: 'refused',
      type: 'alpha',
      validationMedia: null,
    },
  })
  const selfValidate = await call(app, 'PUT', url, { status: 'enable' })
  t.same([selfValidate.status, selfValidate.body.message], [400, notValidated('refused')])
  t.equal((await call(app, 'PUT', url, { comment: 'brand not proven', status: 'refused' })).status, 200)

  const again = await admin(app, 'POST', `${adminSenders}/Moderated/enable`)
  t.same([again.body.status, again.body.comment], ['enable', null], 'enable from refused clears the comment')
  await call(app, 'PUT', url, { status: 'disable' })
  t.equal(
    (await admin(app, 'POST', `${adminSenders}/Moderated/enable`)).body.status,
    'enable',
    'from disable',
  )
  const bare = await admin(app, 'POST', `${adminSenders}/Moderated/refuse`, {})
  t.same([bare.status, bare.body.status, bare.body.comment], [200, 'refused', null], 'refuse without comment')
  const noBody = await admin(app, 'POST', `${adminSenders}/Moderated/refuse`)
  t.same([noBody.status, noBody.body.status], [200, 'refused'], 'refuse with no body at all')
})

t.test('admin sender routes: token, 404s, validation', async (t) => {
  await call(app, 'POST', senders, { sender: 'AdminCase' })
  const anonymous = await app.inject({ method: 'POST', url: `${adminSenders}/AdminCase/enable` })
  t.equal(anonymous.statusCode, 401)
  const wrong = await app.inject({
    method: 'POST',
    url: `${adminSenders}/AdminCase/enable`,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
  })
  t.equal(wrong.statusCode, 401)
  t.equal(await statusOf('AdminCase'), 'waitingValidation', 'nothing changed')

  for (const action of ['enable', 'refuse']) {
    t.same(await admin(app, 'POST', `/admin/v1/accounts/sms-zz99999-1/senders/AdminCase/${action}`), {
      status: 404,
      body: { class: 'Client::NotFound', message: 'This service does not exist' },
    })
  }
  t.same(await admin(app, 'POST', `${adminSenders}/Nobody/refuse`), {
    status: 404,
    body: { class: 'Client::NotFound', message: 'The requested object (sender = Nobody) does not exist' },
  })
  // Enabling a sender the account never requested creates it, enabled (sms-mirror admin sender-enable).
  const created = await admin(app, 'POST', `${adminSenders}/Nobody/enable`)
  t.same([created.status, created.body.status, created.body.type], [200, 'enable', 'alpha'])
  t.equal(await statusOf('Nobody'), 'enable')
  const badName = await admin(app, 'POST', `${adminSenders}/${'x'.repeat(12)}/enable`)
  t.same([badName.status, badName.body.message.startsWith('Invalid sender: expected ')], [400, true])
  const long = await admin(app, 'POST', `${adminSenders}/AdminCase/refuse`, { comment: 'c'.repeat(1001) })
  t.same([long.status, long.body.message], [400, 'Invalid comment: expected at most 1000 characters'])
  t.equal(await statusOf('AdminCase'), 'waitingValidation')
})

t.test('unknown service and unknown sender answer 404', async (t) => {
  const other = '/1.0/sms/sms-zz99999-1/senders'
  for (const [method, url, body] of [
    ['GET', other, undefined],
    ['POST', other, { sender: 'Ghost' }],
    ['GET', `${other}/Ghost`, undefined],
    ['PUT', `${other}/Ghost`, { description: 'x' }],
    ['DELETE', `${other}/Ghost`, undefined],
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
      `${senders}/Ghost`,
      method === 'PUT' ? { description: 'x' } : undefined,
    )
    t.same(
      [response.status, response.body.message],
      [404, 'The requested object (sender = Ghost) does not exist'],
      `${method} unknown sender`,
    )
  }
})

t.test('another owner cannot see or touch this account’s senders', async (t) => {
  await call(app, 'POST', senders, { sender: 'Private' })
  await admin(app, 'POST', `${adminSenders}/Private/enable`)
  const owner = await admin(app, 'POST', '/admin/v1/owners', { name: 'rival' })
  t.equal(owner.status, 200)
  t.equal(
    (await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'sms-rival-1', owner: owner.body.id }))
      .status,
    200,
  )
  const rival = await createKeys(app, owner.body.id, [
    { method: 'GET', path: '/*' },
    { method: 'POST', path: '/*' },
    { method: 'PUT', path: '/*' },
    { method: 'DELETE', path: '/*' },
  ])
  for (const [method, url, body] of [
    ['GET', senders, undefined],
    ['POST', senders, { sender: 'Intruder' }],
    ['GET', `${senders}/Private`, undefined],
    ['PUT', `${senders}/Private`, { status: 'disable' }],
    ['DELETE', `${senders}/Private`, undefined],
  ] as const) {
    const response = await call(app, method, url, body, rival)
    t.same(
      [response.status, response.body],
      [404, { class: 'Client::NotFound', message: 'This service does not exist' }],
      `${method} ${url}`,
    )
  }
  const mine = (await call(app, 'GET', `${senders}/Private`)).body
  t.same([mine.status, mine.description], ['enable', ''], 'the sender is untouched')
  t.equal((await call(app, 'GET', `${senders}/Intruder`)).status, 404)

  t.same((await call(app, 'GET', '/1.0/sms/sms-rival-1/senders', undefined, rival)).body, [])
  await call(app, 'POST', '/1.0/sms/sms-rival-1/senders', { sender: 'Private' }, rival)
  t.same(
    (await call(app, 'GET', '/1.0/sms/sms-rival-1/senders/Private', undefined, rival)).body.status,
    'waitingValidation',
    'the same name on another account is another sender',
  )
  t.equal(await statusOf('Private'), 'enable')
})

t.test('requireEnabledSender and defaultSender (the sending path)', async (t) => {
  await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'sms-defaults-1', owner: 1 })
  const id = await accountId('sms-defaults-1')
  const base = '/1.0/sms/sms-defaults-1/senders'
  t.equal(await defaultSender(db, id), null, 'no sender at all')

  await call(app, 'POST', base, { sender: 'Zeta' })
  clock.advance(60_000)
  await call(app, 'POST', base, { sender: 'Alpha' })
  clock.advance(60_000)
  await call(app, 'POST', base, { sender: 'Beta' })
  t.equal(await defaultSender(db, id), null, 'none enabled yet')

  const refusal = (name: string, why: string) =>
    `Invalid sender: "${name}" is not an enabled sender of this account (${why})`
  await t.rejects(requireEnabledSender(db, id, 'Zeta'), {
    statusCode: 400,
    message: refusal('Zeta', 'status waitingValidation'),
  })
  await t.rejects(requireEnabledSender(db, id, 'Nope'), {
    statusCode: 400,
    message: refusal('Nope', 'it does not exist'),
  })
  await t.rejects(
    requireEnabledSender(db, id, 'zeta'),
    { message: refusal('zeta', 'it does not exist') },
    'exact',
  )

  await admin(app, 'POST', '/admin/v1/accounts/sms-defaults-1/senders/Beta/enable')
  t.equal(await defaultSender(db, id), 'Beta')
  await admin(app, 'POST', '/admin/v1/accounts/sms-defaults-1/senders/Alpha/enable')
  await admin(app, 'POST', '/admin/v1/accounts/sms-defaults-1/senders/Zeta/enable')
  t.equal(await defaultSender(db, id), 'Zeta', 'the oldest enabled sender, not the first by name')
  await t.resolves(requireEnabledSender(db, id, 'Zeta'))

  await call(app, 'PUT', `${base}/Zeta`, { status: 'disable' })
  await t.rejects(requireEnabledSender(db, id, 'Zeta'), { message: refusal('Zeta', 'status disable') })
  t.equal(await defaultSender(db, id), 'Alpha')
  await admin(app, 'POST', '/admin/v1/accounts/sms-defaults-1/senders/Alpha/refuse', { comment: 'no' })
  await t.rejects(requireEnabledSender(db, id, 'Alpha'), { message: refusal('Alpha', 'status refused') })
  t.equal(await defaultSender(db, id), 'Beta')
  await call(app, 'DELETE', `${base}/Beta`)
  t.equal(await defaultSender(db, id), null)
  await t.rejects(
    requireEnabledSender(db, await accountId(), 'Zeta'),
    { message: refusal('Zeta', 'it does not exist') },
    'accounts are separate',
  )

  await call(app, 'PUT', `${base}/Zeta`, { status: 'enable' })
  const inTransaction = await db.transaction().execute(async (trx) => {
    await requireEnabledSender(trx, id, 'Zeta')
    return defaultSender(trx, id)
  })
  t.equal(inTransaction, 'Zeta', 'both work inside a transaction')
})
