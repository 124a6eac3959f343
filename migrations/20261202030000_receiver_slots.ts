import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// OVH's receiver lists ("receivers" slots): numbers to send a job to, kept per account (login '') or
// per user, and the tasks that clean them (sms.Task, GET {S}/task).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('receiver_slots')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // '' for an account-level slot, else the user's login.
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('slot_id', 'bigint', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('auto_update', 'boolean', (c) => c.notNull())
    // Where the list came from (autoUpdate refetches it); null for an uploaded document.
    .addColumn('csv_url', 'text')
    // The numbers as given, one a line, in file order.
    .addColumn('numbers', 'text', (c) => c.notNull())
    .addColumn('records', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('receiver_slots_pk', ['account_id', 'login', 'slot_id'])
    .execute()
  await db.schema
    .createTable('sms_tasks')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('function', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('sms_tasks_account').on('sms_tasks').columns(['account_id', 'id']).execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sms_tasks').execute()
  await db.schema.dropTable('receiver_slots').execute()
}
