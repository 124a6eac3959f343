import type { Clock } from '../clock.js'
import { hashKey, randomKey } from '../crypto/keys.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import type { AccessRule, CredentialRow } from '../db/schema.js'
import { ApiError, invalid, notFound } from '../errors.js'
import { ipAddressList } from '../fields/ip.js'
import { ACCESS_METHODS } from './rules.js'

/** What the signature check needs about one consumer key, cached in process. */
export type ResolvedCredential = {
  credentialId: number
  applicationId: number
  applicationKey: string
  applicationSecret: string
  ownerId: number
  state: CredentialRow['state']
  rules: AccessRule[]
  allowedIps: string[] | null
  expiresAt: Date | null
  createdAt: Date
  lastUse: Date | null
}

export const authError = {
  loginFirst: () => new ApiError(401, 'You must login first'),
  invalidKey: () => new ApiError(403, 'Invalid application key', 'INVALID_KEY'),
  invalidCredential: () => new ApiError(403, 'This credential is not valid', 'INVALID_CREDENTIAL'),
  invalidSignature: (detail?: string) =>
    new ApiError(400, detail ? `Invalid signature: ${detail}` : 'Invalid signature', 'INVALID_SIGNATURE'),
  notGranted: () => new ApiError(403, 'This call has not been granted', 'NOT_GRANTED_CALL'),
}

export function validateAccessRules(rules: unknown): AccessRule[] {
  const rule = 'a non-empty list of {method: GET|POST|PUT|DELETE, path: "/…"} (path may end with *)'
  if (!Array.isArray(rules) || rules.length === 0 || rules.length > 100) throw invalid('accessRules', rule)
  return rules.map((r) => {
    const method = (r as { method?: unknown })?.method
    const path = (r as { path?: unknown })?.path
    if (
      typeof method !== 'string' ||
      !(ACCESS_METHODS as readonly string[]).includes(method) ||
      typeof path !== 'string' ||
      !path.startsWith('/') ||
      path.length > 512
    ) {
      throw invalid('accessRules', rule)
    }
    return { method: method as AccessRule['method'], path }
  })
}

/**
 * Applications and consumer keys. Lookups by key go through a small in-process cache with a short
 * TTL so a signed request costs no database round trip; revocations in this process clear it at once.
 */
export class CredentialStore {
  private readonly applications = new Map<string, { expires: number; value: AppEntry | null }>()
  private readonly credentials = new Map<string, { expires: number; value: ResolvedCredential | null }>()

  private readonly db: Db
  private readonly box: SecretBox
  private readonly clock: Clock
  private readonly announce: (message: string) => void
  private readonly ttlMs: number
  private readonly maxEntries: number

  constructor(options: {
    db: Db
    box: SecretBox
    clock: Clock
    /** Tells the other replicas that a credential changed (see src/auth/invalidation.ts). */
    announce?: (message: string) => void
    ttlMs?: number
    maxEntries?: number
  }) {
    this.db = options.db
    this.box = options.box
    this.clock = options.clock
    this.announce = options.announce ?? (() => {})
    this.ttlMs = options.ttlMs ?? 10_000
    this.maxEntries = options.maxEntries ?? 10_000
  }

  async application(applicationKey: string): Promise<AppEntry | null> {
    const now = this.clock.now().getTime()
    const hit = this.applications.get(applicationKey)
    if (hit && hit.expires > now) return hit.value
    const row = await this.db
      .selectFrom('applications')
      .select(['id', 'owner_id', 'application_secret_enc'])
      .where('application_key', '=', applicationKey)
      .executeTakeFirst()
    const value = row
      ? { id: row.id, ownerId: row.owner_id, secret: this.box.open(row.application_secret_enc) }
      : null
    remember(this.applications, applicationKey, { expires: now + this.ttlMs, value }, this.maxEntries)
    return value
  }

