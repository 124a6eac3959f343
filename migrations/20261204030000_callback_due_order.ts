import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The dispatcher claims due deliveries in (next_attempt_at, id) order with a LIMIT. With the due
// index on next_attempt_at alone PostgreSQL could not read that order from an index: it anti-joined
// and sorted every pending row for each claim (a claim's cost grew with the queue: ~8 ms at 10,000
// pending). On (next_attempt_at, id) it walks the index and stops after the batch. It replaces the
// old one (every query that used it reads a prefix of this one), so an update still maintains one.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index callback_deliveries_due_order_idx on callback_deliveries (next_attempt_at, id) where status = 'pending'`.execute(
    db,
  )
  await sql`drop index callback_deliveries_due_idx`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`create index callback_deliveries_due_idx on callback_deliveries (next_attempt_at) where status = 'pending'`.execute(
    db,
  )
  await sql`drop index callback_deliveries_due_order_idx`.execute(db)
}
