import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { connectSmpp, type Pdu, type SmppSession, STATUS } from '../../src/smpp/session.js'
import { encodeText } from '../../src/smpp/short-message.js'
import { call } from '../helpers.js'
import { SMPP_SERVICE, type SmppTestApp, smppApp, smtpSink } from './setup.js'

// The SMPP server with the `smpp` library (through src/smpp/session.ts) as the ESME, on 127.0.0.1.

type Teardown = { teardown(fn: () => unknown): void }
const base = `/1.0/sms/${SMPP_SERVICE}`

async function listening(t: Teardown, test: SmppTestApp) {
  await test.app.smppServer.listen({ host: '127.0.0.1', port: 0, tlsPort: undefined })
  const { port } = test.app.smppServer.addresses()[0] as { port: number }
  const open = async (localAddress?: string) => {
    const session = await connectSmpp({
      host: '127.0.0.1',
      port,
      timeoutMs: 10_000,
      ...(localAddress ? { localAddress } : {}),
    })
    t.teardown(() => session.destroy())
    return session
  }
  return { port, open }
}

const bind = (session: SmppSession, system_id: string, password: string, mode = 'bind_transceiver') =>
  session.request(mode, { system_id, password, interface_version: 0x34 }, 10_000)

const submit = (session: SmppSession, text: string, extra: Record<string, unknown> = {}) => {
  const [part] = encodeText(text, /^[\x20-\x7e]*$/.test(text) ? '7bits' : 'unicode', 1)
  return session.request(
    'submit_sm',
    {
      source_addr_ton: 5,
      source_addr_npi: 0,
      source_addr: 'ACME',
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: '33601020304',
      ...part,
      ...extra,
    },
    30_000,
  )
}

/** Waits for a condition (polled), never for a fixed time. */
async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10))
}

const credits = async (test: SmppTestApp) => (await call(test.app, 'GET', base)).body.creditsLeft
const outgoingCount = async (test: SmppTestApp) =>
  Number(
    (
      await test.deps.database.db
        .selectFrom('outgoing')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('account_id', '=', test.accountId)
        .executeTakeFirstOrThrow()
    ).n,
  )

t.test(
  'binds: refused for a wrong password, system ID, address, empty list; throttled after failures',
  async (t) => {
    const test = await smppApp(t, {
      allowedIps: ['127.0.0.1'],
      config: { smpp: { ...loadConfig({}).smpp, bindFailures: 4 } },
    })
    const { open } = await listening(t, test)
    const s1 = await open()
    t.equal((await bind(s1, test.systemId, 'wrong123')).command_status, STATUS.ESME_RINVPASWD)
    t.equal((await bind(s1, 'nosuchid01', test.password)).command_status, STATUS.ESME_RBINDFAIL)
    const stranger = await open('127.0.0.2')
    t.equal(
      (await bind(stranger, test.systemId, test.password)).command_status,
      STATUS.ESME_RBINDFAIL,
      'right credentials from an address outside allowedIPs: a stranger is not told which part is wrong',
    )
    // 127.0.0.1 has failed twice: two more and it is throttled, even with the right password.
    t.equal((await bind(s1, test.systemId, 'wrong456')).command_status, STATUS.ESME_RINVPASWD)
    t.equal((await bind(s1, test.systemId, 'wrong789')).command_status, STATUS.ESME_RINVPASWD)
    t.equal((await bind(s1, test.systemId, test.password)).command_status, STATUS.ESME_RBINDTHROTTLED)
    test.clock.advance(5 * 60_000 + 1)
    const bound = await bind(s1, test.systemId, test.password)
    t.equal(bound.command_status, STATUS.ESME_ROK, 'the window passed: binds again')
    t.equal(bound.system_id, 'sms-mirror')
    t.equal((await bind(s1, test.systemId, test.password)).command_status, STATUS.ESME_RALYBND)
    const second = await open()
    t.equal(
      (await bind(second, test.systemId, test.password)).command_status,
      STATUS.ESME_RALYBND,
      'one transceiver per account by default',
    )
    t.equal((await s1.request('enquire_link', {}, 10_000)).command_status, STATUS.ESME_ROK)
    for (const command of ['query_sm', 'cancel_sm', 'replace_sm']) {
      const answer = await s1.request(command, { message_id: 'x', source_addr: 'ACME' }, 10_000)
      t.equal(answer.command_status, STATUS.ESME_RINVCMDID, `${command} not supported`)
    }
    const health = await test.app.inject({ method: 'GET', url: '/health' })
    t.match(health.json(), { status: 'ok', smpp: { listening: true, addresses: [/^127\.0\.0\.1:\d+$/] } })
    const metrics = await test.app.inject({ method: 'GET', url: '/metrics' })
    t.match(metrics.body, /sms_mirror_smpp_sessions_bound\{mode="transceiver"\} 1/)
    t.match(metrics.body, /sms_mirror_smpp_binds_refused_total\{reason="throttled"\} 1/)
    t.equal((await s1.request('unbind', {}, 10_000)).command_status, STATUS.ESME_ROK)
    await new Promise<void>((resolve) => s1.onClose(() => resolve()))
    await until(() => test.app.smppServer.sessionCounts().transceiver === 0)
    t.equal((await bind(second, test.systemId, test.password)).command_status, STATUS.ESME_ROK, 'free again')
  },
)

