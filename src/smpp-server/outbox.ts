import { type Insertable, sql, type Transaction } from 'kysely'
import type { Database } from '../db/index.js'
import type { SmppDeliveriesTable } from '../db/schema.js'
import type { StatusChange } from '../dlr/outbox.js'
import { formatReceipt, receiptOfStatus } from '../smpp/receipt.js'

export const SMPP_DELIVERY_CHANNEL = 'sms_mirror_smpp_deliveries'

type Trx = Transaction<Database>

/** DLR ids after which an SMS's state no longer changes (as src/sending/status.ts). */
const FINAL = new Set([1, 2, 16])

/** registered_delivery bits (SMPP 3.4 §5.2.17). */
const RECEIPT_ON_FINAL = 0x01
const RECEIPT_ON_FAILURE = 0x02
const INTERMEDIATE = 0x10

/** A deliver_sm as the outbox keeps it: its fields, the text as a string (encoded when sent). */
export type StoredDeliverSm = {
  fields: Record<string, string | number>
  text: string
  /** 'ascii' (receipts: Latin-1 bytes, data_coding 0) or 'text' (MO: GSM 03.38 or UCS2). */
  coding: 'ascii' | 'text'
}

const digits = (number: string) => number.replace(/^\+/, '')

/** Source address fields of a sender as an SMPP account writes it: alphanumeric, short code or number. */
function addressOf(address: string): { ton: number; npi: number; addr: string } {
  if (/^\+?\d{9,15}$/.test(address)) return { ton: 1, npi: 1, addr: digits(address) }
  if (/^\d{3,8}$/.test(address)) return { ton: 3, npi: 1, addr: address }
  return { ton: 5, npi: 0, addr: address }
}

type NewDelivery = Insertable<SmppDeliveriesTable>

/** Writes deliveries in order; dispatchers hear of them at commit (and poll besides). */
async function enqueue(trx: Trx, rows: readonly NewDelivery[]): Promise<void> {
  if (rows.length === 0) return
  await trx.insertInto('smpp_deliveries').values(rows).execute()
  await sql`select pg_notify(${SMPP_DELIVERY_CHANNEL}, '')`.execute(trx)
}

/**
 * The receipts the status changes of SMS sent by submit_sm call for, written in the changes'
 * transaction, in their order: a final state when registered_delivery asked for one (any final state,
 * or failures only), intermediate ones when it asked for those too. One query when none was an SMPP send.
 */
export async function enqueueSmppReceipts(
  trx: Trx,
  changes: readonly StatusChange[],
  now: Date,
): Promise<number> {
  if (changes.length === 0) return 0
  const rows = await trx
    .selectFrom('outgoing')
    .select(['id', 'account_id', 'message_id', 'sender', 'receiver', 'message', 'created_at', 'smpp_receipt'])
    .where(
      'id',
      'in',
      changes.map((c) => c.outgoingId),
    )
    .where('smpp_receipt', 'is not', null)
    .where('smpp_receipt', '>', 0)
    .execute()
  if (rows.length === 0) return 0
  const byId = new Map(rows.map((row) => [Number(row.id), row]))
  const deliveries: NewDelivery[] = []
  for (const change of changes) {
    const row = byId.get(change.outgoingId)
    if (!row?.message_id) continue
    const mask = row.smpp_receipt ?? 0
    const receipt = receiptOfStatus(change.ptt, change.dlr)
    const final = FINAL.has(change.dlr)
    const wanted = final
      ? (mask & 0x03) === RECEIPT_ON_FINAL ||
        ((mask & 0x03) === RECEIPT_ON_FAILURE && receipt.state !== 'DELIVRD')
      : (mask & INTERMEDIATE) !== 0
    if (!wanted) continue
    const from = addressOf(row.receiver)
    const to = addressOf(row.sender)
    const text = formatReceipt({
      id: row.message_id,
      submitted: 1,
      delivered: receipt.state === 'DELIVRD' ? 1 : 0,
      submitDate: row.created_at,
      doneDate: now,
      state: receipt.state,
      error: receipt.error,
      text: row.message,
    })
    const pdu: StoredDeliverSm = {
      fields: {
        source_addr_ton: from.ton,
        source_addr_npi: from.npi,
        source_addr: from.addr,
        dest_addr_ton: to.ton,
        dest_addr_npi: to.npi,
        destination_addr: to.addr,
        esm_class: 0x04,
        receipted_message_id: row.message_id,
        message_state: receipt.messageState,
        ovh_outgoing_id: String(row.id),
      },
      text,
      coding: 'ascii',
    }
    deliveries.push({
      account_id: row.account_id,
      kind: 'receipt',
      outgoing_id: row.id,
      incoming_id: null,
      pdu: JSON.stringify(pdu),
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      delivered_at: null,
    })
  }
  await enqueue(trx, deliveries)
  return deliveries.length
}

/** An incoming SMS of an smpp- account, as a deliver_sm (MO) for its bound receiver. */
export async function enqueueSmppIncoming(
  trx: Trx,
  incoming: { id: number; account_id: number; sender: string; message: string },
  recipient: string | null,
  now: Date,
): Promise<boolean> {
  const smpp = await trx
    .selectFrom('smpp_accounts')
    .select('account_id')
    .where('account_id', '=', incoming.account_id)
    .executeTakeFirst()
  if (!smpp) return false
  const from = addressOf(incoming.sender)
  const to = recipient ? addressOf(recipient) : { ton: 0, npi: 0, addr: '' }
  const pdu: StoredDeliverSm = {
    fields: {
      source_addr_ton: from.ton,
      source_addr_npi: from.npi,
      source_addr: from.addr,
      dest_addr_ton: to.ton,
      dest_addr_npi: to.npi,
      destination_addr: to.addr,
      esm_class: 0,
      ovh_incoming_id: String(incoming.id),
    },
    text: incoming.message,
    coding: 'text',
  }
  await enqueue(trx, [
    {
      account_id: incoming.account_id,
      kind: 'mo',
      outgoing_id: null,
      incoming_id: incoming.id,
      pdu: JSON.stringify(pdu),
      next_attempt_at: now,
      last_error: null,
      created_at: now,
    },
  ])
  return true
}
