import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// SMPP carriers: a long incoming message arrives as concatenated parts, each its own deliver_sm,
// acknowledged once stored; the message is received when its last part is. Reports kept aside are
// forgotten after a while (an SMSC's receipt for a message that is not ours).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('carrier_incoming_parts')
    .addColumn('carrier', 'text', (c) => c.notNull())
    // The phone that wrote, E.164.
    .addColumn('sender', 'text', (c) => c.notNull())
    // The concatenation header's reference, part count and this part's number.
    .addColumn('reference', 'integer', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('sequence', 'integer', (c) => c.notNull())
    // The number or short code it wrote to, as the carrier gave it.
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('carrier_incoming_parts_pk', [
      'carrier',
      'sender',
      'reference',
      'total',
      'sequence',
    ])
    .execute()
  await db.schema
    .createIndex('carrier_incoming_parts_received_idx')
    .on('carrier_incoming_parts')
    .column('received_at')
    .execute()
  await sql`create index carrier_reports_unmatched_received_idx on carrier_reports_unmatched (received_at)`.execute(
    db,
  )
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index carrier_reports_unmatched_received_idx`.execute(db)
  await db.schema.dropTable('carrier_incoming_parts').execute()
}
