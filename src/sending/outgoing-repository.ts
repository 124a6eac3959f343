import type { Insertable, Transaction } from 'kysely'
import type { Database, Db } from '../db/index.js'
import { type JsonList, jsonList } from '../db/json-list.js'
import type { OutgoingRow, OutgoingTable } from '../db/schema.js'
import { normaliseNumber } from '../fields/phone.js'

type Executor = Db | Transaction<Database>
/** Outgoing rows per INSERT statement (about 21 parameters a row; PostgreSQL allows 65,535). */
const INSERT_CHUNK = 1000

/** Inserts outgoing rows (a few statements for any number); answers their ids in the given order. */
export async function insertOutgoing(
  trx: Transaction<Database>,
  rows: readonly Insertable<OutgoingTable>[],
): Promise<number[]> {
  const ids: number[] = []
  for (let from = 0; from < rows.length; from += INSERT_CHUNK) {
    const inserted = await trx
      .insertInto('outgoing')
      .values(rows.slice(from, from + INSERT_CHUNK))
      .returning('id')
      .execute()
    ids.push(...inserted.map((row) => row.id))
  }
  return ids
}

/** An outgoing row of the account (and of the user, when given). */
export function findOutgoing(
  db: Executor,
  accountId: number,
  login: string | null,
  id: number,
): Promise<OutgoingRow | undefined> {
  let query = db.selectFrom('outgoing').selectAll().where('account_id', '=', accountId).where('id', '=', id)
  if (login !== null) query = query.where('login', '=', login)
  return query.executeTakeFirst()
}

/** The same, locked, while it is pending. */
export function lockPendingOutgoing(
  trx: Transaction<Database>,
  accountId: number,
  login: string | null,
  id: number,
): Promise<OutgoingRow | undefined> {
  let query = trx
    .selectFrom('outgoing')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .forUpdate()
  if (login !== null) query = query.where('login', '=', login)
  return query.executeTakeFirst()
}

export async function markCancelled(trx: Transaction<Database>, id: number): Promise<void> {
  await trx.updateTable('outgoing').set({ state: 'cancelled' }).where('id', '=', id).execute()
}

export async function deleteOutgoingRow(db: Db, id: number): Promise<void> {
  await db.deleteFrom('outgoing').where('id', '=', id).execute()
}

export type OutgoingFilters = {
  deliveryReceipt?: number
  differedDelivery?: number
  ptt?: number
  receiver?: string
  sender?: string
  tag?: string
  batchID?: string
  messageID?: string
  'creationDatetime.from'?: string
  'creationDatetime.to'?: string
}

/** Ids of the account's (and user's, when given) outgoing rows in these states, filtered, as JSON. */
export function listOutgoingIds(
  db: Db,
  accountId: number,
  login: string | null,
  states: readonly ('pending' | 'submitted' | 'final')[],
  filters: OutgoingFilters = {},
): Promise<JsonList> {
  let query = db
    .selectFrom('outgoing')
    .select('id')
    .where('account_id', '=', accountId)
    .where('state', 'in', [...states])
  if (login !== null) query = query.where('login', '=', login)
  if (filters.deliveryReceipt !== undefined)
    query = query.where('delivery_receipt', '=', filters.deliveryReceipt)
  if (filters.differedDelivery !== undefined)
    query = query.where('differed_delivery', '=', filters.differedDelivery)
  if (filters.ptt !== undefined) query = query.where('ptt', '=', filters.ptt)
  if (filters.receiver !== undefined) {
    query = query.where('receiver', '=', normaliseNumber(filters.receiver))
  }
  if (filters.sender !== undefined) query = query.where('sender', '=', filters.sender)
  if (filters.tag !== undefined) query = query.where('tag', '=', filters.tag)
  if (filters.batchID !== undefined) query = query.where('batch_id', '=', filters.batchID)
  if (filters.messageID !== undefined) query = query.where('message_id', '=', filters.messageID)
  if (filters['creationDatetime.from'])
    query = query.where('created_at', '>=', new Date(filters['creationDatetime.from']))
  if (filters['creationDatetime.to'])
    query = query.where('created_at', '<=', new Date(filters['creationDatetime.to']))
  return jsonList(db, query, 'id')
}
