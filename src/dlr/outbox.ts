import { sql, type Transaction } from 'kysely'
import type { Database } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { callbackDate, withParams } from './callback-url.js'
import { DLR_STATUS } from './ptt.js'

export const CALLBACK_CHANNEL = 'sms_mirror_callbacks'

type Target = { url: string; secret: string | null }

/**
 * Where a callback goes: the user's URL when set, else the account's (user null: account-level
 * message); signed with the user's secret when set, else the account's, else not at all.
 */
async function callbackTarget(
  trx: Transaction<Database>,
  accountId: number,
  login: string | null,
  column: 'call_back' | 'stop_call_back',
): Promise<Target | null> {
  const account = await trx
    .selectFrom('accounts')
    .select([column, 'callback_secret_enc'])
    .where('id', '=', accountId)
    .executeTakeFirst()
  const user =
    login === null
      ? undefined
      : await trx
          .selectFrom('sms_users')
          .select([column, 'callback_secret_enc'])
          .where('account_id', '=', accountId)
          .where('login', '=', login)
          .executeTakeFirst()
  const url = user?.[column] || account?.[column] || null
  if (!url) return null
  return { url, secret: user?.callback_secret_enc ?? account?.callback_secret_enc ?? null }
}

async function enqueue(
  trx: Transaction<Database>,
  values: {
    account_id: number
    login: string | null
    kind: 'dlr' | 'stop'
    outgoing_id: number | null
    url: string
    signing_secret_enc: string | null
  },
  now: Date,
): Promise<void> {
  await trx
    .insertInto('callback_deliveries')
    .values({ ...values, next_attempt_at: now, created_at: now })
    .execute()
  // Delivered by PostgreSQL at commit only, so a dispatcher never wakes for a row it cannot see yet.
  await sql`select pg_notify(${CALLBACK_CHANNEL}, '')`.execute(trx)
}

/** A status change of an SMS, for its sender's callBack (in the status change's transaction). */
export async function enqueueStatusCallback(
  trx: Transaction<Database>,
  outgoing: OutgoingRow,
  report: { ptt: number; dlr: number },
  now: Date,
): Promise<boolean> {
  const target = await callbackTarget(trx, outgoing.account_id, outgoing.login, 'call_back')
  if (!target) return false
  await enqueue(
    trx,
    {
      account_id: outgoing.account_id,
      login: outgoing.login,
      kind: 'dlr',
      outgoing_id: outgoing.id,
      signing_secret_enc: target.secret,
      url: withParams(target.url, {
        id: outgoing.id,
        ptt: report.ptt,
        date: callbackDate(now),
        description: report.dlr,
        descriptionDlr: DLR_STATUS.get(report.dlr) ?? '',
      }),
    },
    now,
  )
  return true
}

/** A STOP reply, for the stopCallBack of the user who sent the last SMS to that number. */
export async function enqueueStopCallback(
  trx: Transaction<Database>,
  incoming: { id: number; account_id: number; login: string | null; sender: string; message: string },
  now: Date,
): Promise<boolean> {
  const target = await callbackTarget(trx, incoming.account_id, incoming.login, 'stop_call_back')
  if (!target) return false
  await enqueue(
    trx,
    {
      account_id: incoming.account_id,
      login: incoming.login,
      kind: 'stop',
      outgoing_id: null,
      signing_secret_enc: target.secret,
      url: withParams(target.url, {
        id: incoming.id,
        sender: incoming.sender,
        date: callbackDate(now),
        message: incoming.message,
      }),
    },
    now,
  )
  return true
}
