import { readFileSync } from 'node:fs'
import { buildApp } from './app.js'
import { randomKey } from './auth/credentials.js'
import type { Config } from './config.js'
import { createSecretBox, resolveSecret } from './crypto.js'
import { createDb, type DbHandle } from './db/index.js'
import { migrateToLatest } from './db/migrate.js'
import { type AppDeps, systemClock } from './deps.js'

/** Opens the database and brings its schema up to date: shared by the server and the CLI. */
export async function openDatabase(config: Config): Promise<DbHandle> {
  const database = await createDb(config.database)
  try {
    await migrateToLatest(database)
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

export async function startApp(config: Config) {
  const database = await openDatabase(config)
  const deps: AppDeps = {
    config,
    database,
    secretBox: createSecretBox(resolveSecret(config)),
    clock: systemClock,
  }
  const app = await buildApp(deps)
  app.addHook('onClose', async () => {
    await database.close()
  })
  return app
}