t.test('an account with no allowed IP binds nobody (WAITING_IP)', async (t) => {
  const test = await smppApp(t)
  const { open } = await listening(t, test)
  const session = await open()
  t.equal((await bind(session, test.systemId, test.password)).command_status, STATUS.ESME_RBINDFAIL)
})

t.test('a transmitter and a receiver pair; a receiver cannot submit', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.0/8'] })
  const { open } = await listening(t, test)
  const tx = await open()
  const rx = await open()
  t.equal((await bind(tx, test.systemId, test.password, 'bind_transmitter')).command_status, STATUS.ESME_ROK)
  t.equal((await bind(rx, test.systemId, test.password, 'bind_receiver')).command_status, STATUS.ESME_ROK)
  const third = await open()
  t.equal(
    (await bind(third, test.systemId, test.password, 'bind_receiver')).command_status,
    STATUS.ESME_RALYBND,
  )
  t.equal((await submit(rx, 'Hello')).command_status, STATUS.ESME_RINVBNDSTS)
})

t.test(
  'submit_sm GSM, UCS2 and a 3-part message: credits spent exactly, history rows with messageID',
  async (t) => {
    const test = await smppApp(t, { allowedIps: ['127.0.0.1'], credits: 100 })
    const { open } = await listening(t, test)
    const session = await open()
    await bind(session, test.systemId, test.password)
    const gsm = await submit(session, 'Hello from SMPP')
    t.equal(gsm.command_status, STATUS.ESME_ROK)
    t.match(gsm.message_id, /^[0-9a-f-]{36}$/)
    const ucs2 = await submit(session, 'Привет 👋')
    t.equal(ucs2.command_status, STATUS.ESME_ROK)
    const long = 'x'.repeat(400)
    const parts = encodeText(long, '7bits', 42)
    t.equal(parts.length, 3)
    const partIds: string[] = []
    for (const part of parts) {
      const answer = await submit(session, '', part)
      t.equal(answer.command_status, STATUS.ESME_ROK)
      partIds.push(answer.message_id as string)
    }
    t.equal(await credits(test), 95, '1 + 1 + 3 parts at 1 credit')
    await test.app.sendingWorker.runOnce()
    const ids = (await call(test.app, 'GET', `${base}/outgoing`)).body as number[]
    t.equal(ids.length, 5)
    const rows = await Promise.all(
      ids.map(async (id) => (await call(test.app, 'GET', `${base}/outgoing/${id}`)).body),
    )
    const byMessage = new Map(rows.map((row) => [row.messageID, row]))
    t.match(byMessage.get(gsm.message_id), {
      message: 'Hello from SMPP',
      sender: 'ACME',
      receiver: '+33601020304',
    })
    t.match(byMessage.get(ucs2.message_id), { message: 'Привет 👋' })
    for (const id of partIds) t.ok(byMessage.has(id), 'each part is a row of its own')
    const filtered = await call(test.app, 'GET', `${base}/outgoing?messageID=${gsm.message_id}`)
    t.equal(filtered.body.length, 1)
  },
)

t.test('refusals answer their SMPP status and write nothing', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.1'], credits: 1 })
  const { open } = await listening(t, test)
  const session = await open()
  await bind(session, test.systemId, test.password)
  const cases: [string, Record<string, unknown>, number][] = [
    ['unknown sender', { source_addr: 'NOBODY' }, STATUS.ESME_RINVSRCADR],
    ['bad source ton', { source_addr_ton: 7 }, STATUS.ESME_RINVSRCTON],
    ['bad destination', { destination_addr: '12ab' }, STATUS.ESME_RINVDSTADR],
    ['bad coding', { data_coding: 0x05 }, STATUS.ESME_RUNSDATACODING],
    ['not GSM 03.38', { short_message: Buffer.from([0x48, 0xff]) }, STATUS.ESME_RINVGSM7CODING],
    ['bad validity', { validity_period: 'tomorrow' }, STATUS.ESME_RINVEXPIRY],
    ['bad schedule', { schedule_delivery_time: '261399120000000+' }, STATUS.ESME_RINVSCHED],
    ['expired already', { validity_period: '000000000000000R' }, STATUS.ESME_RINVEXPIRY],
  ]
  for (const [name, extra, status] of cases) {
    t.equal((await submit(session, 'Hello', extra)).command_status, status, name)
  }
  const parts = encodeText('y'.repeat(300), '7bits', 7)
  t.equal((await submit(session, '', parts[0])).command_status, STATUS.ESME_ROK, 'the last credit')
  t.equal((await submit(session, 'Hello')).command_status, STATUS.ESME_RSUBMITFAIL, 'not enough credits')
  t.equal(await credits(test), 0)
  t.equal(await outgoingCount(test), 1, 'only the accepted one was written')
})

