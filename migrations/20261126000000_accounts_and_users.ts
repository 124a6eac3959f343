import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('owners')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  await db.schema
    .createTable('accounts')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('owner_id', 'integer', (c) => c.notNull().references('owners.id'))
    .addColumn('service_name', 'text', (c) =>
      c.notNull().unique().check(sql`service_name ~ '^(sms|smpp)-[a-z0-9][a-z0-9-]*$'`),
    )
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('credits_left', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`credits_left >= 0`))
    .addColumn('call_back', 'text')
    .addColumn('stop_call_back', 'text')
    .addColumn('sms_response', 'jsonb', (c) => c.notNull())
    .addColumn('templates', 'jsonb', (c) => c.notNull())
    .addColumn('automatic_recredit_amount', 'integer')
    .addColumn('credit_threshold_for_automatic_recredit', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('channel', 'text', (c) => c.notNull().defaultTo('both'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('enable'))
    .addColumn('iam_id', 'uuid', (c) => c.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('accounts_owner_idx').on('accounts').column('owner_id').execute()

  await db.schema
    .createTable('sms_users')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('password_enc', 'text', (c) => c.notNull())
    .addColumn('quota_status', 'text', (c) => c.notNull().defaultTo('inactive'))
    .addColumn('quota_left', 'bigint', (c) => c.notNull().defaultTo(0).check(sql`quota_left >= 0`))
    .addColumn('alert_threshold', 'bigint', (c) => c.notNull().defaultTo(-1))
    .addColumn('alert_support', 'text', (c) => c.notNull().defaultTo('mail'))
    .addColumn('alert_email', 'text')
    .addColumn('alert_number', 'text')
    .addColumn('ip_restrictions', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('call_back', 'text')
    .addColumn('stop_call_back', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('sms_users_pk', ['account_id', 'login'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('sms_users').execute()
  await db.schema.dropTable('accounts').execute()
  await db.schema.dropTable('owners').execute()
}
