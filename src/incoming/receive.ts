import type { Transaction } from 'kysely'
import { ALL_OWNERS } from '../auth/scope.js'
import { addToBlacklist } from '../blacklist/repository.js'
import type { CarrierIncoming } from '../carrier/carrier.js'
import type { Database, Db } from '../db/index.js'
import { enqueueReplyCallback, enqueueStopCallback } from '../dlr/outbox.js'
import { ApiError, invalid } from '../errors.js'
import { parseInternational } from '../fields/phone.js'
import { prepareSend } from '../sending/request.js'
import type { WriteSends } from '../sending/send-steps.js'
import { enqueueSmppIncoming } from '../smpp-server/outbox.js'

/** A reply whose text is STOP (any case, surrounding spaces ignored) opts the number out. */
export const isStop = (message: string) => message.trim().toUpperCase() === 'STOP'

type Trx = Transaction<Database>
type Input = { sender: string; message: string; tag?: string }

/** The outgoing SMS a reply answers: its id, user, batch and sender (what the phone replied to). */
type Conversation = { id: number; login: string | null; batch_id: string; sender: string }

/**
 * How an automatic text reply (smsResponse.responseType text) is written: the send steps, in the
 * transaction that receives the message. Absent: no text reply (a caller without the send path).
 */
export type Replies = { write?: WriteSends; log?: (what: string, detail: Record<string, unknown>) => void }

/** Tag of automatic text replies in the account's outgoing SMS. */
export const AUTO_REPLY_TAG = 'smsResponse'

/**
 * A message received on an account (a reply, from a carrier or the admin API), in the caller's
 * transaction. It belongs to the user who sent the SMS it answers (`conversation`), else to the user
 * who last sent an SMS to that number, else to the account alone. A STOP reply also adds the number
 * to the account's blacklist and queues a call to that user's stopCallBack (else the account's).
 */
