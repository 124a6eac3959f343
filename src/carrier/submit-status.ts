import { STATUS, statusName } from '../smpp/session.js'

/** What an SMSC's submit_sm_resp error means for the message: try again later, or end it. */
export type SubmitRefusal =
  | { kind: 'retry'; afterMs: number; reason: string }
  | { kind: 'refused'; ptt: number; dlr: number; reason: string }

/** DLR 16: the message never left the SMSC; it is not billed (the status path refunds it). */
const NOT_BILLED = 16
/** ptt 23: bad or barred number; ptt 20: undeliverable as is (see src/dlr/ptt.ts). */
const BAD_NUMBER = 23
const UNDELIVERABLE = 20

/**
 * The one table from a submit_sm_resp command_status (other than ESME_ROK) to what becomes of the
 * message. The SMSC being busy or failing for a while is retried after the wait given; a refusal of
 * the message itself ends it, not billed (DLR 16, refunded): a destination the SMSC refuses as ptt 23
 * (bad or barred number), anything else about the message (source address, data coding, length,
 * esm_class, validity, an unknown status) as ptt 20 (undeliverable as is).
 */
const TEMPORARY: ReadonlyMap<number, number> = new Map([
  [STATUS.ESME_RTHROTTLED, 1_000], // over the SMSC's throughput: slow down
  [STATUS.ESME_RMSGQFUL, 5_000], // the SMSC's queue (for this destination) is full
  [STATUS.ESME_RSYSERR, 5_000], // the SMSC's own failure
  [STATUS.ESME_RX_T_APPN, 5_000], // temporary application error
  [STATUS.ESME_RINVBNDSTS, 1_000], // the session is not bound as it thinks (it will be rebound)
])

const DESTINATION: ReadonlySet<number> = new Set([
  STATUS.ESME_RINVDSTADR,
  STATUS.ESME_RINVDSTTON,
  STATUS.ESME_RINVDSTNPI,
])

export function submitRefusal(status: number): SubmitRefusal {
  const reason = `the SMSC answered ${statusName(status)}`
  const wait = TEMPORARY.get(status)
  if (wait !== undefined) return { kind: 'retry', afterMs: wait, reason }
  const ptt = DESTINATION.has(status) ? BAD_NUMBER : UNDELIVERABLE
  return { kind: 'refused', ptt, dlr: NOT_BILLED, reason }
}
