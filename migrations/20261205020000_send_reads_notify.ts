import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The send path's per-process cache of what a batch reads about an account (src/sending/read-cache.ts:
// the account, its senders, its blacklist) learns of every change to those rows, whoever makes it,
// from these triggers: each statement that changes senders or blacklist, and each change of an
// account's service name or owner or its deletion, announces the account ids concerned on the channel
// sms_mirror_send_reads (a JSON array; delivered at COMMIT, nothing when it rolls back). Statement-level
// with transition tables for senders and blacklist: one notification per statement, not per row.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function sms_mirror_send_reads_changed() returns trigger language plpgsql as $$
    declare
      ids text;
    begin
      if tg_op = 'DELETE' then
        select json_agg(distinct account_id)::text into ids from old_rows;
      elsif tg_op = 'UPDATE' then
        select json_agg(distinct account_id)::text into ids from (
          select account_id from old_rows union select account_id from new_rows) changed;
      else
        select json_agg(distinct account_id)::text into ids from new_rows;
      end if;
      if ids is not null then
        perform pg_notify('sms_mirror_send_reads', left(ids, 7000));
      end if;
      return null;
    end
    $$`.execute(db)
  for (const table of ['senders', 'blacklist']) {
    await sql
      .raw(`create trigger ${table}_send_reads_insert after insert on ${table}
      referencing new table as new_rows for each statement execute function sms_mirror_send_reads_changed()`)
      .execute(db)
    await sql
      .raw(`create trigger ${table}_send_reads_update after update on ${table}
      referencing old table as old_rows new table as new_rows for each statement execute function sms_mirror_send_reads_changed()`)
      .execute(db)
    await sql
      .raw(`create trigger ${table}_send_reads_delete after delete on ${table}
      referencing old table as old_rows for each statement execute function sms_mirror_send_reads_changed()`)
      .execute(db)
  }
  await sql`
    create function sms_mirror_send_reads_account_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sms_mirror_send_reads', json_build_array(old.id)::text);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger accounts_send_reads after update of service_name, owner_id or delete on accounts
    for each row execute function sms_mirror_send_reads_account_changed()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger accounts_send_reads on accounts`.execute(db)
  await sql`drop function sms_mirror_send_reads_account_changed()`.execute(db)
  for (const table of ['senders', 'blacklist']) {
    for (const event of ['insert', 'update', 'delete']) {
      await sql.raw(`drop trigger ${table}_send_reads_${event} on ${table}`).execute(db)
    }
  }
  await sql`drop function sms_mirror_send_reads_changed()`.execute(db)
}
