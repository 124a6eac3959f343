import { type Kysely, sql } from 'kysely'

// Frozen in time: takes Kysely<any> and never imports application code.
//
// The hand-over's record (pending → submitted, with ptt 3 / DLR 8) and every later status change can
// be heap-only updates (HOT): no index of outgoing names a column they change. PostgreSQL makes an
// update HOT only when no indexed column's value changes, predicates of partial indexes included,
// and `state` was named by two: outgoing_due_idx (where state = 'pending') and outgoing_expiry_idx
// (where state = 'submitted'), so every record wrote an entry in each of the table's seven indexes.
//
// - The due queue is a table of its own: outgoing_due holds one row per pending message, with the
//   time the sending worker should look at it next (its send_at; the end of its lease while it is
//   being handed over; its retry time). Rows enter with the outgoing INSERT (a statement trigger, so
//   every code path that writes pending messages fills it) and leave when the worker records the
//   hand-over; a row whose message is no longer pending (cancelled) is dropped by the next claim
//   that meets it.
// - The expiry scan's index names `unsettled` (pending or submitted), a stored generated column that
//   does not change when a message is submitted, only when it becomes final or is cancelled.
// - carrier_messages loses its foreign key to outgoing: its check cost a query per part recorded
//   (~8 µs of the ~28 µs each row's insert took). Deleting outgoing rows (history, an account) still
//   deletes their carrier_messages and due rows, by a statement trigger on outgoing.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table outgoing_due (
      outgoing_id bigint primary key,
      due_at timestamptz not null
    )`.execute(db)
  await sql`create index outgoing_due_at_idx on outgoing_due (due_at)`.execute(db)
  await sql`
    insert into outgoing_due (outgoing_id, due_at)
    select id, greatest(send_at, coalesce(claimed_until, send_at)) from outgoing where state = 'pending'`.execute(
    db,
  )
  await sql`
    create function sms_mirror_outgoing_due() returns trigger language plpgsql as $$
    begin
      insert into outgoing_due (outgoing_id, due_at)
      select id, send_at from new_rows where state = 'pending';
      return null;
    end
    $$`.execute(db)
  await sql`create trigger outgoing_due_insert after insert on outgoing
    referencing new table as new_rows for each statement execute function sms_mirror_outgoing_due()`.execute(
    db,
  )
  await sql`alter table carrier_messages drop constraint carrier_messages_outgoing_id_fkey`.execute(db)
  await sql`
    create function sms_mirror_outgoing_deleted() returns trigger language plpgsql as $$
    begin
      delete from carrier_messages where outgoing_id in (select id from old_rows);
      delete from outgoing_due where outgoing_id in (select id from old_rows);
      return null;
    end
    $$`.execute(db)
  await sql`create trigger outgoing_deleted after delete on outgoing
    referencing old table as old_rows for each statement execute function sms_mirror_outgoing_deleted()`.execute(
    db,
  )
  await sql`drop index outgoing_due_idx`.execute(db)
  await sql`drop index outgoing_expiry_idx`.execute(db)
  await sql`alter table outgoing add column unsettled boolean
    generated always as (state in ('pending', 'submitted')) stored`.execute(db)
  await sql`create index outgoing_expiry_idx on outgoing (expires_at) where unsettled`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index outgoing_expiry_idx`.execute(db)
  await sql`alter table outgoing drop column unsettled`.execute(db)
  await sql`create index outgoing_expiry_idx on outgoing (expires_at) where state = 'submitted'`.execute(db)
  await sql`create index outgoing_due_idx on outgoing (send_at) where state = 'pending'`.execute(db)
  await sql`drop trigger outgoing_deleted on outgoing`.execute(db)
  await sql`drop function sms_mirror_outgoing_deleted()`.execute(db)
  await sql`delete from carrier_messages as m where not exists (select 1 from outgoing as o where o.id = m.outgoing_id)`.execute(
    db,
  )
  await sql`alter table carrier_messages add constraint carrier_messages_outgoing_id_fkey
    foreign key (outgoing_id) references outgoing (id) on delete cascade`.execute(db)
  await sql`drop trigger outgoing_due_insert on outgoing`.execute(db)
  await sql`drop function sms_mirror_outgoing_due()`.execute(db)
  await sql`drop table outgoing_due`.execute(db)
}
