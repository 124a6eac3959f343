import type { Selectable } from 'kysely'
import { fromHundredths } from '../accounts/amounts.js'
import type { Db } from '../db/index.js'
import { type JsonList, jsonList } from '../db/json-list.js'
import type { IncomingTable } from '../db/schema.js'
import { notFound } from '../errors.js'
import { normaliseNumber } from '../fields/phone.js'
import { ovhDateTime } from '../http/schema.js'
import { resolveTarget, type Target } from '../sending/target.js'

export type IncomingFilters = {
  sender?: string
  tag?: string
  'creationDatetime.from'?: string
  'creationDatetime.to'?: string
}

export async function listIncomingIds(
  db: Db,
  target: Target,
  filters: IncomingFilters = {},
): Promise<JsonList> {
  const account = await resolveTarget(db, target)
  let query = db.selectFrom('incoming').select('id').where('account_id', '=', account.id)
  if (target.login !== null) query = query.where('login', '=', target.login)
  if (filters.sender !== undefined) query = query.where('sender', '=', normaliseNumber(filters.sender))
  if (filters.tag !== undefined) query = query.where('tag', '=', filters.tag)
  if (filters['creationDatetime.from'])
    query = query.where('created_at', '>=', new Date(filters['creationDatetime.from']))
  if (filters['creationDatetime.to'])
    query = query.where('created_at', '<=', new Date(filters['creationDatetime.to']))
  return jsonList(db, query, 'id')
}

export async function getIncoming(db: Db, target: Target, id: number): Promise<Selectable<IncomingTable>> {
  const account = await resolveTarget(db, target)
  let query = db.selectFrom('incoming').selectAll().where('account_id', '=', account.id).where('id', '=', id)
  if (target.login !== null) query = query.where('login', '=', target.login)
  const row = await query.executeTakeFirst()
  if (!row) throw notFound(`The requested object (id = ${id}) does not exist`)
  return row
}

export function toIncoming(row: Selectable<IncomingTable>) {
  return {
    creationDatetime: ovhDateTime(row.created_at),
    credits: fromHundredths(row.credits),
    id: row.id,
    message: row.message,
    sender: row.sender,
    tag: row.tag,
  }
}

export async function deleteIncoming(db: Db, target: Target, id: number): Promise<void> {
  const row = await getIncoming(db, target, id)
  await db.deleteFrom('incoming').where('id', '=', row.id).execute()
}
