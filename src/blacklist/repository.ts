import type { Selectable, Transaction } from 'kysely'
import type { Database, Db } from '../db/index.js'
import type { BlacklistTable } from '../db/schema.js'

type Executor = Db | Transaction<Database>
export type BlacklistRow = Selectable<BlacklistTable>

/** Numbers chunked per query, far below PostgreSQL's 65,535 parameters. */
const CHUNK = 10_000

/** Which of these (E.164) numbers the account's blacklist holds. */
export async function blacklistedAmong(
  db: Executor,
  accountId: number,
  numbers: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>()
  for (let from = 0; from < numbers.length; from += CHUNK) {
    const rows = await db
      .selectFrom('blacklist')
      .select('number')
      .where('account_id', '=', accountId)
      .where('number', 'in', numbers.slice(from, from + CHUNK))
      .execute()
    for (const row of rows) found.add(row.number)
  }
  return found
}

/** A number that replied STOP, with the SMS it replied to (kept up to date on a second STOP). */
export async function addToBlacklist(
  db: Executor,
  entry: { accountId: number; number: string; batchId: string | null; outgoingId: number | null; now: Date },
): Promise<void> {
  await db
    .insertInto('blacklist')
    .values({
      account_id: entry.accountId,
      number: entry.number,
      batch_id: entry.batchId,
      sms_outgoing_id: entry.outgoingId,
      created_at: entry.now,
    })
    .onConflict((oc) =>
      oc
        .columns(['account_id', 'number'])
        .doUpdateSet({ batch_id: entry.batchId, sms_outgoing_id: entry.outgoingId }),
    )
    .execute()
}

export async function listBlacklisted(
  db: Db,
  accountId: number,
  filters: { batchID?: string; smsOutgoingID?: number },
): Promise<string[]> {
  let query = db.selectFrom('blacklist').select('number').where('account_id', '=', accountId)
  if (filters.batchID) query = query.where('batch_id', '=', filters.batchID)
  if (filters.smsOutgoingID !== undefined) query = query.where('sms_outgoing_id', '=', filters.smsOutgoingID)
  return (await query.orderBy('number').execute()).map((r) => r.number)
}

export function findBlacklisted(
  db: Db,
  accountId: number,
  number: string,
): Promise<BlacklistRow | undefined> {
  return db
    .selectFrom('blacklist')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('number', '=', number)
    .executeTakeFirst()
}

/** True when the number was on the blacklist. */
export async function removeFromBlacklist(db: Db, accountId: number, number: string): Promise<boolean> {
  const deleted = await db
    .deleteFrom('blacklist')
    .where('account_id', '=', accountId)
    .where('number', '=', number)
    .executeTakeFirst()
  return deleted.numDeletedRows > 0n
}
