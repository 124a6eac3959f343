import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import type { Config } from '../../src/config.js'
import { admin, buildTestApp, call, type TestApp } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'

type Teardown = { teardown(fn: () => unknown): void }

export const SMPP_SERVICE = 'smpp-ab12345-1'

/** A real SMTP sink on 127.0.0.1 that keeps what it receives. */
export async function smtpSink(t: Teardown) {
  const messages: { to: string[]; raw: string }[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        messages.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8').replace(/=\r\n/g, ''),
        })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.server.address() as AddressInfo).port
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `smtp://127.0.0.1:${port}`, messages }
}

export type SmppTestApp = TestApp & { systemId: string; password: string; accountId: number }

/**
 * buildTestApp (manual clock, workers off) plus an smpp- account made through the admin API for the
 * same owner, with `credits`, the enabled sender ACME (alpha) and, when given, allowed IPs.
 */
export async function smppApp(
  t: Teardown,
  options: { credits?: number; config?: Partial<Config>; allowedIps?: string[]; contactEmail?: string } = {},
): Promise<SmppTestApp> {
  const test = await buildTestApp(t, options.config ? { config: options.config } : {})
  const created = await admin(test.app, 'POST', '/admin/v1/accounts', {
    serviceName: SMPP_SERVICE,
    owner: test.ownerId,
    credits: options.credits ?? 100,
  })
  if (created.status !== 200) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`)
  const { db } = test.deps.database
  const accountId = await accountIdOf(db, SMPP_SERVICE)
  await enableSender(db, accountId)
  if (options.contactEmail) {
    await admin(test.app, 'PUT', `/admin/v1/owners/${test.ownerId}`, { contactEmail: options.contactEmail })
  }
  if (options.allowedIps) {
    const put = await call(test.app, 'PUT', `/1.0/sms/${SMPP_SERVICE}/smpp/allowedIPs`, {
      action: 'add',
      ips: options.allowedIps,
    })
    if (put.status !== 200) throw new Error(`allowedIPs: ${put.status} ${JSON.stringify(put.body)}`)
  }
  return {
    ...test,
    systemId: created.body.smppSystemID,
    password: created.body.smppPassword,
    accountId,
  }
}
