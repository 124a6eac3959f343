import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The http2sms credential cache (src/http2sms/credential-cache.ts) keeps a user's password and IP
// restrictions, and the lockout's verdict for a login from an address, per process. The row-change
// notifications of sms_users ('u…') come with every quota spend, so they cannot drive it; these
// triggers announce, on the same channel sms_mirror_rows, only what changes a credential:
// - 'c' + [account_id, login] when a user is created or deleted, or its password, IP restrictions,
//   login or account change (row-level: such statements touch few rows; identical notifications of
//   one transaction are folded by PostgreSQL);
// - 'g' + subject when a failure is counted for a login from an address (the lockout's 'pair:' rows)
//   or an address's trust for a login is deleted ('trusted:' rows; the purge only deletes expired
//   ones, which the cache already disregards), so a cached "nothing against this login from this
//   trusted address" is dropped in every replica.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function sms_mirror_credentials_changed() returns trigger language plpgsql as $$
    begin
      if tg_op in ('UPDATE', 'DELETE') then
        perform pg_notify('sms_mirror_rows', 'c' || json_build_array(old.account_id, old.login)::text);
      end if;
      if tg_op in ('UPDATE', 'INSERT') then
        perform pg_notify('sms_mirror_rows', 'c' || json_build_array(new.account_id, new.login)::text);
      end if;
      return null;
    end
    $$`.execute(db)
  await sql`create trigger sms_users_credentials_changed
    after insert or delete or update of password_enc, ip_restrictions, login, account_id on sms_users
    for each row execute function sms_mirror_credentials_changed()`.execute(db)
  await sql`
    create function sms_mirror_login_failed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sms_mirror_rows', 'g' || new.subject);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger http2sms_guard_failed after insert or update on http2sms_guard
    for each row when (new.failures > 0 and new.subject like 'pair:%')
    execute function sms_mirror_login_failed()`.execute(db)
  await sql`
    create function sms_mirror_trust_deleted() returns trigger language plpgsql as $$
    begin
      perform pg_notify('sms_mirror_rows', 'g' || old.subject);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger http2sms_guard_trust_deleted after delete on http2sms_guard
    for each row when (old.subject like 'trusted:%')
    execute function sms_mirror_trust_deleted()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger http2sms_guard_trust_deleted on http2sms_guard`.execute(db)
  await sql`drop function sms_mirror_trust_deleted()`.execute(db)
  await sql`drop trigger http2sms_guard_failed on http2sms_guard`.execute(db)
  await sql`drop function sms_mirror_login_failed()`.execute(db)
  await sql`drop trigger sms_users_credentials_changed on sms_users`.execute(db)
  await sql`drop function sms_mirror_credentials_changed()`.execute(db)
}
