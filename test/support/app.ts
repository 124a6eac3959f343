import type { FastifyInstance } from 'fastify'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { buildApp } from '../../src/app.js'
import type { Clock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { AppDeps } from '../../src/context.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { manualClock } from './clock.js'
import { createTestDatabase, TEST_SECRET } from './database.js'
import { ALL_RULES, type Keys, signedHeaders } from './signing.js'
import type { Teardown } from './teardown.js'

export const SERVICE = 'sms-ab12345-1'
export const ADMIN_TOKEN = 'test-admin-token-0123456789'

export type TestApp = {
  app: FastifyInstance
  deps: AppDeps
  ownerId: number
  clock: ReturnType<typeof manualClock>
  keys: Keys
}

/** The app (workers off, manual clock) on a fresh database with one owner and one account (SERVICE, 200 credits). */
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
  const keys = await createKeys(app, owner.id, ALL_RULES)
  signingKeys.set(app, keys)
  clocks.set(app, clock)
  return { app, deps, ownerId: owner.id, clock, keys }
}

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
