import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('senders')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('reason', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('waitingValidation'))
    .addColumn('type', 'text')
    .addColumn('referer', 'text', (c) => c.notNull().defaultTo('custom'))
    .addColumn('comment', 'text')
    .addColumn('validation_media', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('senders_pk', ['account_id', 'sender'])
    .execute()

  await db.schema
    .createTable('outgoing')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text')
    .addColumn('batch_id', 'uuid', (c) => c.notNull())
    .addColumn('message_id', 'uuid')
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('receiver', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('message_length', 'integer', (c) => c.notNull())
    .addColumn('number_of_sms', 'integer', (c) => c.notNull())
    .addColumn('coding', 'text', (c) => c.notNull())
    .addColumn('credits', 'bigint', (c) => c.notNull())
    .addColumn('spend_source', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('class', 'text')
    .addColumn('priority', 'text')
    .addColumn('no_stop_clause', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('sender_for_response', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('differed_delivery', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('send_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('ptt', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('delivery_receipt', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tariff_code', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addColumn('delivered_at', 'timestamptz')
    .execute()
  await db.schema.createIndex('outgoing_account_idx').on('outgoing').columns(['account_id', 'id']).execute()
  await db.schema
    .createIndex('outgoing_user_idx')
    .on('outgoing')
    .columns(['account_id', 'login', 'id'])
    .execute()
  await sql`create index outgoing_due_idx on outgoing (send_at) where state = 'pending'`.execute(db)
  await sql`create index outgoing_receiver_idx on outgoing (account_id, receiver, id)`.execute(db)
  await sql`create index outgoing_expiry_idx on outgoing (expires_at) where state = 'submitted'`.execute(db)

  // Every status change of an outgoing SMS, written in the transaction that changes the row: the
  // DLR dispatcher turns each one into a call to the callback URL.
  await db.schema
    .createTable('outgoing_events')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text')
    .addColumn('ptt', 'integer', (c) => c.notNull())
    .addColumn('dlr', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute()

  // Status reports the carrier will give, each due at a time (the simulator writes them at
  // submission; a real carrier's reports are applied as they arrive).
  await db.schema
    .createTable('carrier_steps')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull().references('outgoing.id').onDelete('cascade'))
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ptt', 'integer', (c) => c.notNull())
    .addColumn('dlr', 'integer', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('carrier_steps_due_idx').on('carrier_steps').column('due_at').execute()
  await db.schema
    .createIndex('carrier_steps_outgoing_idx')
    .on('carrier_steps')
    .column('outgoing_id')
    .execute()

  await db.schema
    .createTable('incoming')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text')
    .addColumn('sender', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('tag', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('credits', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('incoming_account_idx').on('incoming').columns(['account_id', 'id']).execute()

  // Limit alerts to send (mail and/or SMS), written in the transaction of the send that crossed the
  // threshold and delivered after commit by the alert dispatcher.
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('login', 'text', (c) => c.notNull())
    .addColumn('support', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('number', 'text')
    .addColumn('threshold', 'bigint', (c) => c.notNull())
    .addColumn('quota_left', 'bigint', (c) => c.notNull())
    .addColumn('mail_state', 'text', (c) => c.notNull())
    .addColumn('sms_state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await sql`create index alerts_due_idx on alerts (next_attempt_at) where mail_state = 'pending' or sms_state = 'pending'`.execute(
    db,
  )

  await db.schema
    .createTable('blacklist')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('number', 'text', (c) => c.notNull())
    .addColumn('batch_id', 'uuid')
    .addColumn('sms_outgoing_id', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('blacklist_pk', ['account_id', 'number'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'blacklist',
    'alerts',
    'incoming',
    'carrier_steps',
    'outgoing_events',
    'outgoing',
    'senders',
  ]) {
    await db.schema.dropTable(table).execute()
  }
}
