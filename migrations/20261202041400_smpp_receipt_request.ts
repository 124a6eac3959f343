import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// An SMS sent by submit_sm keeps what its registered_delivery asked for (the receipt bits, 0–31):
// the status path turns its changes into deliver_sm receipts from that. null: not an SMPP send.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outgoing').addColumn('smpp_receipt', 'smallint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('outgoing').dropColumn('smpp_receipt').execute()
}
