import type { Db } from '../db/index.js'
import { invalid, parseInternational } from '../validation.js'

/**
 * A message received on an account (a reply, from a carrier or the admin API). It belongs to the
 * user who last sent an SMS to that number, else to the account alone.
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
  const last = await db
    .selectFrom('outgoing')
    .select(['login'])
    .where('account_id', '=', accountId)
    .where('receiver', '=', parsed.number)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
  return db
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
}
