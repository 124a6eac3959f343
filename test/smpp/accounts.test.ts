import t from 'tap'
import { admin, call, SERVICE } from '../helpers.js'
import { SMPP_SERVICE, smppApp, smtpSink } from './setup.js'

// The REST side of smpp- accounts: creation, sms.Account, settings, allowed IPs, password mail.

const base = `/1.0/sms/${SMPP_SERVICE}/smpp`

t.test('an smpp- account made by the admin API: system ID and password once, sms.Account', async (t) => {
  const { app, systemId, password, deps } = await smppApp(t)
  t.match(systemId, /^[a-z][a-z0-9]{9}$/)
  t.match(password, /^[A-Za-z0-9]{8}$/)
  const account = await call(app, 'GET', `/1.0/sms/${SMPP_SERVICE}`)
  t.equal(account.body.smpp, true)
  t.equal(account.body.channel, 'transactional')
  t.notOk('smppPassword' in account.body, 'the password is not shown again')
  const plain = await call(app, 'GET', `/1.0/sms/${SERVICE}`)
  t.equal(plain.body.smpp, false)
  t.equal(plain.body.channel, 'both')
  const row = await deps.database.db
    .selectFrom('smpp_accounts')
    .selectAll()
    .where('system_id', '=', systemId)
    .executeTakeFirstOrThrow()
  t.not(row.password_enc, password, 'stored sealed')
  t.equal(deps.secretBox.open(row.password_enc), password)
})

t.test('settings: WAITING_IP until an IP is allowed, then SUCCESS; endpoints host:port', async (t) => {
  const { app, systemId } = await smppApp(t, {
    config: {
      smpp: {
        ...(await import('../../src/config.js')).loadConfig({}).smpp,
        publicHost: 'smpp.example.net',
        port: 2775,
        tlsPort: 2776,
      },
    },
  })
  const before = await call(app, 'GET', `${base}/settings`)
  t.equal(before.status, 200)
  t.same(before.body, {
    endpoints: [{ secured: 'smpp.example.net:2776', unsecured: 'smpp.example.net:2775' }],
    status: 'WAITING_IP',
    systemID: systemId,
    throughput: 20,
    windowing: 10,
  })
  await call(app, 'PUT', `${base}/allowedIPs`, { action: 'add', ips: ['192.0.2.10'] })
  t.equal((await call(app, 'GET', `${base}/settings`)).body.status, 'SUCCESS')
})

t.test(
  'allowed IPs: add, remove, canonical forms, CIDR, bad entries refused with nothing changed',
  async (t) => {
    const { app } = await smppApp(t)
    t.same((await call(app, 'GET', `${base}/allowedIPs`)).body, [])
    const added = await call(app, 'PUT', `${base}/allowedIPs`, {
      action: 'add',
      ips: ['192.0.2.10', '198.51.100.77/24', '2001:DB8:0::1', '2001:db8:1::/48', '::ffff:203.0.113.5'],
    })
    t.equal(added.status, 200)
    t.same(added.body, ['192.0.2.10', '198.51.100.0/24', '2001:db8::1', '2001:db8:1::/48', '203.0.113.5'])
    const again = await call(app, 'PUT', `${base}/allowedIPs`, { action: 'add', ips: ['192.0.2.10'] })
    t.equal(again.body.length, 5, 'an entry already there is not repeated')
    for (const bad of ['300.1.1.1', '192.0.2.1/33', 'example.com', '10.0.0.1/x', 'fe80::1%eth0', '']) {
      const refused = await call(app, 'PUT', `${base}/allowedIPs`, {
        action: 'add',
        ips: ['192.0.2.99', bad],
      })
      t.equal(refused.status, 400, `${JSON.stringify(bad)} refused`)
      t.match(refused.body.message, /Invalid ips/)
    }
    const unknownAction = await call(app, 'PUT', `${base}/allowedIPs`, { action: 'replace', ips: [] })
    t.equal(unknownAction.status, 400)
    const removed = await call(app, 'PUT', `${base}/allowedIPs`, {
      action: 'remove',
      ips: ['198.51.100.0/24', '2001:db8::1', '192.0.2.250'],
    })
    t.same(removed.body, ['192.0.2.10', '2001:db8:1::/48', '203.0.113.5'])
    t.same((await call(app, 'GET', `${base}/allowedIPs`)).body, removed.body)
  },
)

