import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Kysely } from 'kysely'
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

/** Applies every pending migration to `db`, keeping Kysely's tables in `schema`. */
export async function migrateDb(db: Kysely<any>, schema: string): Promise<string[]> {
  const { error, results } = await createMigrator(db, schema).migrateToLatest()
  if (error) throw error
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Applies every pending migration. The Migrator's lock makes concurrent replicas safe. */
export function migrateToLatest(database: { db: Kysely<any>; schema?: string }): Promise<string[]> {
  // Named explicitly: Kysely looks for its tables in every schema, and would find another schema's.
  return migrateDb(database.db, database.schema ?? 'public')
}
