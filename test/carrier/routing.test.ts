/**
 * Two SMPP carriers with prefixes: each message goes to its own SMSC; a receiver no carrier takes is
 * refused at send time; what reaches the SMSC is what the phone shows (sender, number, text with the
 * STOP mention of commercial messages, in the parts it was charged for).
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import { DEFAULT_STOP_MENTION, stopMentionProblem, textAsSent } from '../../src/sending/encoding.js'
import { call, SERVICE } from '../helpers.js'
import { nodeCommand } from '../support/paths.js'
import { FakeSmsc } from './fake-smsc.js'
import { carrierApp, smppUrl } from './setup.js'

t.test('two carriers with prefixes route each message to the right SMSC', async (t) => {
  const france = await FakeSmsc.start()
  const uk = await FakeSmsc.start()
  t.teardown(() => Promise.all([france.close(), uk.close()]))
  const { app, send, outgoing } = await carrierApp(t, {
    CARRIERS: JSON.stringify([
      { name: 'fr', url: smppUrl(france.port), prefixes: ['33'] },
      { name: 'uk', url: smppUrl(uk.port), prefixes: ['44'] },
    ]),
  })
  const sent = await send(['+33601020304', '+447911123456', '+33611223344'])
  t.equal(sent.status, 200)
  await app.sendingWorker.runOnce()
  t.same(
    france.submits.map((s) => s.destination),
    ['33601020304', '33611223344'],
  )
  t.same(
    uk.submits.map((s) => s.destination),
    ['447911123456'],
  )
  t.same(
    (await outgoing(sent.body.ids)).map((r) => [r.receiver, r.carrier, r.state]),
    [
      ['+33601020304', 'fr', 'submitted'],
      ['+447911123456', 'uk', 'submitted'],
      ['+33611223344', 'fr', 'submitted'],
    ],
  )

  const before = (await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.creditsLeft
  const refused = await send(['+33601020399', '+14155550100'])
  t.equal(refused.status, 400, 'a receiver no carrier takes: 400')
  t.match(refused.body.message, /no carrier is configured for \+14155550100/)
  t.equal((await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.creditsLeft, before, 'nothing spent')
  const http2sms = await app.inject({
    method: 'GET',
    url: '/cgi-bin/sms/http2sms.cgi?account=x&login=y&password=z&from=ACME&to=%2B14155550100&message=hi',
  })
  t.equal(http2sms.statusCode, 200, 'http2sms answers 200 as always (its own status in the body)')
})

t.test('submit_sm carries the sender, the number and the text the phone shows', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const { app, send } = await carrierApp(t, { CARRIER_URL: smppUrl(smsc.port) })
  await send(['+33601020304'], 'Promo -20% today', { noStopClause: false })
  await send(['+33601020305'], 'Your code is 1234', { noStopClause: true })
  await send(['+33601020306'], 'Flash!', { class: 'flash' })
  await app.db.insertInto('senders').values({ account_id: 1, sender: '36180', status: 'enable' }).execute()
  await send(['+33601020307'], 'From a short code', { sender: '36180' })
  const long = 'x'.repeat(150)
  await send(['+33601020308'], long, { noStopClause: false })
  await app.sendingWorker.runOnce()
  const [promo, code, flash, short, ...parts] = smsc.submits
  t.match(promo?.pdu, {
    source_addr: 'ACME',
    source_addr_ton: 5,
    source_addr_npi: 0,
    destination_addr: '33601020304',
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    registered_delivery: 1,
    data_coding: 0,
  })
  t.equal(
    promo?.text,
    `Promo -20% today${DEFAULT_STOP_MENTION}`,
    'a commercial message ends with the STOP mention',
  )
  t.equal(code?.text, 'Your code is 1234', 'noStopClause: the text alone')
  t.equal(flash?.pdu.data_coding, 0xf0, 'class flash: GSM 7-bit, class 0')
  t.equal(flash?.text, `Flash!`)
  t.match(short?.pdu, { source_addr: '36180', source_addr_ton: 3, source_addr_npi: 1 })
  t.equal(parts.length, 2, '150 characters and the 11 of the mention: 2 parts, as charged')
  const row = await app.db
    .selectFrom('outgoing')
    .select(['number_of_sms', 'credits'])
    .where('receiver', '=', '+33601020308')
    .executeTakeFirstOrThrow()
  t.equal(row.number_of_sms, 2)
  t.equal(parts.map((p) => p.text).join(''), textAsSent(long, false, DEFAULT_STOP_MENTION))
})

t.test('STOP_MENTION must cost what the pricing counts', async (t) => {
  t.equal(stopMentionProblem(DEFAULT_STOP_MENTION), null)
  t.equal(stopMentionProblem('\nSTOP 36180'), null)
  t.match(stopMentionProblem('STOP au 36180'), /exactly 11 characters/)
  t.match(stopMentionProblem('\nSTOP 3618€'), /GSM 03.38 basic characters/)
  // The process stops with one line naming the variable (and never a password).
  const started = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const [node, ...args] = nodeCommand('src/server.ts')
      const child = spawn(node, args, {
        env: { PATH: process.env.PATH ?? '', DATA_DIR: 'memory', PORT: '0', LOG_LEVEL: 'silent', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
      })
      let stderr = ''
      child.stderr?.on('data', (chunk) => {
        stderr += chunk
      })
      child.on('exit', (code) => resolve({ code, stderr }))
    })
  const mention = await started({ STOP_MENTION: 'STOP' })
  t.equal(mention.code, 1)
  t.match(mention.stderr, /bad configuration: STOP_MENTION: must be exactly 11 characters/)
  const carriers = await started({ CARRIER_URL: 'smpp://acme:Sup3rSecr@127.0.0.1?window=none' })
  t.equal(carriers.code, 1)
  t.match(carriers.stderr, /bad configuration: CARRIER_URL: window must be an integer from 1 to 1000/)
  t.notMatch(carriers.stderr, /Sup3rSecr/)
})
