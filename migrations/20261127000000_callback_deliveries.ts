import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The DLR outbox: one row per call to make to a callback URL, written in the transaction of the
  // status change (or STOP reply) it reports.
  await db.schema
    .createTable('callback_deliveries')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('outgoing_id', 'bigint')
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('delivered_at', 'timestamptz')
    .execute()
  await sql`create index callback_deliveries_due_idx on callback_deliveries (next_attempt_at) where status = 'pending'`.execute(
    db,
  )
  await sql`create index callback_deliveries_order_idx on callback_deliveries (outgoing_id, id) where status = 'pending'`.execute(
    db,
  )
  await db.schema
    .createIndex('callback_deliveries_account_idx')
    .on('callback_deliveries')
    .columns(['account_id', 'status', 'id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('callback_deliveries').execute()
}
