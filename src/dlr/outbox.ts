import { sql, type Transaction } from 'kysely'
import type { Database } from '../db/index.js'
import { callbackDate, withParams } from './callback-url.js'
import { DLR_STATUS } from './ptt.js'

export const CALLBACK_CHANNEL = 'sms_mirror_callbacks'

type Trx = Transaction<Database>
type UrlColumn = 'call_back' | 'stop_call_back'
type Target = { url: string; secret: string | null }
/** Who a callback is for: a user of an account, or the account itself (login null). */
type Owner = { accountId: number; login: string | null }

/**
 * Where each owner's callbacks go: the user's URL when set, else the account's (login null:
 * account-level message); signed with the user's secret when set, else the account's, else not at
 * all. Two queries for any number of owners.
 */
async function callbackTargets(
  trx: Trx,
  owners: readonly Owner[],
  column: UrlColumn,
): Promise<(o: Owner) => Target | null> {
  const accountIds = [...new Set(owners.map((o) => o.accountId))]
  if (accountIds.length === 0) return () => null
  const accounts = await trx
    .selectFrom('accounts')
    .select(['id', column, 'callback_secret_enc'])
    .where('id', 'in', accountIds)
    .execute()
  const logins = [...new Set(owners.flatMap((o) => (o.login === null ? [] : [o.login])))]
  const users =
    logins.length === 0
      ? []
      : await trx
          .selectFrom('sms_users')
          .select(['account_id', 'login', column, 'callback_secret_enc'])
          .where('account_id', 'in', accountIds)
          .where('login', 'in', logins)
          .execute()
  const accountOf = new Map(accounts.map((a) => [a.id, a]))
  const userOf = new Map(users.map((u) => [`${u.account_id}\u0000${u.login}`, u]))
  return (owner) => {
    const account = accountOf.get(owner.accountId)
    const user = owner.login === null ? undefined : userOf.get(`${owner.accountId}\u0000${owner.login}`)
    const url = user?.[column] || account?.[column] || null
    if (!url) return null
    return { url, secret: user?.callback_secret_enc ?? account?.callback_secret_enc ?? null }
  }
}

type Delivery = {
  account_id: number
  login: string | null
  kind: 'dlr' | 'stop' | 'reply'
  outgoing_id: number | null
  url: string
  signing_secret_enc: string | null
}

/** Writes deliveries in the given order (one INSERT); the dispatcher hears of them at commit. */
async function enqueue(trx: Trx, deliveries: readonly Delivery[], now: Date): Promise<number> {
  if (deliveries.length === 0) return 0
  for (let from = 0; from < deliveries.length; from += 1000) {
    await trx
      .insertInto('callback_deliveries')
      .values(
        deliveries.slice(from, from + 1000).map((d) => ({ ...d, next_attempt_at: now, created_at: now })),
      )
      .execute()
  }
  // Delivered by PostgreSQL at commit only, so a dispatcher never wakes for a row it cannot see yet.
  await sql`select pg_notify(${CALLBACK_CHANNEL}, '')`.execute(trx)
  return deliveries.length
}

/** A status change of an SMS, as its callback reports it. */
export type StatusChange = {
  outgoingId: number
  accountId: number
  login: string | null
  ptt: number
  dlr: number
}

/**
 * Status changes of SMS, for their senders' callBack, in the status changes' transaction and in
 * their order (the dispatcher delivers the reports of one SMS in id order). Returns how many
 * deliveries were queued (owners without a callBack get none).
 */
export async function enqueueStatusCallbacks(
  trx: Trx,
  changes: readonly StatusChange[],
  now: Date,
): Promise<number> {
  const targetOf = await callbackTargets(trx, changes, 'call_back')
  const date = callbackDate(now)
  const deliveries: Delivery[] = []
  for (const change of changes) {
    const target = targetOf(change)
    if (!target) continue
    deliveries.push({
      account_id: change.accountId,
      login: change.login,
      kind: 'dlr',
      outgoing_id: change.outgoingId,
      signing_secret_enc: target.secret,
      url: withParams(target.url, {
        id: change.outgoingId,
        ptt: change.ptt,
        date,
        description: change.dlr,
        descriptionDlr: DLR_STATUS.get(change.dlr) ?? '',
      }),
    })
  }
  return enqueue(trx, deliveries, now)
}

/** A STOP reply, for the stopCallBack of the user who sent the last SMS to that number. */
export async function enqueueStopCallback(
  trx: Trx,
  incoming: { id: number; account_id: number; login: string | null; sender: string; message: string },
  now: Date,
): Promise<boolean> {
  const owner = { accountId: incoming.account_id, login: incoming.login }
  const target = (await callbackTargets(trx, [owner], 'stop_call_back'))(owner)
  if (!target) return false
  await enqueue(
    trx,
    [
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
    ],
    now,
  )
  return true
}

/**
 * An incoming SMS for the account's smsResponse.cgiUrl (responseType cgi): signed with the account's
 * callback secret, delivered like every callback (retries, SSRF guard, dead letters).
 */
export async function enqueueReplyCallback(
  trx: Trx,
  incoming: {
    id: number
    account_id: number
    login: string | null
    sender: string
    message: string
    tag: string
  },
  cgiUrl: string,
  now: Date,
): Promise<void> {
  const account = await trx
    .selectFrom('accounts')
    .select(['callback_secret_enc', 'service_name'])
    .where('id', '=', incoming.account_id)
    .executeTakeFirstOrThrow()
  await enqueue(
    trx,
    [
      {
        account_id: incoming.account_id,
        login: incoming.login,
        kind: 'reply',
        outgoing_id: null,
        signing_secret_enc: account.callback_secret_enc,
        url: withParams(cgiUrl, {
          id: incoming.id,
          serviceName: account.service_name,
          sender: incoming.sender,
          message: incoming.message,
          date: callbackDate(now),
          tag: incoming.tag,
        }),
      },
    ],
    now,
  )
}
