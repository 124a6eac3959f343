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
