import type { Transaction } from 'kysely'
import type { AlertSettings } from '../accounts/ledger.js'
import type { Database } from '../db/index.js'

/** A user's quota went from `before` to `after` (hundredths) in one batch of sends. */
export type QuotaDrop = {
  accountId: number
  login: string
  before: number
  after: number
  /** The user's alert settings, as the spend read them. */
  alert: AlertSettings
}

/** Only a crossing alerts: no second alert until the quota has gone back above the threshold. */
export function crossesThreshold(drop: QuotaDrop): boolean {
  if (drop.alert.threshold < 0) return false
  const threshold = drop.alert.threshold * 100
  return drop.before > threshold && drop.after <= threshold
}

/**
 * The alerts of the quota drops that cross their user's alert threshold downwards, written in the
 * sends' transaction (one INSERT) for the alert dispatcher to deliver after commit. Returns how many.
 */
export async function raiseAlerts(
  trx: Transaction<Database>,
  drops: readonly QuotaDrop[],
  now: Date,
): Promise<number> {
  const crossing = drops.filter(crossesThreshold)
  if (crossing.length === 0) return 0
  await trx
    .insertInto('alerts')
    .values(
      crossing.map((drop) => ({
        account_id: drop.accountId,
        login: drop.login,
        support: drop.alert.support,
        email: drop.alert.email,
        number: drop.alert.number,
        threshold: drop.alert.threshold,
        quota_left: drop.after,
        mail_state: drop.alert.support !== 'sms' ? 'pending' : 'none',
        sms_state: drop.alert.support !== 'mail' ? 'pending' : 'none',
        next_attempt_at: now,
        created_at: now,
      })),
    )
    .execute()
  return crossing.length
}
