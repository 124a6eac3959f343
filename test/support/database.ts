import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { type Config, loadConfig } from '../../src/config.js'
import { createDb, type DbHandle } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { ensureTemplate } from '../../src/db/template.js'
import type { Teardown } from './teardown.js'

export const TEST_SECRET = 'test-secret-key-of-at-least-32-characters!'

/** `DATABASE_URL` set → real PostgreSQL (CI); otherwise embedded PGlite in memory. */
export const usingPostgres = Boolean(process.env.DATABASE_URL)

/**
 * A fresh, migrated database for one test file. On PGlite it starts from the migrated template
 * (src/db/template.ts, built once per run by test/before.ts). On PostgreSQL each call gets its own
 * schema, dropped at teardown, so test files can run in parallel against one server.
 */
export async function createTestDatabase(t: Teardown): Promise<{ database: DbHandle; config: Config }> {
  if (!usingPostgres) {
    const config = loadConfig({ DATA_DIR: 'memory', SECRET_KEY: TEST_SECRET })
    await ensureTemplate() // built by test/before.ts already, unless this file runs on its own
    const database = await createDb(config.database)
    await migrateToLatest(database)
    t.teardown(() => database.close())
    return { database, config }
  }
  const url = process.env.DATABASE_URL as string
  const config = loadConfig({ DATABASE_URL: url, SECRET_KEY: TEST_SECRET })
  const schema = `t_${randomBytes(6).toString('hex')}`
  const database = await createDb(config.database, { searchPath: schema, poolSize: 10 })
  // Kysely's migrator lists the tables of every schema; a schema that another test file drops in the
  // middle of that listing fails it (3F000). Creating, migrating and dropping hold one advisory lock.
  await withSchemaLock(url, async (client) => {
    await client.query(`create schema ${schema}`)
    await migrateToLatest(database)
  })
  t.teardown(async () => {
    await database.close()
    await withSchemaLock(url, (client) => client.query(`drop schema ${schema} cascade`))
  })
  return { database, config }
}

const SCHEMA_LOCK = 727_011

async function withSchemaLock<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('select pg_advisory_lock($1)', [SCHEMA_LOCK])
    return await work(client)
  } finally {
    await client.end()
  }
}
