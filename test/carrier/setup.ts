import { loadConfig } from '../../src/config.js'
import { buildTestApp, call, SERVICE } from '../helpers.js'
import { accountIdOf, enableSender } from '../support/account.js'
import type { Teardown } from '../support/teardown.js'

/** Options of the test SMPP carriers: quick reconnections, short timeouts. */
export const QUICK = 'reconnectS=0.05&timeoutS=3'

export const smppUrl = (port: number, query = '') =>
  `smpp://esme01:secret1@127.0.0.1:${port}?${QUICK}${query ? `&${query}` : ''}`

/**
 * The app (buildTestApp: manual clock, workers off) with the carriers of this CARRIERS / CARRIER_URL
 * environment, parsed by the real configuration; the account has the enabled sender ACME and calls
 * back `callBack` when given. Carriers bind at ready, which this waits for.
 */
export async function carrierApp(
  t: Teardown,
  env: { CARRIERS?: string; CARRIER_URL?: string },
  options: { credits?: number; callBack?: string; stopCallBack?: string } = {},
) {
  const base = loadConfig({})
  const test = await buildTestApp(t, {
    credits: options.credits ?? 1000,
    config: {
      carriers: loadConfig(env).carriers,
      callbacks: { ...base.callbacks, allowPrivate: true, timeoutMs: 5000 },
    },
  })
  const { db } = test.deps.database
  const accountId = await accountIdOf(db, SERVICE)
  await enableSender(db, accountId, 'ACME')
  if (options.callBack || options.stopCallBack) {
    const put = await call(test.app, 'PUT', `/1.0/sms/${SERVICE}`, {
      ...(options.callBack ? { callBack: options.callBack } : {}),
      ...(options.stopCallBack ? { stopCallBack: options.stopCallBack } : {}),
    })
    if (put.status !== 200) throw new Error(`PUT callBack: ${put.status} ${JSON.stringify(put.body)}`)
  }
  await test.app.ready()
  const send = async (receivers: string[], message = 'Hello', extra: Record<string, unknown> = {}) => {
    const response = await call(test.app, 'POST', `/1.0/sms/${SERVICE}/jobs`, {
      message,
      receivers,
      sender: 'ACME',
      noStopClause: true,
      ...extra,
    })
    return response
  }
  const outgoing = (ids: number[]) =>
    db.selectFrom('outgoing').selectAll().where('id', 'in', ids).orderBy('id').execute()
  return { ...test, db, accountId, send, outgoing }
}

/** The callback receiver the carrier tests use: test/support/receiver.ts (answers 200, keeps every query). */
export { callbackReceiver } from '../support/receiver.js'

/** Credits of the account, in credits. */
export async function creditsLeft(app: Awaited<ReturnType<typeof carrierApp>>['app']): Promise<number> {
  return (await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.creditsLeft
}
