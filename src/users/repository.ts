import type { Transaction } from 'kysely'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import { type JsonList, jsonList } from '../db/json-list.js'
import type { NewSmsUser, SmsUserRow, SmsUserUpdate } from '../db/schema.js'

type Executor = Db | Transaction<Database>

/** The account's logins, in order, as a JSON array built by the database. */
export function listLogins(db: Db, accountId: number): Promise<JsonList> {
  return jsonList(db, db.selectFrom('sms_users').select('login').where('account_id', '=', accountId), 'login')
}

/** One round trip for the hot read: the user joined to its (scoped) account by service name. */
export async function findUserByServiceName(
  db: Executor,
  scope: Scope,
  serviceName: string,
  login: string,
): Promise<SmsUserRow | undefined> {
  let query = db
    .selectFrom('sms_users as u')
    .innerJoin('accounts as a', 'a.id', 'u.account_id')
    .selectAll('u')
    .where('a.service_name', '=', serviceName)
    .where('u.login', '=', login)
  if (scope.ownerId !== undefined) query = query.where('a.owner_id', '=', scope.ownerId)
  return query.executeTakeFirst()
}

/** Which of these logins are users of the account: one query. */
export async function existingLogins(
  db: Executor,
  accountId: number,
  logins: readonly string[],
): Promise<string[]> {
  if (logins.length === 0) return []
  const rows = await db
    .selectFrom('sms_users')
    .select('login')
    .where('account_id', '=', accountId)
    .where('login', 'in', [...logins])
    .execute()
  return rows.map((row) => row.login)
}

/** True when the account has this user. */
export async function userExists(db: Executor, accountId: number, login: string): Promise<boolean> {
  const row = await db
    .selectFrom('sms_users')
    .select('login')
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .executeTakeFirst()
  return row !== undefined
}

export async function lockUser(
  trx: Transaction<Database>,
  accountId: number,
  login: string,
): Promise<SmsUserRow | undefined> {
  return trx
    .selectFrom('sms_users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .forUpdate()
    .executeTakeFirst()
}

/** Inserts the user; returns false when the login already exists on the account. */
export async function insertUser(db: Executor, user: NewSmsUser): Promise<boolean> {
  const inserted = await db
    .insertInto('sms_users')
    .values(user)
    .onConflict((oc) => oc.columns(['account_id', 'login']).doNothing())
    .returning('login')
    .executeTakeFirst()
  return inserted !== undefined
}

export async function updateUser(
  db: Executor,
  accountId: number,
  login: string,
  patch: SmsUserUpdate,
): Promise<void> {
  if (Object.keys(patch).length === 0) return
  await db
    .updateTable('sms_users')
    .set(patch)
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .execute()
}

export async function deleteUser(
  db: Executor,
  accountId: number,
  login: string,
): Promise<SmsUserRow | undefined> {
  return db
    .deleteFrom('sms_users')
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .returningAll()
    .executeTakeFirst()
}
