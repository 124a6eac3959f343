import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// An outgoing row is updated where it lies several times in its life: the sending worker's claim
// (claimed_until, submit_attempts: no indexed column) most of all. With room left in each page,
// PostgreSQL writes such an update as a heap-only tuple (HOT): no new entry in any of the table's
// indexes. Applies to pages written from now on.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table outgoing set (fillfactor = 70)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table outgoing reset (fillfactor)`.execute(db)
}
