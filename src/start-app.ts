/**
 * The production app: the database opened (from the template when new) and migrated, the secret box,
 * HTTPS, connection timeouts, the admin token (generated and printed once when not set). Used by
 * src/server.ts, and by the tests and benches that need the app exactly as it runs.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { buildApp } from './app.js'
import { systemClock } from './clock.js'
import type { Config } from './config.js'
import type { AppDeps } from './context.js'
import { randomKey } from './crypto/keys.js'
import { createSecretBox, resolveSecret } from './crypto/secret-box.js'
import { createDb, type DbHandle, waitForPostgres } from './db/index.js'
import { migrateToLatest } from './db/migrate.js'
import { loggerOptions } from './http/logging.js'

/** Opens the database and brings its schema up to date: shared by the server and the CLI. */
export async function openDatabase(
  config: Config,
  { onWait }: { onWait?: (message: string) => void } = {},
): Promise<DbHandle> {
  if (config.database.kind === 'postgres') {
    await waitForPostgres(config.database.url, {
      waitMs: config.databaseWaitMs,
      ...(onWait ? { onWait } : {}),
    })
  }
  if (config.database.kind === 'postgres') {
    // On a connection of its own without the statement timeout (DbTimeouts.queryMs): a migration
    // that builds an index on a large table may take minutes.
    const migrating = await createDb(config.database, { poolSize: 1, timeouts: { queryMs: 0 } })
    try {
      await migrateToLatest(migrating)
    } finally {
      await migrating.close()
    }
    return createDb(config.database)
  }
  const database = await createDb(config.database)
  try {
    await migrateToLatest(database)
  } catch (error) {
    await database.close()
    throw error
  }
  return database
}

export type StartOptions = {
  /** Readable log lines instead of JSON (the server sets it when stdout is a terminal). */
  prettyLogs?: boolean
  /** Where the generated admin token and start-up waits are written (default: stderr). */
  announce?: (text: string) => void
}

export async function startApp(config: Config, options: StartOptions = {}) {
  const announce = options.announce ?? ((text: string) => process.stderr.write(text))
  const database = await openDatabase(config, { onWait: (message) => announce(`sms-mirror: ${message}\n`) })
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
    logger: loggerOptions(config.logLevel, {
      personalData: config.logPersonalData,
      pretty: options.prettyLogs ?? false,
    }),
    ...(https ? { https } : {}),
  })
  applyServerTimeouts(app.server, config.http)
  if (!config.adminToken) {
    // Printed once, on purpose, on its own line and never into the log: the operator needs it to
    // create owners, accounts and keys, and log collectors must not keep a secret.
    app.log.warn(
      'ADMIN_TOKEN was not set: an admin token was generated for this run only (printed on stderr, not logged)',
    )
    app.addHook('onListen', async () => {
      announce(generatedTokenNotice(adminToken))
    })
  }
  app.addHook('onClose', async () => {
    await database.close()
  })
  return app
}

/** The address the server is told to listen on is taken (or not allowed): one line for the operator. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ListenError'
  }
}

/**
 * Fails fast, before the database is opened (seconds for PGlite), when HOST:PORT cannot be listened
 * on: a test listen, closed at once. Port 0 (any free port) needs no check.
 */
export async function checkListenAddress(host: string, port: number): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const probe = createNetServer()
    probe.once('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EADDRINUSE'
          ? 'the port is already in use (another sms-mirror, or another program): stop it or set PORT'
          : error.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges): set PORT'
            : error.code === 'EADDRNOTAVAIL'
              ? 'this machine has no such address: set HOST'
              : `${error.message}`
      reject(new ListenError(`cannot listen on ${host}:${port} (HOST/PORT): ${why}`))
    })
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()))
  })
}

/** The words around a generated admin token: the token alone on its line, then what to do with it. */
export function generatedTokenNotice(token: string): string {
  return (
    '\nADMIN_TOKEN was not set. The admin token of this run (it changes at every start) is:\n\n' +
    `    ${token}\n\n` +
    'Keep one across restarts with ADMIN_TOKEN in the environment or in .env, then for example:\n' +
    `    export ADMIN_TOKEN=${token}\n` +
    '    npx sms-mirror init\n\n'
  )
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
