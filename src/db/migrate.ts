import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Kysely, sql } from 'kysely'
import { FileMigrationProvider, Migrator } from 'kysely/migration'

/** migrations/ sits two levels above this file both in the source tree and in dist/. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

/** `schema`: keep Kysely's migration tables in that schema (set when the database runs in one). */
export function createMigrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
    ...(schema ? { migrationTableSchema: schema } : {}),
  })
}

/** The migrations this build knows, by name (as Kysely's FileMigrationProvider names them). */
async function knownMigrations(): Promise<string[]> {
  const files = await fs.readdir(MIGRATIONS_DIR)
  return files
    .filter((f) => /\.(js|ts|mjs|mts)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.map'))
    .map((f) => f.replace(/\.[^.]+$/, ''))
}

/**
 * Whether every migration of this build is recorded already: one query, where Kysely's Migrator
 * introspects every table and imports every migration file first (1.5 s on PGlite, most of a start).
 */
async function upToDate(db: Kysely<any>, schema: string): Promise<boolean> {
  try {
    const { rows } = await sql<{
      name: string
    }>`select name from ${sql.table(`${schema}.kysely_migration`)}`.execute(db)
    const applied = new Set(rows.map((r) => r.name))
    return (await knownMigrations()).every((name) => applied.has(name))
  } catch {
    return false // no migration table yet: a new database
  }
}

/** Applies every pending migration to `db`, keeping Kysely's tables in `schema`. */
export async function migrateDb(db: Kysely<any>, schema: string): Promise<string[]> {
  if (await upToDate(db, schema)) return []
  const { error, results } = await createMigrator(db, schema).migrateToLatest()
  if (error) throw error
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Applies every pending migration. The Migrator's lock makes concurrent replicas safe. */
export function migrateToLatest(database: { db: Kysely<any>; schema?: string }): Promise<string[]> {
  // Named explicitly: Kysely looks for its tables in every schema, and would find another schema's.
  return migrateDb(database.db, database.schema ?? 'public')
}
