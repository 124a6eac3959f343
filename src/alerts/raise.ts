import type { Transaction } from 'kysely'
import type { Database } from '../db/index.js'

/**
 * Called in the transaction of a send that spent a user's quota from `before` to `after`
 * (hundredths): when that crosses the user's alert threshold downwards, an alert row is written
 * for the dispatcher. Only a crossing alerts, so there is no second alert until the quota has gone
 * back above the threshold (a quota raise or a refund) and a send crosses it again.
 */
export async function raiseAlertIfCrossed(
  trx: Transaction<Database>,
  accountId: number,
  login: string,
  before: number,
  after: number,
  now: Date,
): Promise<boolean> {
  const user = await trx
    .selectFrom('sms_users')
    .select(['alert_threshold', 'alert_support', 'alert_email', 'alert_number'])
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .executeTakeFirst()
  if (!user || user.alert_threshold < 0) return false
  const threshold = user.alert_threshold * 100
  if (!(before > threshold && after <= threshold)) return false
  const support = user.alert_support as 'mail' | 'sms' | 'both'
  const wantsMail = support !== 'sms'
  const wantsSms = support !== 'mail'
  await trx
    .insertInto('alerts')
    .values({
      account_id: accountId,
      login,
      support,
      email: user.alert_email,
      number: user.alert_number,
      threshold: user.alert_threshold,
      quota_left: after,
      mail_state: wantsMail ? 'pending' : 'none',
      sms_state: wantsSms ? 'pending' : 'none',
      next_attempt_at: now,
      created_at: now,
    })
    .execute()
  return true
}
