import type { FastifyBaseLogger } from 'fastify'
import type { DbHandle } from '../db/index.js'
import type { CredentialStore } from './credentials.js'
import type { TokenStore } from './oauth.js'

export const AUTH_CHANNEL = 'sms_mirror_auth'

/** What a store announces when it revokes something; published with NOTIFY to every replica. */
export function announcer(database: DbHandle, log: FastifyBaseLogger) {
  return (message: string) => {
    database
      .notify(AUTH_CHANNEL, message)
      .catch((err) => log.warn({ err }, 'could not announce a revocation'))
  }
}

/**
 * Keeps this replica's auth caches honest: a revocation made on another replica clears the entry
 * here at once (LISTEN), and a lost listening connection clears everything once it is back.
 * Without it a revoked key would live up to the cache TTL (10 s) elsewhere.
 */
export async function followRevocations(
  database: DbHandle,
  credentials: CredentialStore,
  tokens: TokenStore,
  log: FastifyBaseLogger,
): Promise<() => Promise<void>> {
  if (!database.listen) return async () => {}
  return database.listen(
    AUTH_CHANNEL,
    (payload) => {
      if (payload.startsWith('credential:')) credentials.forgetHash(payload.slice('credential:'.length))
      else tokens.forgetAll()
    },
    () => {
      log.info('auth revocation listener reconnected; caches cleared')
      credentials.forgetAll()
      tokens.forgetAll()
    },
  )
}
