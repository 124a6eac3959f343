import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('credit_ledger')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('account_delta', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('quota_delta', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('counterparty', 'text')
    .addColumn('reference', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema
    .createIndex('credit_ledger_account_idx')
    .on('credit_ledger')
    .columns(['account_id', 'id'])
    .execute()

  // Opening balances, so the ledger rebuilds what existed before it.
  await sql`insert into credit_ledger (account_id, kind, account_delta)
            select id, 'opening', credits_left from accounts where credits_left <> 0`.execute(db)
  await sql`insert into credit_ledger (account_id, login, kind, quota_delta)
            select account_id, login, 'opening', quota_left from sms_users where quota_left <> 0`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('credit_ledger').execute()
}
