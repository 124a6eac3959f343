/**
 * End to end through a real upstream: the official `ovh` client (unmodified, over TLS, in a child
 * process) sends → the fake SMSC receives submit_sm with the right source, destination and text →
 * the SMSC sends a receipt → the user's callBack URL (a real HTTP receiver) is called with ptt 4.
 */
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { buildApp } from '../../src/app.js'
import { systemClock } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import type { AppDeps } from '../../src/context.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { DEFAULT_STOP_MENTION } from '../../src/sending/encoding.js'
import { ADMIN_TOKEN, createKeys, createTestDatabase, SERVICE, TEST_SECRET } from '../helpers.js'
import { repoFile } from '../support/paths.js'
import { devCert } from '../support/tls.js'
import { FakeSmsc, waitFor } from './fake-smsc.js'
import { callbackReceiver, smppUrl } from './setup.js'

const FIXTURE = repoFile('test/fixtures/official-clients.mjs')

// A certificate for localhost and 127.0.0.1 (`sms-mirror dev-cert`), trusted by the client processes only.
const { certFile: certPath, cert, key } = devCert(t)

t.test('ovh client → submit_sm at the SMSC → receipt → callBack with ptt 4', async (t) => {
  const smsc = await FakeSmsc.start()
  t.teardown(() => smsc.close())
  const receiver = await callbackReceiver(t)
  const { database, config } = await createTestDatabase(t)
  const owner = await createOwner(database.db, 'acme')
  const account = await createAccount(database.db, { ownerId: owner.id, serviceName: SERVICE, credits: 50 })
  await database.db
    .insertInto('senders')
    .values({ account_id: account.id, sender: 'ACME', status: 'enable', type: 'alpha' })
    .execute()
  const deps: AppDeps = {
    config: {
      ...config,
      adminToken: ADMIN_TOKEN,
      sendingPollMs: 20,
      carriers: loadConfig({ CARRIER_URL: smppUrl(smsc.port) }).carriers,
      callbacks: { ...config.callbacks, allowPrivate: true, timeoutMs: 2000 },
    },
    database,
    secretBox: createSecretBox(TEST_SECRET),
    clock: systemClock,
  }
  // Workers on: the sending worker and the callback dispatcher run as in production.
  const app = await buildApp(deps, {
    logger: false,
    https: { key, cert },
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const keys = await createKeys(app, owner.id, [
    { method: 'POST', path: '/*' },
    { method: 'PUT', path: '/*' },
  ])

  const users = `/sms/${SERVICE}/users`
  const results = await new Promise<{ ok: boolean; value?: unknown; error?: unknown }[]>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [FIXTURE], {
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: certPath },
      })
      let output = ''
      child.stdout?.on('data', (chunk) => {
        output += chunk
      })
      child.stderr?.on('data', (chunk) => {
        output += chunk
      })
      child.on('message', (message: { results?: { ok: boolean }[][] }) => {
        if (message.results) resolve(message.results[0] ?? [])
      })
      child.on('exit', (code) => reject(new Error(`client exited (${code}) without results: ${output}`)))
      child.send({
        jobs: [
          {
            client: 'ovh',
            config: {
              appKey: keys.applicationKey,
              appSecret: keys.applicationSecret,
              consumerKey: keys.consumerKey,
              host: '127.0.0.1',
              port,
              basePath: '/1.0',
            },
            calls: [
              ['POST', users, { login: 'mobile01', password: 'abcd1234' }],
              ['PUT', `${users}/mobile01`, { callBack: receiver.url }],
              [
                'POST',
                `${users}/mobile01/jobs`,
                { message: 'Votre colis arrive demain', receivers: ['+33601020304'], sender: 'ACME' },
              ],
            ],
          },
        ],
      })
    },
  )
  t.match(results, [{ ok: true }, { ok: true }, { ok: true, value: { validReceivers: ['+33601020304'] } }])
  const id = (results[2]?.value as { ids: number[] } | undefined)?.ids[0]

  await waitFor('the submit_sm at the SMSC', () => smsc.submits.length === 1)
  const [submit] = smsc.submits
  t.match(submit?.pdu, { source_addr: 'ACME', destination_addr: '33601020304', registered_delivery: 1 })
  t.equal(submit?.text, `Votre colis arrive demain${DEFAULT_STOP_MENTION}`, 'the text with its STOP mention')

  t.equal(await smsc.receipt(submit?.messageId as string, 'DELIVRD'), 0, 'the receipt is acknowledged')
  await waitFor('the callBack with ptt 4', () => receiver.calls.some((q) => q.get('ptt') === '4'))
  t.same(
    receiver.calls.map((q) => [q.get('id'), q.get('ptt'), q.get('description')]),
    [
      [String(id), '3', '8'],
      [String(id), '4', '1'],
    ],
  )
})
