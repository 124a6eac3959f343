import type { Db } from '../db/index.js'
import { enqueueStopCallback } from '../dlr/outbox.js'
import { invalid, parseInternational } from '../validation.js'

/** A reply whose text is STOP (any case, surrounding spaces ignored) opts the number out. */
export const isStop = (message: string) => message.trim().toUpperCase() === 'STOP'

/**
 * A message received on an account (a reply, from a carrier or the admin API). It belongs to the
 * user who last sent an SMS to that number, else to the account alone. A STOP reply also adds the
 * number to the account's blacklist and queues a call to that user's stopCallBack (else the
 * account's), in the same transaction.
 */
export async function receiveIncoming(
  db: Db,
  accountId: number,
  input: { sender: string; message: string; tag?: string },
  now: Date,
) {
  const parsed = parseInternational(input.sender)
  if (!parsed) throw invalid('sender', 'an international number such as +33601020304')
  if (input.message.length === 0) throw invalid('message', 'a non-empty text')
  return db.transaction().execute(async (trx) => {
    const last = await trx
      .selectFrom('outgoing')
      .select(['id', 'login', 'batch_id'])
      .where('account_id', '=', accountId)
      .where('receiver', '=', parsed.number)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst()
    const incoming = await trx
      .insertInto('incoming')
      .values({
        account_id: accountId,
        login: last?.login ?? null,
        sender: parsed.number,
        message: input.message,
        tag: input.tag ?? '',
        created_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow()
    if (isStop(input.message)) {
      await trx
        .insertInto('blacklist')
        .values({
          account_id: accountId,
          number: parsed.number,
          batch_id: last?.batch_id ?? null,
          sms_outgoing_id: last?.id ?? null,
          created_at: now,
        })
        .onConflict((oc) =>
          oc.columns(['account_id', 'number']).doUpdateSet({
            batch_id: last?.batch_id ?? null,
            sms_outgoing_id: last?.id ?? null,
          }),
        )
        .execute()
      await enqueueStopCallback(trx, incoming, now)
    }
    return incoming
  })
}
