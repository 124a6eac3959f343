import fp from 'fastify-plugin'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import type { SecretBox } from './crypto/secret-box.js'
import type { Db, DbHandle } from './db/index.js'

/** Everything buildApp needs from the outside world. */
export type AppDeps = {
  config: Config
  database: DbHandle
  secretBox: SecretBox
  clock: Clock
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** The database handle (kind, LISTEN/NOTIFY, ping); its owner (server.ts, a test) closes it. */
    database: DbHandle
    /** Shorthand for `database.db`, what repositories take. */
    db: Db
    secretBox: SecretBox
    clock: Clock
  }
}

/**
 * The outside world every other plugin and route reads: configuration, database, secret box and
 * clock, as decorators. A route plugin is tested with Fastify(), this, and the plugin.
 */
export const contextPlugin = fp<AppDeps>(
  async (app, deps) => {
    app.decorate('config', deps.config)
    app.decorate('database', deps.database)
    app.decorate('db', deps.database.db)
    app.decorate('secretBox', deps.secretBox)
    app.decorate('clock', deps.clock)
  },
  { name: 'sms-mirror-context' },
)
