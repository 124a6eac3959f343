/**
 * The production app: the database opened (from the template when new) and migrated, the secret box,
 * HTTPS, connection timeouts, the admin token (generated and printed once when not set). Used by
 * src/server.ts, and by the tests and benches that need the app exactly as it runs.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { buildApp } from './app.js'
import { systemClock } from './clock.js'
import type { Config } from './config.js'
import type { AppDeps } from './context.js'
import { randomKey } from './crypto/keys.js'
import { createSecretBox, resolveSecret } from './crypto/secret-box.js'
import { createDb, type DbHandle } from './db/index.js'
import { migrateToLatest } from './db/migrate.js'
import { loggerOptions } from './http/logging.js'

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
  const adminToken = config.adminToken ?? randomKey(40)
  const deps: AppDeps = {
    config: { ...config, adminToken },
    database,
    secretBox: createSecretBox(resolveSecret(config)),
    clock: systemClock,
  }
  const https = config.tls
    ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
    : undefined
  const app = await buildApp(deps, {
    logger: loggerOptions(config.logLevel, { personalData: config.logPersonalData }),
    ...(https ? { https } : {}),
  })
  applyServerTimeouts(app.server, config.http)
  if (!config.adminToken) {
    // Printed once, on purpose: the operator needs it to create owners, accounts and keys.
    app.log.warn(
      { generatedAdminToken: adminToken },
      'ADMIN_TOKEN was not set: the token above was generated for this run only. Set ADMIN_TOKEN to keep one, ' +
        'then create an owner with POST /admin/v1/owners (Authorization: Bearer <token>)',
    )
  }
  app.addHook('onClose', async () => {
    await database.close()
  })
  return app
}

/**
 * Bounds on each client connection, so a client that sends its headers or body slowly, or keeps an
 * idle connection, cannot hold a socket forever (Fastify leaves the whole-request bound off). Node
 * checks the first two on a timer (every 30 s by default): a quarter of the shortest bound keeps the
 * overshoot small. Set before listen, when Node starts that timer.
 */
export function applyServerTimeouts(server: Server, timeouts: Config['http']): void {
  server.headersTimeout = timeouts.headersTimeoutMs
  server.requestTimeout = timeouts.requestTimeoutMs
  server.keepAliveTimeout = timeouts.idleTimeoutMs
  // An option of http.createServer, read again when listening starts (missing from @types/node).
  ;(server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(
    30_000,
    Math.ceil(timeouts.headersTimeoutMs / 4),
  )
}