t.test('the 21st submit in one second and the 11th unanswered one → ESME_RTHROTTLED', async (t) => {
  const test = await smppApp(t, { allowedIps: ['127.0.0.1'], credits: 1000 })
  const { open } = await listening(t, test)
  const session = await open()
  await bind(session, test.systemId, test.password)
  // The manual clock does not move: all of these are in one second (one at a time: the window is 10).
  const statuses: number[] = []
  for (let i = 0; i < 21; i++) statuses.push((await submit(session, 'Hi')).command_status)
  t.equal(statuses.filter((s) => s === STATUS.ESME_ROK).length, 20)
  t.equal(statuses[20], STATUS.ESME_RTHROTTLED, 'the 21st')
  test.clock.advance(1000)

  // Hold the account's row: the sends wait in their transaction and stay unanswered.
  const { db } = test.deps.database
  let release = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  let locked = () => {}
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve
  })
  const holder = db.transaction().execute(async (trx) => {
    await trx.selectFrom('accounts').select('id').where('id', '=', test.accountId).forUpdate().execute()
    locked()
    await held
  })
  await isLocked
  const pending = Array.from({ length: 10 }, () => submit(session, 'Hi'))
  const eleventh = await submit(session, 'Hi')
  t.equal(eleventh.command_status, STATUS.ESME_RTHROTTLED, 'the window of 10 is full')
  release()
  await holder
  const released = await Promise.all(pending)
  t.same(
    released.map((a) => a.command_status),
    Array(10).fill(STATUS.ESME_ROK),
  )
  t.equal(await outgoingCount(test), 30)
})

t.test(
  'a regenerated password: mailed; sessions bound stay up; the old one no longer binds, the new one does',
  async (t) => {
    const sink = await smtpSink(t)
    const test = await smppApp(t, {
      allowedIps: ['127.0.0.1'],
      contactEmail: 'noc@acme.example',
      config: {
        smpp: { ...loadConfig({}).smpp, bindsPerAccount: 2 },
        alerts: { smtpUrl: sink.url, from: 'smpp@example.net', retryScheduleMs: [1000] },
      },
    })
    const { open } = await listening(t, test)
    const before = await open()
    t.equal((await bind(before, test.systemId, test.password)).command_status, STATUS.ESME_ROK)
    t.equal((await call(test.app, 'POST', `${base}/smpp/password`)).status, 200)
    await test.app.alertDispatcher.runOnce()
    const mailed = /Password: (\S+)/.exec(sink.messages[0]?.raw ?? '')?.[1] as string
    t.ok(mailed, 'the mail carries the password')
    t.equal((await before.request('enquire_link', {}, 10_000)).command_status, STATUS.ESME_ROK, 'still bound')
    t.equal((await submit(before, 'still here')).command_status, STATUS.ESME_ROK)
    const old = await open()
    t.equal((await bind(old, test.systemId, test.password)).command_status, STATUS.ESME_RINVPASWD)
    t.equal((await bind(old, test.systemId, mailed)).command_status, STATUS.ESME_ROK)
  },
)

t.test('the server unbinds a session after SMPP_SESSION_MAX_S', async (t) => {
  const test = await smppApp(t, {
    allowedIps: ['127.0.0.1'],
    config: { smpp: { ...loadConfig({}).smpp, sessionMaxMs: 300 } },
  })
  const { open } = await listening(t, test)
  const session = await open()
  const unbound = new Promise<Pdu>((resolve) =>
    session.onRequest((pdu) => {
      if (pdu.command === 'unbind') {
        session.respond(pdu)
        resolve(pdu)
      }
    }),
  )
  await bind(session, test.systemId, test.password)
  t.equal((await unbound).command, 'unbind')
  await new Promise<void>((resolve) => session.onClose(() => resolve()))
  t.notOk(session.isOpen)
})
