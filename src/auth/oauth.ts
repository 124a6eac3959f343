import { timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'
import { hashKey, randomKey } from '../crypto/keys.js'
import type { Db } from '../db/index.js'
import type { AccessRule } from '../db/schema.js'
import { ApiError, notFound } from '../errors.js'
import { validateAccessRules } from './credentials.js'

/** What a bearer token grants, cached in process. */
export type ResolvedToken = {
  serviceAccountId: number
  ownerId: number
  rules: AccessRule[]
  expiresAt: Date
}

/** Raised by the token endpoint: OAuth2 error bodies (RFC 6749 §5.2), not OVH ones. */
export class OAuthError extends Error {
  constructor(
    readonly statusCode: 400 | 401,
    readonly error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
  ) {
    super(description)
  }
}

export const invalidToken = () =>
  new ApiError(401, 'Invalid, expired or revoked access token: request a new one at /auth/oauth2/token')

/**
 * OAuth2 service accounts (client credentials) as OVH's newer API uses them. Client secrets and
 * access tokens are stored hashed; token lookups are cached for a few seconds.
 */
export class TokenStore {
  private readonly cache = new Map<string, { until: number; value: ResolvedToken | null }>()

  private readonly db: Db
  private readonly clock: Clock
  private readonly tokenTtlSeconds: number
  private readonly announce: (message: string) => void
  private readonly cacheTtlMs: number

  constructor(options: {
    db: Db
    clock: Clock
    tokenTtlSeconds: number
    /** Tells the other replicas that tokens were revoked (see src/auth/invalidation.ts). */
    announce?: (message: string) => void
    cacheTtlMs?: number
  }) {
    this.db = options.db
    this.clock = options.clock
    this.tokenTtlSeconds = options.tokenTtlSeconds
    this.announce = options.announce ?? (() => {})
    this.cacheTtlMs = options.cacheTtlMs ?? 10_000
  }

  async createServiceAccount(ownerId: number, accessRules: unknown, name = '') {
    const rules = validateAccessRules(accessRules)
    const clientId = `EU.${randomKey(16)}`
    const clientSecret = randomKey(40)
    await this.db
      .insertInto('service_accounts')
      .values({
        owner_id: ownerId,
        client_id: clientId,
        client_secret_hash: hashKey(clientSecret),
        name,
        rules: JSON.stringify(rules),
      })
      .execute()
    return { clientId, clientSecret }
  }

  /** Revokes the account and every token it was given. */
  async revokeServiceAccount(clientId: string): Promise<void> {
    const revoked = await this.db
      .updateTable('service_accounts')
      .set({ revoked_at: this.clock.now() })
      .where('client_id', '=', clientId)
      .where('revoked_at', 'is', null)
      .returning('id')
      .executeTakeFirst()
    if (!revoked) throw notFound(`The service account ${clientId} does not exist`)
    await this.db
      .updateTable('oauth_tokens')
      .set({ revoked: true })
      .where('service_account_id', '=', revoked.id)
      .execute()
    this.cache.clear()
    this.announce('tokens')
  }

  async issueToken(clientId: string, clientSecret: string, scope: string) {
    const account = await this.db
      .selectFrom('service_accounts')
      .select(['id', 'client_secret_hash', 'revoked_at'])
      .where('client_id', '=', clientId)
      .executeTakeFirst()
    const expected = Buffer.from(account?.client_secret_hash ?? hashKey('no such account'))
    const given = Buffer.from(hashKey(clientSecret))
    if (!account || account.revoked_at || !timingSafeEqual(expected, given)) {
      throw new OAuthError(401, 'invalid_client', 'Unknown client or wrong client secret')
    }
    const accessToken = randomKey(48)
    const expiresAt = new Date(this.clock.now().getTime() + this.tokenTtlSeconds * 1000)
    await this.db
      .insertInto('oauth_tokens')
      .values({
        service_account_id: account.id,
        token_hash: hashKey(accessToken),
        scope,
        expires_at: expiresAt,
      })
      .execute()
    return { access_token: accessToken, token_type: 'Bearer', expires_in: this.tokenTtlSeconds, scope }
  }

  async resolve(accessToken: string): Promise<ResolvedToken | null> {
    const hash = hashKey(accessToken)
    const now = this.clock.now().getTime()
    const hit = this.cache.get(hash)
    let value: ResolvedToken | null
    if (hit && hit.until > now) {
      value = hit.value
    } else {
      const row = await this.db
        .selectFrom('oauth_tokens as t')
        .innerJoin('service_accounts as s', 's.id', 't.service_account_id')
        .select(['s.id', 's.owner_id', 's.rules', 't.expires_at'])
        .where('t.token_hash', '=', hash)
        .where('t.revoked', '=', false)
        .where('s.revoked_at', 'is', null)
        .executeTakeFirst()
      value = row
        ? { serviceAccountId: row.id, ownerId: row.owner_id, rules: row.rules, expiresAt: row.expires_at }
        : null
      if (this.cache.size >= 10_000) this.cache.clear()
      this.cache.set(hash, { until: now + this.cacheTtlMs, value })
    }
    return value && value.expiresAt.getTime() > now ? value : null
  }

  /** Drops cached lookups (another replica revoked something). */
  forgetAll(): void {
    this.cache.clear()
  }
}
