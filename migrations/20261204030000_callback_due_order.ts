import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The dispatcher claims due deliveries in (next_attempt_at, id) order with a LIMIT. With the due
// index on next_attempt_at alone PostgreSQL could not read that order from an index: it anti-joined
// and sorted every pending row for each claim (a claim's cost grew with the queue: ~8 ms at 10,000
// pending). On (next_attempt_at, id) it walks the index and stops after the batch. It replaces the
// old one (every query that used it reads a prefix of this one), so an update still maintains one.
//
// A claim's lease gets a column of its own, leased_until, which no index holds: a claim no longer
// moves next_attempt_at, so it changes no indexed column and is a HOT update (no new entry in any of
// the four indexes) when its page has room, which fillfactor 70 leaves (new pages only). A leased row
// stays in the due index and is skipped by the claim (at most the batches in flight of each replica).

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table callback_deliveries add column leased_until timestamptz`.execute(db)
  await sql`alter table callback_deliveries set (fillfactor = 70)`.execute(db)
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
  await sql`alter table callback_deliveries reset (fillfactor)`.execute(db)
  await sql`alter table callback_deliveries drop column leased_until`.execute(db)
}
