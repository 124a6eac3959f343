import type { Static } from 'typebox'
import { badRequest, invalid } from '../errors.js'
import { parseInternational } from '../fields/phone.js'
import { analyse, type MessageAnalysis } from './encoding.js'
import { type JobBody, MAX_RECEIVERS, type SmsSendingReport } from './schema.js'
import type { Target } from './target.js'

export type SendInput = Static<typeof JobBody>
export type SendingReport = Static<typeof SmsSendingReport>
export type Receiver = { number: string; callingCode: string }

/**
 * A send whose input has been checked, waiting for its batch: what every entry point (POST …/jobs,
 * http2sms, limit alerts, SMPP submit_sm) hands to the send queue.
 */
export type SendRequest = {
  target: Target
  /** The sender asked for; null: the account's default sender. */
  sender: string | null
  senderForResponse: boolean
  message: string
  analysis: MessageAnalysis
  receivers: Receiver[]
  invalidReceivers: string[]
  tag: string
  smsClass: string | null
  priority: string | null
  noStopClause: boolean
  /** Minutes the send was deferred by. */
  differedPeriod: number
  now: Date
  sendAt: Date
  expiresAt: Date | null
  /** sms.Outgoing.messageID (the SMPP message id of SMPP sends); null for API sends. */
  messageId: string | null
  /** submit_sm's registered_delivery (what receipts it asked for); absent for other entry points. */
  smppReceipt?: number
}

/** Valid receivers in E.164 (first occurrence of each), the rest as given. */
export function splitReceivers(raw: readonly string[]): { valid: Receiver[]; invalid: string[] } {
  const valid = new Map<string, Receiver>()
  const invalidOnes: string[] = []
  for (const value of raw) {
    const parsed = parseInternational(value)
    if (parsed) {
      if (!valid.has(parsed.number)) valid.set(parsed.number, parsed)
    } else invalidOnes.push(value)
  }
  return { valid: [...valid.values()], invalid: invalidOnes }
}

/** Checks a send's input (a 400 says what to fix) and makes the request the queue takes. */
export function prepareSend(
  target: Target,
  body: SendInput,
  now: Date,
  messageId: string | null = null,
): SendRequest {
  if (body.receiversSlotId !== undefined || body.receiversDocumentUrl !== undefined) {
    throw badRequest(
      'Invalid receiversSlotId/receiversDocumentUrl: stored receiver lists are not supported here; send receivers',
    )
  }
  if (!body.receivers || body.receivers.length === 0) throw badRequest('Missing parameter: receivers')
  // The JSON schema bounds REST bodies; http2sms's `to` arrives here unbounded.
  if (body.receivers.length > MAX_RECEIVERS) {
    throw invalid('receivers', `at most ${MAX_RECEIVERS} numbers in one request`)
  }
  const noStopClause = body.noStopClause ?? false
  const analysis = analyse(body.message, { noStopClause })
  if (analysis.parts === 0) throw invalid('message', 'a non-empty text')
  const { valid, invalid: invalidReceivers } = splitReceivers(body.receivers)
  const differedPeriod = body.differedPeriod ?? 0
  const sendAt = new Date(now.getTime() + differedPeriod * 60_000)
  return {
    target,
    sender: body.sender?.trim() || null,
    senderForResponse: body.senderForResponse ?? false,
    message: body.message,
    analysis,
    receivers: valid,
    invalidReceivers,
    tag: body.tag ?? '',
    smsClass: body.class ?? null,
    priority: body.priority ?? null,
    noStopClause,
    differedPeriod,
    now,
    sendAt,
    expiresAt: body.validityPeriod ? new Date(sendAt.getTime() + body.validityPeriod * 60_000) : null,
    messageId,
  }
}
