import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// Documents are no longer only history exports (kind 'export'): an owner uploads files through a
// putUrl, either at /me/document (kind 'upload', e.g. a CSV of receivers; no account) or for a
// sender's validation ({S}/senders/{sender}/documents, kind 'sender'). Every document names its
// owner (exports: their account's, filled in here) so /me/document is owner-scoped in one place.
// An uploaded file is kept in `content` (bounded in size by the application).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('documents')
    .addColumn('owner_id', 'integer', (c) => c.references('owners.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('export'))
    .addColumn('sender', 'text')
    .addColumn('description', 'text')
    .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('content', 'bytea')
    .addColumn('content_type', 'text')
    // The putUrl token, sealed like the getUrl one; null once nothing may be uploaded.
    .addColumn('put_token_enc', 'text')
    .execute()
  await db
    .updateTable('documents')
    .set((eb: any) => ({
      owner_id: eb
        .selectFrom('accounts')
        .select('accounts.owner_id')
        .whereRef('accounts.id', '=', 'documents.account_id'),
    }))
    .execute()
  await db.schema
    .alterTable('documents')
    .alterColumn('owner_id', (c) => c.setNotNull())
    .execute()
  for (const column of ['account_id', 'way_type', 'filters', 'last_row_id', 'expires_at']) {
    await db.schema
      .alterTable('documents')
      .alterColumn(column, (c) => c.dropNotNull())
      .execute()
  }
  await db.schema.createIndex('documents_owner_idx').on('documents').column('owner_id').execute()
  await db.schema
    .createIndex('documents_sender_idx')
    .on('documents')
    .columns(['account_id', 'sender'])
    .where('sender', 'is not', null)
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('documents').where('kind', '!=', 'export').execute()
  await db.schema.dropIndex('documents_sender_idx').execute()
  await db.schema.dropIndex('documents_owner_idx').execute()
  for (const column of ['account_id', 'way_type', 'filters', 'last_row_id', 'expires_at']) {
    await db.schema
      .alterTable('documents')
      .alterColumn(column, (c) => c.setNotNull())
      .execute()
  }
  await db.schema
    .alterTable('documents')
    .dropColumn('owner_id')
    .dropColumn('kind')
    .dropColumn('sender')
    .dropColumn('description')
    .dropColumn('tags')
    .dropColumn('content')
    .dropColumn('content_type')
    .dropColumn('put_token_enc')
    .execute()
}
