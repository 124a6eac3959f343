import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // Standard Webhooks signing secrets (sealed like passwords); null = callbacks are not signed.
  await db.schema.alterTable('accounts').addColumn('callback_secret_enc', 'text').execute()
  await db.schema.alterTable('sms_users').addColumn('callback_secret_enc', 'text').execute()
  await db.schema.alterTable('callback_deliveries').addColumn('signing_secret_enc', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('callback_deliveries').dropColumn('signing_secret_enc').execute()
  await db.schema.alterTable('sms_users').dropColumn('callback_secret_enc').execute()
  await db.schema.alterTable('accounts').dropColumn('callback_secret_enc').execute()
}
