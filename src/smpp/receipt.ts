/**
 * Delivery receipts in the text format of SMPP 3.4 Appendix B, which SMSCs, Kannel and Jasmin all
 * write and read:
 *   id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:…
 */

export const RECEIPT_STATES = [
  'DELIVRD',
  'EXPIRED',
  'DELETED',
  'UNDELIV',
  'ACCEPTD',
  'UNKNOWN',
  'REJECTD',
  'ENROUTE',
] as const
export type ReceiptState = (typeof RECEIPT_STATES)[number]

/** message_state TLV values (SMPP 3.4 §5.3.2.35) for each receipt state. */
export const MESSAGE_STATE: Record<ReceiptState, number> = {
  ENROUTE: 1,
  DELIVRD: 2,
  EXPIRED: 3,
  DELETED: 4,
  UNDELIV: 5,
  ACCEPTD: 6,
  UNKNOWN: 7,
  REJECTD: 8,
}

export type Receipt = {
  id: string
  submitted: number
  delivered: number
  submitDate: Date
  doneDate: Date
  state: ReceiptState
  /** The error code of the network or SMSC (OVH: its SMPP error table); 0 for none. */
  error: number
  /** The first characters of the message. */
  text: string
}

/** YYMMDDhhmm in UTC. */
function receiptDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0')
  return (
    two(date.getUTCFullYear() % 100) +
    two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) +
    two(date.getUTCHours()) +
    two(date.getUTCMinutes())
  )
}

const three = (n: number) => String(Math.max(0, Math.min(999, n))).padStart(3, '0')

export function formatReceipt(receipt: Receipt): string {
  return (
    `id:${receipt.id} sub:${three(receipt.submitted)} dlvrd:${three(receipt.delivered)} ` +
    `submit date:${receiptDate(receipt.submitDate)} done date:${receiptDate(receipt.doneDate)} ` +
    `stat:${receipt.state} err:${three(receipt.error)} text:${receipt.text.slice(0, 20)}`
  )
}

const RECEIPT =
  /id:(\S+)\s+sub:(\d+)\s+dlvrd:(\d+)\s+submit date:(\d{10,12})\s+done date:(\d{10,12})\s+stat:(\w+)\s+err:(\w+)(?:\s+text:(.*))?/is

function parseDate(text: string): Date {
  const [yy, mm, dd, hh, mi, ss] = (text.match(/\d{2}/g) ?? []).map(Number)
  return new Date(Date.UTC(2000 + (yy ?? 0), (mm ?? 1) - 1, dd ?? 1, hh ?? 0, mi ?? 0, ss ?? 0))
}

/** A receipt text as SMSCs write it (fields case-insensitive, `err` decimal or hex), or null. */
export function parseReceipt(text: string): Receipt | null {
  const match = RECEIPT.exec(text)
  if (!match) return null
  const state = match[6]!.toUpperCase()
  if (!(RECEIPT_STATES as readonly string[]).includes(state)) return null
  const error = /^\d+$/.test(match[7]!) ? Number(match[7]) : Number.parseInt(match[7]!, 16)
  return {
    id: match[1]!,
    submitted: Number(match[2]),
    delivered: Number(match[3]),
    submitDate: parseDate(match[4]!),
    doneDate: parseDate(match[5]!),
    state: state as ReceiptState,
    error: Number.isFinite(error) ? error : 0,
    text: match[8] ?? '',
  }
}

/** What a receipt says of one of our status changes: its state, message_state and OVH's error code. */
export type ReceiptStatus = { state: ReceiptState; messageState: number; error: number }

/**
 * OVH's receipt error codes (SMPP technical specification): per ptt, the code a failure carries. A
 * ptt not listed fails with 9 (undeliverable); a success carries 0.
 */
const ERROR_OF_PTT: ReadonlyMap<number, number> = new Map([
  [1, 4], // phone-side problem → equipment
  [2, 7], // operator-side problem → operator
  [5, 800], // undelivered, no detail
  [6, 255], // final state unknown
  [8, 801], // expired
  [20, 9], // undeliverable as is
  [21, 5], // prepaid subscriber out of credit → subscriber/credit
  [23, 3], // bad or barred MSISDN → unreachable destination
  [24, 3], // subscriber absent → unreachable destination
  [25, 2], // temporary network fault → network
  [26, 4], // temporary handset fault → equipment
  [27, 4], // handset cannot receive → equipment
  [28, 101], // spam → invalid content
  [29, 101], // content not allowed → invalid content
  [33, 8], // parental lock
  [39, 7], // new operator failure → operator
  [73, 3], // ported network unreachable
  [74, 3], // roaming
  [76, 54], // client blocked on the ported destination → forbidden destination
  [202, 54],
])

/**
 * The receipt of one of our status changes (ptt + DLR id), for ESMEs bound to the SMPP server: one
 * table, in both directions (`statusOfReceipt` reads a carrier's receipts back into ptt and DLR).
 * Final DLRs (1, 2, 16) give final states; the others ENROUTE with OVH's 254 (pending).
 */
export function receiptOfStatus(ptt: number, dlr: number): ReceiptStatus {
  const state: ReceiptState =
    dlr === 1
      ? 'DELIVRD'
      : dlr === 2
        ? ptt === 8
          ? 'EXPIRED'
          : ptt === 6
            ? 'UNKNOWN'
            : 'UNDELIV'
        : dlr === 16
          ? 'REJECTD'
          : 'ENROUTE'
  const error = dlr === 1 ? 0 : state === 'ENROUTE' ? 254 : (ERROR_OF_PTT.get(ptt) ?? (dlr === 16 ? 803 : 9))
  return { state, messageState: MESSAGE_STATE[state], error }
}

/**
 * A carrier's receipt as our ptt and DLR id. Undelivered and expired messages were billed by the
 * operator (DLR 2); a message the SMSC rejected or deleted never left it and is not billed (DLR 16,
 * refunded). Intermediate states keep the message open.
 */
export function statusOfReceipt(state: ReceiptState): { ptt: number; dlr: number } {
  switch (state) {
    case 'DELIVRD':
      return { ptt: 4, dlr: 1 }
    case 'EXPIRED':
      return { ptt: 8, dlr: 2 }
    case 'UNDELIV':
      return { ptt: 5, dlr: 2 }
    case 'UNKNOWN':
      return { ptt: 6, dlr: 2 }
    case 'REJECTD':
    case 'DELETED':
      return { ptt: 20, dlr: 16 }
    case 'ACCEPTD':
      return { ptt: 3, dlr: 8 }
    case 'ENROUTE':
      return { ptt: 3, dlr: 4 }
  }
}
