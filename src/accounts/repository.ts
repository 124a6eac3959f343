import { sql, type Transaction } from 'kysely'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow, AccountUpdate, NewAccount } from '../db/schema.js'

type Executor = Db | Transaction<Database>

export async function listServiceNames(db: Executor, scope: Scope): Promise<string[]> {
  let query = db.selectFrom('accounts').select('service_name').orderBy('service_name')
  if (scope.ownerId !== undefined) query = query.where('owner_id', '=', scope.ownerId)
  const rows = await query.execute()
  return rows.map((r) => r.service_name)
}

export async function findAccount(
  db: Executor,
  scope: Scope,
  serviceName: string,
): Promise<AccountRow | undefined> {
  let query = db.selectFrom('accounts').selectAll().where('service_name', '=', serviceName)
  if (scope.ownerId !== undefined) query = query.where('owner_id', '=', scope.ownerId)
  return query.executeTakeFirst()
}

/** Locks the account row for the rest of the transaction (credit movements go through here). */
export async function lockAccount(
  trx: Transaction<Database>,
  scope: Scope,
  serviceName: string,
): Promise<AccountRow | undefined> {
  let query = trx.selectFrom('accounts').selectAll().where('service_name', '=', serviceName).forUpdate()
  if (scope.ownerId !== undefined) query = query.where('owner_id', '=', scope.ownerId)
  return query.executeTakeFirst()
}

export type QuotaSummary = { heldHundredths: number; usersWithQuota: number }

export async function quotaSummary(db: Executor, accountId: number): Promise<QuotaSummary> {
  const row = await db
    .selectFrom('sms_users')
    .select([
      sql<number>`coalesce(sum(quota_left), 0)::int8`.as('held'),
      sql<number>`count(*)::int8`.as('users'),
    ])
    .where('account_id', '=', accountId)
    .where('quota_status', '=', 'active')
    .executeTakeFirstOrThrow()
  return { heldHundredths: row.held, usersWithQuota: row.users }
}

export async function insertAccount(db: Executor, account: NewAccount): Promise<AccountRow> {
  return db.insertInto('accounts').values(account).returningAll().executeTakeFirstOrThrow()
}

export async function updateAccount(db: Executor, id: number, patch: AccountUpdate): Promise<void> {
  if (Object.keys(patch).length === 0) return
  await db.updateTable('accounts').set(patch).where('id', '=', id).execute()
}

/** Adds (or, with a negative amount, removes) spendable credits; refuses to go below zero. */
export async function addAccountCredits(db: Executor, id: number, hundredths: number): Promise<boolean> {
  const result = await db
    .updateTable('accounts')
    .set({ credits_left: sql`credits_left + ${hundredths}` })
    .where('id', '=', id)
    .where(sql<boolean>`credits_left + ${hundredths} >= 0`)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}
