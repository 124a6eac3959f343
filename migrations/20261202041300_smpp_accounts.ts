import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// SMPP accounts (issue 13): each smpp- account has a system ID, a password (sealed by the secret
// box, never hashed: OVH mails it), its allowed IPs and its limits; owners get a contact e-mail
// address (where a regenerated password goes); limit alerts become a durable mail outbox for the
// password mail too (kind, sealed secret); deliver_sm (receipts, MO) waits in its own outbox.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('owners').addColumn('contact_email', 'text').execute()
  await db.schema
    .createTable('smpp_accounts')
    .addColumn('account_id', 'integer', (c) => c.primaryKey().references('accounts.id').onDelete('cascade'))
    .addColumn('system_id', 'text', (c) => c.notNull().unique())
    .addColumn('password_enc', 'text', (c) => c.notNull())
    // Bumped by each regeneration: a session bound with an older one stays up, new binds need this one.
    .addColumn('password_version', 'integer', (c) => c.notNull().defaultTo(1))
    // Addresses and CIDR blocks, as given (normalised), in the order added.
    .addColumn('allowed_ips', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('throughput', 'integer', (c) => c.notNull().defaultTo(20))
    .addColumn('windowing', 'integer', (c) => c.notNull().defaultTo(10))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  await db.schema
    .alterTable('alerts')
    .addColumn('kind', 'text', (c) => c.notNull().defaultTo('limit'))
    .addColumn('secret_enc', 'text')
    .execute()

  await db.schema
    .createTable('smpp_deliveries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // 'receipt' (of outgoing_id) or 'mo' (incoming_id).
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('outgoing_id', 'bigint')
    .addColumn('incoming_id', 'bigint')
    // The deliver_sm fields (short_message as base64), ready to send.
    .addColumn('pdu', 'jsonb', (c) => c.notNull())
    // pending → delivered (deliver_sm_resp OK) or failed (refused for good / 7 days spent).
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('delivered_at', 'timestamptz')
    .execute()
  await sql`create index smpp_deliveries_due_idx on smpp_deliveries (account_id, id) where state = 'pending'`.execute(
    db,
  )
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('smpp_deliveries').execute()
  await db.schema.alterTable('alerts').dropColumn('kind').dropColumn('secret_enc').execute()
  await db.schema.dropTable('smpp_accounts').execute()
  await db.schema.alterTable('owners').dropColumn('contact_email').execute()
}