async function receive(
  trx: Trx,
  accountId: number,
  sender: string,
  input: Input,
  now: Date,
  replies: Replies,
  conversation?: Conversation,
  /** The number or sender the phone wrote to, when the carrier says; else the conversation's sender. */
  recipient?: string,
) {
  const last =
    conversation ??
    (await trx
      .selectFrom('outgoing')
      .select(['id', 'login', 'batch_id', 'sender'])
      .where('account_id', '=', accountId)
      .where('receiver', '=', sender)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst())
  const incoming = await trx
    .insertInto('incoming')
    .values({
      account_id: accountId,
      login: last?.login ?? null,
      sender,
      message: input.message,
      tag: input.tag ?? '',
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  // An smpp- account's bound receiver gets it as a deliver_sm (MO), durably, addressed to what the
  // phone wrote to (empty when nothing tells: a message injected with no SMS sent to that number).
  await enqueueSmppIncoming(trx, incoming, recipient || last?.sender || null, now)
  if (isStop(input.message)) {
    await addToBlacklist(trx, {
      accountId,
      number: sender,
      batchId: last?.batch_id ?? null,
      outgoingId: last?.id ?? null,
      now,
    })
    await enqueueStopCallback(trx, incoming, now)
  }
  await answer(trx, incoming, conversation ?? last, now, replies)
  return incoming
}

/** Phone numbers stay out of info logs (LOG_PERSONAL_DATA). */
const withoutNumbers = (text: string) => text.replace(/\+?\d{6,}/g, '…')

type SmsResponse = { responseType?: string; cgiUrl?: string | null; text?: string | null }

/**
 * The account's smsResponse, for every message received: `cgi` queues a call to cgiUrl (the callback
 * dispatcher delivers it), `text` sends `text` back to the sender as an account-level SMS charged like
 * any other (from the sender of the SMS it answers, else the account's default sender), `none` does
 * nothing. A STOP gets no text reply (the number was just blacklisted). A reply the send steps refuse
 * (no credits, no sender) is not sent; the message stays received.
 */
async function answer(
  trx: Trx,
  incoming: {
    id: number
    account_id: number
    login: string | null
    sender: string
    message: string
    tag: string
  },
  conversation: { id: number } | undefined,
  now: Date,
  replies: Replies,
): Promise<void> {
  const account = await trx
    .selectFrom('accounts')
    .select(['service_name', 'sms_response'])
    .where('id', '=', incoming.account_id)
    .executeTakeFirstOrThrow()
  const response = (account.sms_response ?? {}) as SmsResponse
  if (response.responseType === 'cgi' && response.cgiUrl) {
    await enqueueReplyCallback(trx, incoming, response.cgiUrl, now)
    return
  }
  if (response.responseType !== 'text' || !response.text || !replies.write || isStop(incoming.message)) return
  const answered = conversation
    ? await trx.selectFrom('outgoing').select('sender').where('id', '=', conversation.id).executeTakeFirst()
    : undefined
  let request: ReturnType<typeof prepareSend>
  try {
    request = prepareSend(
      { scope: ALL_OWNERS, serviceName: account.service_name, login: null },
      {
        message: response.text.slice(0, 5000),
        receivers: [incoming.sender],
        noStopClause: true,
        tag: AUTO_REPLY_TAG,
        ...(answered?.sender ? { sender: answered.sender } : {}),
      },
      now,
    )
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    replies.log?.('automatic reply not sent', {
      incomingId: incoming.id,
      reason: withoutNumbers(error.message),
    })
    return
  }
  const [outcome] = await replies.write(trx, [request])
  if (outcome && !outcome.ok) {
    replies.log?.('automatic reply not sent', {
      incomingId: incoming.id,
      reason: withoutNumbers(outcome.error instanceof Error ? outcome.error.message : String(outcome.error)),
    })
  }
}

/** One message injected for an account (admin API): its own transaction; 400 for a bad sender. */
export async function receiveIncoming(
  db: Db,
  accountId: number,
  input: Input,
  now: Date,
  replies: Replies = {},
) {
  const parsed = parseInternational(input.sender)
  if (!parsed) throw invalid('sender', 'an international number such as +33601020304')
  if (input.message.length === 0) throw invalid('message', 'a non-empty text')
  return db.transaction().execute((trx) => receive(trx, accountId, parsed.number, input, now, replies))
}

/** Parts of a long message older than this are given up (their other parts never came). */
const PART_LIFETIME_MS = 24 * 3_600_000

/**
 * Messages a carrier received, in one transaction; answers how many were received, are waiting for
 * their other parts, or belong to nobody. Who a message belongs to, in this order:
 *
 * 1. the account (and user) of the last SMS sent to the phone from the number it wrote to (`to` is
 *    the sender of that SMS: a reply in a conversation);
 * 2. else the one account that has `to` as an enabled sender (its own number or short code);
 * 3. else the account that last sent an SMS to the phone, from any sender (replies through a shared
 *    number or to an alphanumeric sender);
 * 4. else nobody: the message is dropped and counted (also when the phone's number is not valid).
 *
 * A part of a concatenated message is kept until every part of it arrived (the same part twice is
 * kept once), then they are received as one message.
 */
export async function receiveFromCarrier(
  db: Db,
  carrier: string,
  messages: readonly CarrierIncoming[],
  now: Date,
  replies: Replies = {},
): Promise<{ received: number; waiting: number; unattributed: number }> {
  return db.transaction().execute(async (trx) => {
    let received = 0
    let waiting = 0
    let unattributed = 0
    for (const message of messages) {
      const sender = parseInternational(message.from.startsWith('+') ? message.from : `+${message.from}`)
      if (!sender) {
        unattributed++
        continue
      }
      const whole = message.part ? await assemble(trx, carrier, sender.number, message, now) : message
      if (!whole) {
        waiting++
        continue
      }
      if (whole.text.length === 0) {
        unattributed++
        continue
      }
      const owner = await ownerOf(trx, sender.number, whole.to)
      if (!owner) {
        unattributed++
        continue
      }
      await receive(
        trx,
        owner.accountId,
        sender.number,
        { sender: sender.number, message: whole.text },
        now,
        replies,
        owner.conversation,
        recipientOf(whole.to),
      )
      received++
    }
    return { received, waiting, unattributed }
  })
}

/** `to` as an SMPP address is written: trimmed, a number given with 00 written with + instead. */
function recipientOf(to: string): string {
  const trimmed = to.trim()
  return /^00\d+$/.test(trimmed) ? `+${trimmed.slice(2)}` : trimmed
}

/** `to` as the senders table may spell it: as given, and as a number with a +, with 00, or bare. */
function spellingsOf(to: string): string[] {
  const trimmed = to.trim()
  const digits = /^(\+|00)?\d+$/.test(trimmed) ? trimmed.replace(/^(\+|00)/, '') : null
  return [...new Set([trimmed, ...(digits ? [digits, `+${digits}`, `00${digits}`] : [])])].filter(Boolean)
}

/** The account (and the SMS it answers, when known) a message from `from` to `to` belongs to. */
async function ownerOf(
  trx: Trx,
  from: string,
  to: string,
): Promise<{ accountId: number; conversation?: Conversation } | null> {
  const spellings = spellingsOf(to)
  if (spellings.length > 0) {
    const reply = await trx
      .selectFrom('outgoing')
      .select(['account_id', 'id', 'login', 'batch_id', 'sender'])
      .where('receiver', '=', from)
      .where('sender', 'in', spellings)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst()
    if (reply) return { accountId: reply.account_id, conversation: reply }
    const owners = await trx
      .selectFrom('senders')
      .select('account_id')
      .distinct()
      .where('sender', 'in', spellings)
      .where('status', '=', 'enable')
      .limit(2)
      .execute()
    if (owners.length === 1) return { accountId: (owners[0] as { account_id: number }).account_id }
  }
  const last = await trx
    .selectFrom('outgoing')
    .select(['account_id', 'id', 'login', 'batch_id', 'sender'])
    .where('receiver', '=', from)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
  return last ? { accountId: last.account_id, conversation: last } : null
}

/**
 * Keeps one part of a concatenated message; once all its parts are kept, removes them and answers the
 * whole message (texts in part order), else null. Parts given up on are removed on the way.
 */
async function assemble(
  trx: Trx,
  carrier: string,
  sender: string,
  message: CarrierIncoming,
  now: Date,
): Promise<CarrierIncoming | null> {
  const part = message.part as NonNullable<CarrierIncoming['part']>
  await trx
    .deleteFrom('carrier_incoming_parts')
    .where('received_at', '<', new Date(now.getTime() - PART_LIFETIME_MS))
    .execute()
  await trx
    .insertInto('carrier_incoming_parts')
    .values({
      carrier,
      sender,
      reference: part.reference,
      total: part.total,
      sequence: part.sequence,
      recipient: message.to,
      text: message.text,
      received_at: now,
    })
    .onConflict((oc) => oc.columns(['carrier', 'sender', 'reference', 'total', 'sequence']).doNothing())
    .execute()
  const parts = await trx
    .selectFrom('carrier_incoming_parts')
    .select(['sequence', 'text', 'recipient'])
    .where('carrier', '=', carrier)
    .where('sender', '=', sender)
    .where('reference', '=', part.reference)
    .where('total', '=', part.total)
    .orderBy('sequence')
    .execute()
  if (parts.length < part.total) return null
  await trx
    .deleteFrom('carrier_incoming_parts')
    .where('carrier', '=', carrier)
    .where('sender', '=', sender)
    .where('reference', '=', part.reference)
    .where('total', '=', part.total)
    .execute()
  return {
    from: message.from,
    to: parts[0]?.recipient ?? message.to,
    text: parts.map((p) => p.text).join(''),
    at: message.at,
  }
}
