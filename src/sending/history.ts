import type { Selectable } from 'kysely'
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { fromHundredths } from '../credits.js'
import type { Db } from '../db/index.js'
import { type JsonList, jsonList } from '../db/json-list.js'
import type { IncomingTable, OutgoingRow } from '../db/schema.js'
import { notFound } from '../errors.js'
import { ovhDateTime } from './schema.js'
import { resolveTarget, type Sender } from './service.js'

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

export async function listOutgoingIds(
  db: Db,
  target: Sender,
  states: readonly ('pending' | 'submitted' | 'final')[],
  filters: OutgoingFilters = {},
): Promise<JsonList> {
  const account = await resolveTarget(db, target)
  let query = db
    .selectFrom('outgoing')
    .select('id')
    .where('account_id', '=', account.id)
    .where('state', 'in', [...states])
  if (target.login !== null) query = query.where('login', '=', target.login)
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

/** Numbers are stored in E.164; a filter written 0033… or with spaces still finds them. */
function normaliseNumber(value: string): string {
  const international = value.trim().startsWith('00') ? `+${value.trim().slice(2)}` : value.trim()
  return parsePhoneNumberFromString(international)?.number ?? value
}

export function toJob(row: OutgoingRow) {
  return {
    creationDatetime: ovhDateTime(row.created_at),
    credits: fromHundredths(row.credits),
    deliveredAt: row.delivered_at ? ovhDateTime(row.delivered_at) : null,
    deliveryReceipt: row.delivery_receipt,
    differedDelivery: row.differed_delivery,
    id: row.id,
    message: row.message,
    messageLength: row.message_length,
    numberOfSms: row.number_of_sms,
    ptt: row.ptt,
    receiver: row.receiver,
    sender: row.sender,
    sentAt: row.sent_at ? ovhDateTime(row.sent_at) : null,
  }
}

export function toOutgoing(row: OutgoingRow) {
  return {
    ...toJob(row),
    batchID: row.batch_id,
    messageID: row.message_id,
    tag: row.tag,
    tariffCode: row.tariff_code,
  }
}

/**
 * sms.Hlr from the numbering plan (libphonenumber metadata): country and calling code are exact;
 * without an HLR network lookup the operator and region are unknown and `network` carries the line type.
 */
export function toHlr(row: OutgoingRow) {
  const phone = parsePhoneNumberFromString(row.receiver)
  return {
    country: phone?.country ?? '',
    countryCode: phone?.countryCallingCode ?? '',
    network: (phone?.getType() ?? 'unknown').toLowerCase(),
    operator: '',
    region: '',
  }
}

export type IncomingFilters = {
  sender?: string
  tag?: string
  'creationDatetime.from'?: string
  'creationDatetime.to'?: string
}

export async function listIncomingIds(
  db: Db,
  target: Sender,
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

export async function getIncoming(db: Db, target: Sender, id: number): Promise<Selectable<IncomingTable>> {
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

export async function deleteIncoming(db: Db, target: Sender, id: number): Promise<void> {
  const row = await getIncoming(db, target, id)
  await db.deleteFrom('incoming').where('id', '=', row.id).execute()
}
