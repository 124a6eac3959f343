import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// Per-process caches of rows read on every request (src/db/row-changes.ts) learn of every change to
// those rows, whoever makes it (any replica, any code path, psql), from these triggers: each
// statement that changes sms_users announces the keys of the rows it changed on the channel
// sms_mirror_rows, delivered at COMMIT to every listening connection (nothing when it rolls back).
// Payload: 'u' + a JSON array of [account_id, login], or 'u*' (everything) when it would not fit
// NOTIFY's 8,000 bytes; 'a' + [account id] when an account's service name or owner changes or it is
// deleted. Statement-level with transition tables: one notification per statement, not per row.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function sms_mirror_users_changed() returns trigger language plpgsql as $$
    declare
      keys text;
    begin
      if tg_op = 'DELETE' then
        select json_agg(distinct jsonb_build_array(account_id, login))::text into keys from old_rows;
      elsif tg_op = 'UPDATE' then
        select json_agg(distinct k)::text into keys from (
          select jsonb_build_array(account_id, login) as k from old_rows
          union select jsonb_build_array(account_id, login) from new_rows) changed;
      else
        select json_agg(distinct jsonb_build_array(account_id, login))::text into keys from new_rows;
      end if;
      if keys is null then
        return null;
      end if;
      if octet_length(keys) > 7000 then
        keys := '*';
      end if;
      perform pg_notify('sms_mirror_rows', 'u' || keys);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger sms_users_changed_insert after insert on sms_users
    referencing new table as new_rows for each statement execute function sms_mirror_users_changed()`.execute(
    db,
  )
  await sql`create trigger sms_users_changed_update after update on sms_users
    referencing old table as old_rows new table as new_rows for each statement execute function sms_mirror_users_changed()`.execute(
    db,
  )
  await sql`create trigger sms_users_changed_delete after delete on sms_users
    referencing old table as old_rows for each statement execute function sms_mirror_users_changed()`.execute(
    db,
  )
  await sql`
    create function sms_mirror_account_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sms_mirror_rows', 'a' || json_build_array(old.id)::text);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger accounts_changed after update of service_name, owner_id or delete on accounts
    for each row execute function sms_mirror_account_changed()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger accounts_changed on accounts`.execute(db)
  await sql`drop function sms_mirror_account_changed()`.execute(db)
  for (const event of ['insert', 'update', 'delete']) {
    await sql.raw(`drop trigger sms_users_changed_${event} on sms_users`).execute(db)
  }
  await sql`drop function sms_mirror_users_changed()`.execute(db)
}