t.test('/smpp/* on an sms- account → 400; on another owner’s account → 404', async (t) => {
  const { app } = await smppApp(t)
  for (const [method, path, body] of [
    ['GET', 'settings'],
    ['GET', 'allowedIPs'],
    ['PUT', 'allowedIPs', { action: 'add', ips: ['192.0.2.1'] }],
    ['POST', 'password'],
  ] as const) {
    const response = await call(app, method, `/1.0/sms/${SERVICE}/smpp/${path}`, body)
    t.equal(response.status, 400, `${method} ${path}`)
    t.match(response.body.message, /not an SMPP account/)
  }
  const other = await admin(app, 'POST', '/admin/v1/owners', { name: 'other' })
  await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'smpp-other-1', owner: other.body.id })
  const foreign = await call(app, 'GET', '/1.0/sms/smpp-other-1/smpp/settings')
  t.equal(foreign.status, 404)
})

t.test('owners get a contactEmail (admin API); a bad address is refused', async (t) => {
  const { app, ownerId } = await smppApp(t)
  const created = await admin(app, 'POST', '/admin/v1/owners', {
    name: 'beta',
    contactEmail: 'ops@beta.example',
  })
  t.same(created.body, { id: created.body.id, name: 'beta', contactEmail: 'ops@beta.example' })
  const set = await admin(app, 'PUT', `/admin/v1/owners/${ownerId}`, { contactEmail: 'noc@acme.example' })
  t.equal(set.body.contactEmail, 'noc@acme.example')
  const bad = await admin(app, 'PUT', `/admin/v1/owners/${ownerId}`, { contactEmail: 'not an address' })
  t.equal(bad.status, 400)
  t.match(bad.body.message, /contactEmail/)
  t.equal((await admin(app, 'PUT', '/admin/v1/owners/999999', { contactEmail: null })).status, 404)
})

t.test('password regeneration: 400 without SMTP or contact address, nothing changed', async (t) => {
  const { app, deps, accountId } = await smppApp(t)
  const sealed = async () =>
    (
      await deps.database.db
        .selectFrom('smpp_accounts')
        .select('password_enc')
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow()
    ).password_enc
  const before = await sealed()
  const noSmtp = await call(app, 'POST', `${base}/password`)
  t.equal(noSmtp.status, 400)
  t.match(noSmtp.body.message, /SMTP_URL/)
  t.equal(await sealed(), before)
  const sink = await smtpSink(t)
  const withSmtp = await smppApp(t, { config: { alerts: { ...deps.config.alerts, smtpUrl: sink.url } } })
  const noAddress = await call(withSmtp.app, 'POST', `${base}/password`)
  t.equal(noAddress.status, 400)
  t.match(noAddress.body.message, /contact e-mail/)
  const mails = await withSmtp.deps.database.db.selectFrom('alerts').select('id').execute()
  t.equal(mails.length, 0, 'no mail queued')
})

t.test('password regeneration mails a new password to a real SMTP sink; not in the answer', async (t) => {
  const sink = await smtpSink(t)
  const { app, deps, accountId, password } = await smppApp(t, {
    contactEmail: 'noc@acme.example',
    config: { alerts: { smtpUrl: sink.url, from: 'sms-mirror <smpp@example.net>', retryScheduleMs: [1000] } },
  })
  const answer = await call(app, 'POST', `${base}/password`)
  t.equal(answer.status, 200)
  t.equal(answer.body, null)
  const row = await deps.database.db
    .selectFrom('smpp_accounts')
    .selectAll()
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow()
  const fresh = deps.secretBox.open(row.password_enc)
  t.not(fresh, password, 'replaced at once')
  t.equal(row.password_version, 2)
  const queued = await deps.database.db.selectFrom('alerts').selectAll().executeTakeFirstOrThrow()
  t.equal(queued.kind, 'smpp_password')
  t.not(queued.secret_enc, null)
  t.notOk(String(queued.secret_enc).includes(fresh), 'sealed in the outbox')
  await app.alertDispatcher.runOnce()
  t.equal(sink.messages.length, 1)
  t.same(sink.messages[0]?.to, ['noc@acme.example'])
  t.match(sink.messages[0]?.raw, new RegExp(`Password: ${fresh}`))
  const sent = await deps.database.db.selectFrom('alerts').selectAll().executeTakeFirstOrThrow()
  t.equal(sent.mail_state, 'sent')
  t.equal(sent.secret_enc, null, 'the outbox forgets the password once sent')
})