  async credential(consumerKey: string): Promise<ResolvedCredential | null> {
    const hash = hashKey(consumerKey)
    const now = this.clock.now().getTime()
    const hit = this.credentials.get(hash)
    if (hit && hit.expires > now) return hit.value
    const row = await this.db
      .selectFrom('credentials as c')
      .innerJoin('applications as a', 'a.id', 'c.application_id')
      .select([
        'c.id',
        'c.application_id',
        'c.state',
        'c.rules',
        'c.allowed_ips',
        'c.expires_at',
        'c.created_at',
        'c.last_use',
        'a.application_key',
        'a.application_secret_enc',
        'a.owner_id',
      ])
      .where('c.consumer_key_hash', '=', hash)
      .executeTakeFirst()
    const value: ResolvedCredential | null = row
      ? {
          credentialId: row.id,
          applicationId: row.application_id,
          applicationKey: row.application_key,
          applicationSecret: this.box.open(row.application_secret_enc),
          ownerId: row.owner_id,
          state: row.state,
          rules: row.rules,
          allowedIps: row.allowed_ips,
          expiresAt: row.expires_at,
          createdAt: row.created_at,
          lastUse: row.last_use,
        }
      : null
    remember(this.credentials, hash, { expires: now + this.ttlMs, value }, this.maxEntries)
    return value
  }

  forget(consumerKey: string): void {
    const hash = hashKey(consumerKey)
    this.forgetHash(hash)
    this.announce(`credential:${hash}`)
  }

  forgetHash(hash: string): void {
    this.credentials.delete(hash)
  }

  forgetAll(): void {
    this.credentials.clear()
    this.applications.clear()
  }

  async createApplication(ownerId: number, name: string, description = '') {
    const applicationKey = randomKey(16)
    const applicationSecret = randomKey(32)
    await this.db
      .insertInto('applications')
      .values({
        owner_id: ownerId,
        application_key: applicationKey,
        application_secret_enc: this.box.seal(applicationSecret),
        name,
        description,
      })
      .execute()
    return { applicationKey, applicationSecret }
  }

  /**
   * A consumer key for an application; `validated` when an administrator asks for it directly. The
   * validation token opens the key's validation page: random like the key (ids are sequential and
   * would let anyone read every tenant's requests), stored hashed.
   */
  async createCredential(input: {
    applicationKey: string
    accessRules: unknown
    state: 'pendingValidation' | 'validated'
    expiration?: Date | null
    allowedIPs?: string[] | null
    redirection?: string | null
  }): Promise<{ consumerKey: string; credentialId: number; validationToken: string }> {
    const app = await this.application(input.applicationKey)
    if (!app) throw authError.invalidKey()
    const rules = validateAccessRules(input.accessRules)
    const allowedIps = input.allowedIPs ? allowedIpBlocks(input.allowedIPs) : null
    const consumerKey = randomKey(32)
    const validationToken = randomKey(32)
    const row = await this.db
      .insertInto('credentials')
      .values({
        application_id: app.id,
        consumer_key_hash: hashKey(consumerKey),
        validation_token_hash: hashKey(validationToken),
        state: input.state,
        rules: JSON.stringify(rules),
        allowed_ips: allowedIps,
        redirection: input.redirection ?? null,
        expires_at: input.expiration ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    return { consumerKey, credentialId: row.id, validationToken }
  }

  async validate(consumerKey: string): Promise<void> {
    const result = await this.db
      .updateTable('credentials')
      .set({ state: 'validated' })
      .where('consumer_key_hash', '=', hashKey(consumerKey))
      .where('state', 'in', ['pendingValidation', 'validated'])
      .executeTakeFirst()
    if (result.numUpdatedRows === 0n) throw notFound('This credential does not exist')
    this.forget(consumerKey)
  }

  async revoke(consumerKey: string): Promise<void> {
    await this.db
      .updateTable('credentials')
      .set({ state: 'expired' })
      .where('consumer_key_hash', '=', hashKey(consumerKey))
      .execute()
    this.forget(consumerKey)
  }
}

type AppEntry = { id: number; ownerId: number; secret: string }

function remember<V>(map: Map<string, V>, key: string, value: V, max: number) {
  if (map.size >= max) map.delete(map.keys().next().value as string)
  map.set(key, value)
}

/** allowedIPs are IP blocks (`1.2.3.4` or `1.2.3.0/24`), stored in canonical CIDR form. */
export function allowedIpBlocks(blocks: string[]): string[] {
  const plain = blocks.map((b) => b.split('/')[0] ?? '')
  ipAddressList('allowedIPs', plain, 100)
  return blocks.map((block) => {
    const [address, bits] = block.split('/')
    if (bits !== undefined && !/^\d{1,3}$/.test(bits))
      throw invalid('allowedIPs', 'IP addresses or CIDR blocks')
    return bits === undefined ? (address as string) : `${address}/${bits}`
  })
}
