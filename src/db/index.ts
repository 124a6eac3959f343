import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Config } from '../config.js'
import { PGliteDialect } from './pglite-dialect.js'
import type { Database } from './schema.js'

export type { Database } from './schema.js'
export type Db = Kysely<Database>

export type DbHandle = {
  db: Db
  kind: 'postgres' | 'pglite'
  /** The schema everything lives in when not the default one (see CreateDbOptions.searchPath). */
  schema?: string
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

// Decided once for both drivers: int8 (ids, credits in hundredths) comes back as a JS number. Every
// such value stays far below 2^53; numeric is not used for stored amounts.
const INT8_OID = 20
const parseInt8 = (value: string) => Number(value)

export type CreateDbOptions = {
  /** PostgreSQL only: run everything in this schema (tests isolate themselves this way). */
  searchPath?: string
  /** PostgreSQL pool size. */
  poolSize?: number
}

export async function createDb(
  database: Config['database'],
  options: CreateDbOptions = {},
): Promise<DbHandle> {
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: database.url,
      max: options.poolSize ?? 20,
      options: options.searchPath ? `-c search_path=${options.searchPath}` : undefined,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? parseInt8
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    })
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => {})
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return {
      db,
      kind: 'postgres',
      ...(options.searchPath ? { schema: options.searchPath } : {}),
      ping: async () => {
        await sql`select 1`.execute(db)
      },
      close: () => db.destroy(),
    }
  }

  let dataDir: string | undefined
  if (database.dataDir) {
    mkdirSync(database.dataDir, { recursive: true })
    dataDir = join(database.dataDir, 'pgdata')
  }
  const pglite = await PGlite.create(dataDir, { parsers: { [INT8_OID]: parseInt8 } })
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await sql`select 1`.execute(db)
    },
    close: () => db.destroy(),
  }
}
