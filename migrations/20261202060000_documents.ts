import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// History exports (GET {S}[/users/{login}]/document): the filter is kept, not the file; the CSV is
// streamed from the database when its getUrl is downloaded. `last_row_id` freezes what it holds: rows
// written after the request are not in it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // null: the account's whole history; else the user's.
    .addColumn('login', 'text')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('way_type', 'text', (c) => c.notNull())
    // JSON: tag, batchID, creationDatetime.from/to as given.
    .addColumn('filters', 'text', (c) => c.notNull())
    .addColumn('last_row_id', 'bigint', (c) => c.notNull())
    // The random token of getUrl, sealed by the secret box (GET /me/document/{id} shows it again).
    .addColumn('token_enc', 'text', (c) => c.notNull())
    // Bytes of the file, known once it was downloaded in full.
    .addColumn('size', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('documents_account_idx').on('documents').column('account_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('documents').execute()
}
