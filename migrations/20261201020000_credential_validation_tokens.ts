import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  // sha256 hex of the random token of a credential's validationUrl; null for keys made before it.
  await db.schema.alterTable('credentials').addColumn('validation_token_hash', 'text').execute()
  await db.schema
    .createIndex('credentials_validation_token_hash')
    .on('credentials')
    .column('validation_token_hash')
    .unique()
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('credentials_validation_token_hash').execute()
  await db.schema.alterTable('credentials').dropColumn('validation_token_hash').execute()
}
