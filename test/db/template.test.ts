import { readFileSync } from 'node:fs'
import { sql } from 'kysely'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createDb } from '../../src/db/index.js'
import { ensureTemplate } from '../../src/db/template.js'
import { TEST_SECRET } from '../support/database.js'

/** The names and sizes of a tarball's files (ustar: 512-byte headers, sizes in octal). */
function tarEntries(tar: Buffer): Map<string, number> {
  const entries = new Map<string, number>()
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = tar.toString('utf8', at, at + 100).replace(/\0.*$/s, '')
    if (!name) break
    const size = Number.parseInt(
      tar
        .toString('utf8', at + 124, at + 136)
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    )
    entries.set(name.replace(/^\//, ''), size)
    at += 512 + Math.ceil(size / 512) * 512
  }
  return entries
}

t.test('the template: one database, 1 MB WAL segments, a few hundred files', async (t) => {
  const entries = tarEntries(readFileSync(await ensureTemplate()))
  const names = [...entries.keys()]
  t.ok(
    names.some((name) => name.startsWith('base/5/')),
    'the postgres database is there',
  )
  t.notOk(
    names.some((name) => /^base\/[14]\//.test(name)),
    'template0 and template1 are not',
  )
  const wal = names.filter((name) => /^pg_wal\/[0-9A-F]{24}$/.test(name))
  t.ok(wal.length > 0, 'a WAL segment')
  for (const name of wal) t.equal(entries.get(name), 1024 * 1024, `${name} is 1 MB`)
  t.ok(entries.size < 600, `${entries.size} files`)
})

t.test('a database made from it is migrated and writes past its first WAL segment', async (t) => {
  const config = loadConfig({ DATA_DIR: 'memory', SECRET_KEY: TEST_SECRET })
  const database = await createDb(config.database)
  t.teardown(() => database.close())
  const { rows } = await sql<{ datname: string }>`select datname from pg_database`.execute(database.db)
  t.same(
    rows.map((row) => row.datname),
    ['postgres'],
  )
  const migrated = await sql<{ n: number }>`select count(*)::int as n from kysely_migration`.execute(
    database.db,
  )
  t.ok((migrated.rows[0]?.n ?? 0) > 10, 'the migrations ran')
  await sql`create table filler (a text)`.execute(database.db)
  await sql`insert into filler select repeat('x', 1000) from generate_series(1, 5000)`.execute(database.db)
  const { rows: count } = await sql<{ n: number }>`select count(*)::int as n from filler`.execute(database.db)
  t.equal(count[0]?.n, 5000)
  const { rows: size } = await sql<{
    size: string
  }>`select current_setting('wal_segment_size') as size`.execute(database.db)
  t.equal(size[0]?.size, '1MB')
})
