import fp from 'fastify-plugin'
import { CredentialStore, type ResolvedCredential } from './credentials.js'
import { announcer, followRevocations } from './invalidation.js'
import { TokenStore } from './oauth.js'
import type { Scope } from './scope.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Applications and consumer keys (OVH signatures), cached, revocations announced to replicas. */
    credentials: CredentialStore
    /** OAuth2 service accounts and their access tokens. */
    tokens: TokenStore
  }
  interface FastifyRequest {
    /** The accounts this request may reach (set by the API's authentication hook). */
    scope: Scope
    /** The consumer key's credential, on signed requests. */
    credential?: ResolvedCredential
  }
}

/**
 * The stores authentication reads, as decorators, kept honest across replicas: what one replica
 * revokes is announced (NOTIFY) and dropped from every replica's cache (LISTEN), from ready to close.
 */
export const authPlugin = fp(
  async (app) => {
    const announce = announcer(app.database, app.log)
    app.decorate(
      'credentials',
      new CredentialStore({ db: app.db, box: app.secretBox, clock: app.clock, announce }),
    )
    app.decorate(
      'tokens',
      new TokenStore({
        db: app.db,
        clock: app.clock,
        tokenTtlSeconds: app.config.oauthTokenTtlSeconds,
        announce,
      }),
    )
    app.decorateRequest('scope', null as unknown as Scope)
    app.decorateRequest('credential', undefined)
    const stopFollowing = await followRevocations(app.database, app.credentials, app.tokens, app.log)
    app.addHook('onClose', stopFollowing)
  },
  { name: 'sms-mirror-auth', dependencies: ['sms-mirror-context'] },
)
