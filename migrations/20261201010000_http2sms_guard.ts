import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // The http2sms lockout, shared by every replica: failed logins counted per login and address, per
  // address and per login, each until the end of its window; and the addresses a login authenticated
  // from lately. Rows past expires_at are dead and deleted as failures come in.
  await db.schema
    .createTable('http2sms_guard')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('http2sms_guard_expiry_idx').on('http2sms_guard').column('expires_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('http2sms_guard').execute()
}
