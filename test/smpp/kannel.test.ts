import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { call } from '../helpers.js'
import { freePort } from '../support/ports.js'
import { SMPP_SERVICE, smppApp } from './setup.js'

// Kannel 1.4.5 (bearerbox + smsbox, Debian's `kannel`) as the ESME: an `smsc = smpp` group bound to our
// SMPP server as a transceiver; a message sent through Kannel's own sendsms with dlr-url/dlr-mask.

const BEARERBOX = '/usr/sbin/bearerbox'
const SMSBOX = '/usr/sbin/smsbox'

async function until(condition: () => boolean | Promise<boolean>, what: string, logs: () => string) {
  const started = Date.now()
  while (!(await condition())) {
    // A bound on the wait only, so a failure names what never happened (not a timed assertion).
    if (Date.now() - started > 120_000) throw new Error(`${what} did not happen\n${logs()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

if (![BEARERBOX, SMSBOX].every((file) => existsSync(file))) {
  t.comment(`SKIP: Kannel is not installed (${BEARERBOX}, ${SMSBOX}); .ci/run installs Debian's kannel`)
  t.pass('skipped: no Kannel here')
} else {
  t.test('Kannel binds as transceiver, sends through sendsms, gets our receipt on its dlr-url', async (t) => {
    const test = await smppApp(t, { allowedIps: ['127.0.0.1'], credits: 100 })
    await test.app.smppServer.listen({ host: '127.0.0.1', port: 0 })
    const smppPort = (test.app.smppServer.addresses()[0] as { port: number }).port

    const dlrs: URLSearchParams[] = []
    const receiver = http.createServer((request, response) => {
      dlrs.push(new URL(request.url ?? '/', 'http://x').searchParams)
      response.end('ok')
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()))
    t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())))
    const dlrPort = (receiver.address() as AddressInfo).port

    const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-kannel.'))
    const [adminPort, boxPort, sendsmsPort] = [await freePort(), await freePort(), await freePort()]
    const conf = join(dir, 'kannel.conf')
    writeFileSync(
      conf,
      `group = core
admin-port = ${adminPort}
admin-interface = 127.0.0.1
admin-password = kannel-admin
admin-allow-ip = 127.0.0.1
smsbox-port = ${boxPort}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = ${join(dir, 'bearerbox.log')}
log-level = 1
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = MIRROR
host = 127.0.0.1
port = ${smppPort}
transceiver-mode = true
smsc-username = ${test.systemId}
smsc-password = ${test.password}
system-type = ""
interface-version = 34
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${boxPort}
sendsms-port = ${sendsmsPort}
sendsms-interface = 127.0.0.1
log-file = ${join(dir, 'smsbox.log')}
log-level = 1

group = sendsms-user
username = tester
password = tester-password

group = sms-service
keyword = default
text = "No service specified"
`,
    )
    const children: ChildProcess[] = []
    t.teardown(() => {
      for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    })
    const logs = () =>
      ['bearerbox.log', 'smsbox.log']
        .map((file) => {
          try {
            return `--- ${file}\n${readFileSync(join(dir, file), 'utf8').split('\n').slice(-40).join('\n')}`
          } catch {
            return `--- ${file}: none`
          }
        })
        .join('\n')
    children.push(spawn(BEARERBOX, ['-v', '4', conf], { cwd: dir, stdio: 'ignore' }))
    await until(() => test.app.smppServer.sessionCounts().transceiver === 1, 'Kannel binding', logs)
    children.push(spawn(SMSBOX, ['-v', '4', conf], { cwd: dir, stdio: 'ignore' }))

    const query = new URLSearchParams({
      username: 'tester',
      password: 'tester-password',
      from: 'ACME',
      to: '+33601020304',
      text: 'Hello from Kannel',
      'dlr-mask': '3',
      'dlr-url': `http://127.0.0.1:${dlrPort}/dlr?status=%d&answer=%A`,
    })
    let answer = ''
    await until(
      async () => {
        try {
          const response = await fetch(`http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms?${query}`)
          answer = `${response.status} ${await response.text()}`
          return response.status === 202
        } catch {
          return false
        }
      },
      'sendsms accepting',
      logs,
    )
    t.match(answer, /Accepted|Queued/)

    const { db } = test.deps.database
    await until(
      async () =>
        (await db.selectFrom('outgoing').select('id').where('account_id', '=', test.accountId).execute())
          .length === 1,
      'the message in our history',
      logs,
    )
    const row = await db
      .selectFrom('outgoing')
      .selectAll()
      .where('account_id', '=', test.accountId)
      .executeTakeFirstOrThrow()
    t.match(row, { sender: 'ACME', receiver: '+33601020304', message: 'Hello from Kannel' })
    t.match(row.message_id, /^[0-9a-f-]{36}$/)
    t.equal(
      (await call(test.app, 'GET', `/1.0/sms/${SMPP_SERVICE}`)).body.creditsLeft,
      99,
      'one credit spent',
    )

    await test.app.sendingWorker.runOnce()
    test.clock.advance(1000)
    await test.app.sendingWorker.runOnce()
    await until(
      async () => {
        await test.app.smppDeliveries.runOnce()
        return dlrs.some((p) => p.get('status') === '1')
      },
      'Kannel calling its dlr-url with the delivered status',
      logs,
    )
    const delivered = dlrs.find((p) => p.get('status') === '1') as URLSearchParams
    t.match(delivered.get('answer'), /stat:DELIVRD/, "Kannel passes on our receipt's text")
    const history = await call(test.app, 'GET', `/1.0/sms/${SMPP_SERVICE}/outgoing/${row.id}`)
    t.match(history.body, { messageID: row.message_id, ptt: 4, deliveryReceipt: 1 })
  })
}
