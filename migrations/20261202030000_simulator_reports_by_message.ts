import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.

/** The simulator hands a message's reports over in order: it looks up a message's earlier reports. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('simulator_reports_message_idx')
    .on('simulator_reports')
    .columns(['carrier_message_id', 'id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('simulator_reports_message_idx').execute()
}
