/** The one mapping from stored outgoing rows to OVH's models (sms.Job, sms.Outgoing, sms.Hlr). */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { fromHundredths } from '../accounts/amounts.js'
import type { OutgoingRow } from '../db/schema.js'
import { ovhDateTime } from '../http/schema.js'

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
