import type { Insertable, Selectable, Transaction, Updateable } from 'kysely'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import type { SendersTable } from '../db/schema.js'

type Executor = Db | Transaction<Database>

export type SenderRow = Selectable<SendersTable>
export type NewSender = Insertable<SendersTable>
export type SenderUpdate = Updateable<SendersTable>

export async function listSenderNames(db: Executor, accountId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('senders')
    .select('sender')
    .where('account_id', '=', accountId)
    .orderBy('sender')
    .execute()
  return rows.map((r) => r.sender)
}

export async function findSender(
  db: Executor,
  accountId: number,
  sender: string,
): Promise<SenderRow | undefined> {
  return db
    .selectFrom('senders')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('sender', '=', sender)
    .executeTakeFirst()
}

/** One round trip for the hot read: the sender joined to its (scoped) account by service name. */
export async function findSenderByServiceName(
  db: Executor,
  scope: Scope,
  serviceName: string,
  sender: string,
): Promise<SenderRow | undefined> {
  let query = db
    .selectFrom('senders as s')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .selectAll('s')
    .where('a.service_name', '=', serviceName)
    .where('s.sender', '=', sender)
  if (scope.ownerId !== undefined) query = query.where('a.owner_id', '=', scope.ownerId)
  return query.executeTakeFirst()
}

export async function lockSender(
  trx: Transaction<Database>,
  accountId: number,
  sender: string,
): Promise<SenderRow | undefined> {
  return trx
    .selectFrom('senders')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('sender', '=', sender)
    .forUpdate()
    .executeTakeFirst()
}

/** Inserts the sender; returns false when the name already exists on the account. */
export async function insertSender(db: Executor, sender: NewSender): Promise<boolean> {
  const inserted = await db
    .insertInto('senders')
    .values(sender)
    .onConflict((oc) => oc.columns(['account_id', 'sender']).doNothing())
    .returning('sender')
    .executeTakeFirst()
  return inserted !== undefined
}

export async function updateSender(
  db: Executor,
  accountId: number,
  sender: string,
  patch: SenderUpdate,
): Promise<SenderRow | undefined> {
  if (Object.keys(patch).length === 0) return findSender(db, accountId, sender)
  return db
    .updateTable('senders')
    .set(patch)
    .where('account_id', '=', accountId)
    .where('sender', '=', sender)
    .returningAll()
    .executeTakeFirst()
}

export async function deleteSender(db: Executor, accountId: number, sender: string): Promise<boolean> {
  const removed = await db
    .deleteFrom('senders')
    .where('account_id', '=', accountId)
    .where('sender', '=', sender)
    .returning('sender')
    .executeTakeFirst()
  return removed !== undefined
}

/** The account's oldest enabled sender (ties broken by name), if any. */
export async function oldestEnabledSender(db: Executor, accountId: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('senders')
    .select('sender')
    .where('account_id', '=', accountId)
    .where('status', '=', 'enable')
    .orderBy('created_at')
    .orderBy('sender')
    .limit(1)
    .executeTakeFirst()
  return row?.sender
}
