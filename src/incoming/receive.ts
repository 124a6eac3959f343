import type { Transaction } from 'kysely'
import { addToBlacklist } from '../blacklist/repository.js'
import type { CarrierIncoming } from '../carrier/carrier.js'
import type { Database, Db } from '../db/index.js'
import { enqueueStopCallback } from '../dlr/outbox.js'
import { invalid } from '../errors.js'
import { parseInternational } from '../fields/phone.js'

/** A reply whose text is STOP (any case, surrounding spaces ignored) opts the number out. */
export const isStop = (message: string) => message.trim().toUpperCase() === 'STOP'

type Trx = Transaction<Database>
type Input = { sender: string; message: string; tag?: string }

/**
 * A message received on an account (a reply, from a carrier or the admin API), in the caller's
 * transaction. It belongs to the user who last sent an SMS to that number, else to the account alone.
 * A STOP reply also adds the number to the account's blacklist and queues a call to that user's
 * stopCallBack (else the account's).
 */
async function receive(trx: Trx, accountId: number, sender: string, input: Input, now: Date) {
  const last = await trx
    .selectFrom('outgoing')
    .select(['id', 'login', 'batch_id'])
    .where('account_id', '=', accountId)
    .where('receiver', '=', sender)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
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
  return incoming
}

/** One message injected for an account (admin API): its own transaction; 400 for a bad sender. */
export async function receiveIncoming(db: Db, accountId: number, input: Input, now: Date) {
  const parsed = parseInternational(input.sender)
  if (!parsed) throw invalid('sender', 'an international number such as +33601020304')
  if (input.message.length === 0) throw invalid('message', 'a non-empty text')
  return db.transaction().execute((trx) => receive(trx, accountId, parsed.number, input, now))
}

/**
 * Messages a carrier received, in one transaction. Each belongs to the account that last sent an SMS
 * to its sender (a reply goes to whoever wrote to that number); one from a number no account wrote
 * to, or that is not a valid number, belongs to nobody and is counted in what is returned.
 */
export async function receiveFromCarrier(
  db: Db,
  messages: readonly CarrierIncoming[],
  now: Date,
): Promise<{ received: number; unattributed: number }> {
  return db.transaction().execute(async (trx) => {
    let received = 0
    for (const message of messages) {
      const sender = parseInternational(message.from.startsWith('+') ? message.from : `+${message.from}`)
      const last = sender
        ? await trx
            .selectFrom('outgoing')
            .select('account_id')
            .where('receiver', '=', sender.number)
            .orderBy('id', 'desc')
            .limit(1)
            .executeTakeFirst()
        : undefined
      if (!sender || !last || message.text.length === 0) continue
      await receive(
        trx,
        last.account_id,
        sender.number,
        { sender: sender.number, message: message.text },
        now,
      )
      received++
    }
    return { received, unattributed: messages.length - received }
  })
}
