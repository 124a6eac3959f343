import type { FastifyReply } from 'fastify'
import { type SelectQueryBuilder, sql } from 'kysely'
import type { Database, Db } from './index.js'

/**
 * A long list answer (ids, logins) built by the database: the JSON array of one column of `query`,
 * ordered by that column, as one text value (json_agg). No row object per entry in the process and
 * one value over the wire: 100,000 logins or 1,000,000 ids cost one string, not as many objects.
 */
export class JsonList {
  constructor(readonly json: string) {}
}

export async function jsonList<C extends string>(
  db: Db,
  query: SelectQueryBuilder<Database, keyof Database, Record<C, unknown>>,
  column: C,
): Promise<JsonList> {
  const ref = sql.ref(`l.${column}`)
  const row = await db
    .selectFrom(query.as('l'))
    .select(sql<string>`coalesce(json_agg(${ref} order by ${ref}), '[]')::text`.as('json'))
    .executeTakeFirstOrThrow()
  return new JsonList(row.json)
}

/** Sends a JsonList as it is (the route's response schema documents its shape). */
export function sendJsonList(reply: FastifyReply, list: JsonList): FastifyReply {
  return reply
    .type('application/json; charset=utf-8')
    .serializer((payload) => payload as string)
    .send(list.json)
}
