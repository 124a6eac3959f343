import type { Kysely } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// Sender validation (src/senders/):
// - an owner's identity, from which senders can be validated at once (sendersAvailableForValidation):
//   its nic handle and its domain names (one a line), set by the operator;
// - the code that validates a numeric sender (POST {S}/senders/{sender}/validate): sent by SMS to the
//   number when it is requested, kept as a SHA-256 hash, with the wrong attempts counted.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('owners')
    .addColumn('nichandle', 'text')
    .addColumn('domains', 'text', (c) => c.notNull().defaultTo(''))
    .execute()
  await db.schema
    .alterTable('senders')
    .addColumn('code_hash', 'text')
    .addColumn('code_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('code_expires_at', 'timestamptz')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('senders')
    .dropColumn('code_hash')
    .dropColumn('code_attempts')
    .dropColumn('code_expires_at')
    .execute()
  await db.schema.alterTable('owners').dropColumn('nichandle').dropColumn('domains').execute()
}
