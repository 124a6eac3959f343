import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { buildApp } from '../src/app.js'
import { ovhSignature } from '../src/auth/signature.js'
import type { Clock } from '../src/clock.js'
import { type Config, loadConfig } from '../src/config.js'
import type { AppDeps } from '../src/context.js'
import { createSecretBox } from '../src/crypto/secret-box.js'
import { createDb, type DbHandle } from '../src/db/index.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { ensureTemplate } from '../src/db/template.js'

/** What tap's `t` offers that the helpers use (kept minimal so any test object fits). */
type Teardown = { teardown(fn: () => unknown): void }

export const TEST_SECRET = 'test-secret-key-of-at-least-32-characters!'
export const SERVICE = 'sms-ab12345-1'

/** `DATABASE_URL` set → real PostgreSQL (CI); otherwise embedded PGlite in memory. */
export const usingPostgres = Boolean(process.env.DATABASE_URL)

/**
 * A fresh, migrated database for one test file. On PostgreSQL each call gets its own schema, dropped
 * at teardown, so test files can run in parallel against one server.
 */
export async function createTestDatabase(t: Teardown): Promise<{ database: DbHandle; config: Config }> {
  if (!usingPostgres) {
    const config = loadConfig({ DATA_DIR: 'memory', SECRET_KEY: TEST_SECRET })
    await ensureTemplate() // built by test/before.ts already, unless this file runs on its own
    const database = await createDb(config.database)
    await migrateToLatest(database)
    t.teardown(() => database.close())
    return { database, config }
  }
  const url = process.env.DATABASE_URL as string
  const config = loadConfig({ DATABASE_URL: url, SECRET_KEY: TEST_SECRET })
  const schema = `t_${randomBytes(6).toString('hex')}`
  const database = await createDb(config.database, { searchPath: schema, poolSize: 10 })
  // Kysely's migrator lists the tables of every schema; a schema that another test file drops in the
  // middle of that listing fails it (3F000). Creating, migrating and dropping hold one advisory lock.
  await withSchemaLock(url, async (client) => {
    await client.query(`create schema ${schema}`)
    await migrateToLatest(database)
  })
  t.teardown(async () => {
    await database.close()
    await withSchemaLock(url, (client) => client.query(`drop schema ${schema} cascade`))
  })
  return { database, config }
}

const SCHEMA_LOCK = 727_011

async function withSchemaLock<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('select pg_advisory_lock($1)', [SCHEMA_LOCK])
    return await work(client)
  } finally {
    await client.end()
  }
}

/** A clock tests move by hand. */
export function manualClock(start = new Date('2026-11-26T12:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start.getTime()
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms
    },
  }
}

export type TestApp = {
  app: FastifyInstance
  deps: AppDeps
  ownerId: number
  clock: ReturnType<typeof manualClock>
  keys: Keys
}

/** The app on a fresh database with one owner and one account (SERVICE, 200 credits). */
export async function buildTestApp(
  t: Teardown,
  options: { credits?: number; config?: Partial<Config> } = {},
): Promise<TestApp> {
  const { database, config } = await createTestDatabase(t)
  const owner = await createOwner(database.db, 'acme')
  await createAccount(database.db, {
    ownerId: owner.id,
    serviceName: SERVICE,
    credits: options.credits ?? 200,
  })
  const clock = manualClock()
  const deps: AppDeps = {
    config: { ...config, adminToken: ADMIN_TOKEN, ...options.config },
    database,
    secretBox: createSecretBox(TEST_SECRET),
    clock,
  }
  const app = await buildApp(deps, { logger: false, workers: false })
  t.teardown(() => app.close())
  const keys = await createKeys(app, owner.id, [
    { method: 'GET', path: '/*' },
    { method: 'POST', path: '/*' },
    { method: 'PUT', path: '/*' },
    { method: 'DELETE', path: '/*' },
  ])
  signingKeys.set(app, keys)
  clocks.set(app, clock)
  return { app, deps, ownerId: owner.id, clock, keys }
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789'

export type Keys = { applicationKey: string; applicationSecret: string; consumerKey: string }

const signingKeys = new WeakMap<FastifyInstance, Keys>()
/** The clock each test app runs on: signed calls stamp their requests with it. */
const clocks = new WeakMap<FastifyInstance, Clock>()

/** Another app on the same deps (a second replica): signed calls to it use the first one's keys and clock. */
export function sameSigningAs(app: FastifyInstance, original: FastifyInstance): void {
  const keys = signingKeys.get(original)
  const clock = clocks.get(original)
  if (keys) signingKeys.set(app, keys)
  if (clock) clocks.set(app, clock)
}

/** An application and a validated consumer key with these rules, made through the admin API. */
export async function createKeys(
  app: FastifyInstance,
  ownerId: number,
  accessRules: { method: string; path: string }[],
): Promise<Keys> {
  const application = await admin(app, 'POST', '/admin/v1/applications', { owner: ownerId, name: 'tests' })
  const credential = await admin(app, 'POST', '/admin/v1/credentials', {
    applicationKey: application.body.applicationKey,
    accessRules,
  })
  return { ...application.body, consumerKey: credential.body.consumerKey }
}

/** Calls the admin API with the test ADMIN_TOKEN. */
export async function admin(app: FastifyInstance, method: Method, url: string, payload?: unknown) {
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  })
  return { status: response.statusCode, body: response.body === '' ? undefined : JSON.parse(response.body) }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** OVH signature headers for a request, computed like the official Node client does. */
export function signedHeaders(
  keys: Keys,
  method: string,
  url: string,
  body: string,
  timestamp: number,
  host = 'localhost:80',
): Record<string, string> {
  const fullUrl = `https://${host.replace(/:\d+$/, '')}${url}`
  return {
    host,
    'x-ovh-application': keys.applicationKey,
    'x-ovh-consumer': keys.consumerKey,
    'x-ovh-timestamp': String(timestamp),
    'x-ovh-signature': ovhSignature(
      keys.applicationSecret,
      keys.consumerKey,
      method,
      fullUrl,
      body,
      String(timestamp),
    ),
  }
}

/**
 * Calls the API like a signed OVH client: JSON in, `{status, body}` out. `keys` defaults to the
 * full-access keys buildTestApp made; pass `null` for an unauthenticated call.
 */
export async function call(
  app: FastifyInstance,
  method: Method,
  url: string,
  payload?: unknown,
  keys: Keys | null | undefined = signingKeys.get(app),
) {
  const body = payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload)
  const timestamp = Math.floor((clocks.get(app)?.now() ?? new Date()).getTime() / 1000)
  const headers: Record<string, string> = keys ? signedHeaders(keys, method, url, body, timestamp) : {}
  if (body !== '') headers['content-type'] = 'application/json'
  const response = await app.inject({ method, url, headers, ...(body === '' ? {} : { payload: body }) })
  const text = response.body
  return {
    status: response.statusCode,
    body: text === '' ? undefined : JSON.parse(text),
    headers: response.headers,
  }
}
