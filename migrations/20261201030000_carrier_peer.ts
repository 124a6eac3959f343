import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The carrier becomes a network peer: messages are handed over outside any transaction under a
// lease, the carrier answers with its own message ids, and its status reports arrive later, matched
// by those ids. The simulator keeps what it will report in a table of its own (as an SMSC keeps its
// queue on disk), keyed by the ids it gave.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('outgoing')
    // Which carrier accepted the SMS; null while pending.
    .addColumn('carrier', 'text')
    // Hand-overs tried so far; also the token of the current lease (see the sending worker).
    .addColumn('submit_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    // Set while a worker hands the SMS over (its lease); a cancellation waits for it to end.
    .addColumn('claimed_until', 'timestamptz')
    .execute()
  // A reply is attributed to whoever last wrote to its sender, in any account.
  await sql`create index outgoing_receiver_any_idx on outgoing (receiver, id)`.execute(db)

  // The ids a carrier gave an SMS (one per part), to match its reports.
  await db.schema
    .createTable('carrier_messages')
    .addColumn('carrier', 'text', (c) => c.notNull())
    .addColumn('carrier_message_id', 'text', (c) => c.notNull())
    .addColumn('outgoing_id', 'bigint', (c) => c.notNull().references('outgoing.id').onDelete('cascade'))
    .addColumn('part', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('ptt', 'integer')
    .addColumn('dlr', 'integer')
    .addPrimaryKeyConstraint('carrier_messages_pk', ['carrier', 'carrier_message_id'])
    .execute()
  await db.schema
    .createIndex('carrier_messages_outgoing_idx')
    .on('carrier_messages')
    .column('outgoing_id')
    .execute()

  // Reports whose id is not known (yet): a report can overtake the recording of its hand-over.
  await db.schema
    .createTable('carrier_reports_unmatched')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('carrier', 'text', (c) => c.notNull())
    .addColumn('carrier_message_id', 'text', (c) => c.notNull())
    .addColumn('ptt', 'integer', (c) => c.notNull())
    .addColumn('dlr', 'integer', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('carrier_reports_unmatched_id_idx')
    .on('carrier_reports_unmatched')
    .columns(['carrier', 'carrier_message_id'])
    .execute()

  await db.schema
    .createTable('simulator_reports')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('carrier_message_id', 'text', (c) => c.notNull())
    .addColumn('due_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ptt', 'integer', (c) => c.notNull())
    .addColumn('dlr', 'integer', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('simulator_reports_due_idx')
    .on('simulator_reports')
    .columns(['due_at', 'id'])
    .execute()

  // What the simulator had still to report goes on, under ids of its own.
  await sql`
    insert into carrier_messages (carrier, carrier_message_id, outgoing_id)
    select 'simulator', 'migrated-' || id, id from outgoing where state in ('submitted', 'final')`.execute(db)
  await sql`update outgoing set carrier = 'simulator' where state in ('submitted', 'final')`.execute(db)
  await sql`
    insert into simulator_reports (carrier_message_id, due_at, ptt, dlr)
    select 'migrated-' || outgoing_id, due_at, ptt, dlr from carrier_steps order by id`.execute(db)
  await db.schema.dropTable('carrier_steps').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
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
  await sql`
    insert into carrier_steps (outgoing_id, due_at, ptt, dlr)
    select m.outgoing_id, r.due_at, r.ptt, r.dlr
      from simulator_reports r join carrier_messages m
        on m.carrier = 'simulator' and m.carrier_message_id = r.carrier_message_id
     order by r.id`.execute(db)
  await db.schema.dropTable('simulator_reports').execute()
  await db.schema.dropTable('carrier_reports_unmatched').execute()
  await db.schema.dropTable('carrier_messages').execute()
  await sql`drop index outgoing_receiver_any_idx`.execute(db)
  await db.schema
    .alterTable('outgoing')
    .dropColumn('claimed_until')
    .dropColumn('submit_attempts')
    .dropColumn('carrier')
    .execute()
}
