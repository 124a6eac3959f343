import { createSecretBox } from '../../src/crypto/secret-box.js'
import { createDb, type DbHandle } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { seedAccount } from '../../test/support/account.js'
import { freshDatabaseOn, startCluster } from '../../test/support/postgres.js'
import { ALL_RULES, type Keys } from '../../test/support/signing.js'
import type { Drill } from './harness.js'

/** What every drill seeds and runs the server with: the account, its user and sender, the settings. */

export const SERVICE = 'sms-drill-1'
export const LOGIN = 'drilluser1'
export const PASSWORD = 'drill-pass-1234'
export const SENDER = 'DRILL'
export const SECRET_KEY = 'drill-secret-key-of-at-least-32-characters!'
export const ADMIN_TOKEN = 'drill-admin-token-0123456789'
/** Credits of the account, and the user's quota taken from them (1 credit per message here). */
export const ACCOUNT_CREDITS = 100_000
export const QUOTA = 20_000
export const MESSAGE = 'sms-mirror fault drill'
/** The simulator's default rule: ptt 3 (dlr 8) at hand-over, then ptt 4 (dlr 1, delivered). */
export const EXPECTED_PTTS = [3, 4]

/**
 * The drill's PostgreSQL: a fresh database on DATABASE_URL when it is set, else a throwaway cluster
 * of its own (stopped at the drill's cleanup). `label` says which, for the drill's log.
 */
export async function drillDatabase(drill: Drill): Promise<{ url: string; label: string }> {
  const given = process.env.DATABASE_URL
  if (given)
    return { url: await freshDatabaseOn(drill, given, 'drill'), label: 'a fresh database on DATABASE_URL' }
  const cluster = await startCluster()
  drill.onCleanup(() => cluster.stop())
  return { url: cluster.url, label: cluster.label }
}

/** The drill's own pool on the database (not the server's): seed, watch, check. */
export async function openDb(url: string): Promise<DbHandle> {
  return createDb({ kind: 'postgres', url }, { poolSize: 4 })
}

/**
 * Migrates, then: an owner, an account with credits, a user with a password, an active quota and a
 * callBack to `callbackUrl`, and a validated sender. Answers the owner id.
 */
export async function seed(handle: DbHandle, callbackUrl: string): Promise<number> {
  await migrateToLatest(handle)
  const { ownerId } = await seedAccount(handle.db, createSecretBox(SECRET_KEY), {
    owner: 'drill',
    serviceName: SERVICE,
    credits: ACCOUNT_CREDITS,
    sender: SENDER,
    user: { login: LOGIN, password: PASSWORD, callBack: callbackUrl, quota: QUOTA },
  })
  return ownerId
}

/** An application and a validated consumer key, through the running server's admin HTTP API. */
export async function createKeys(base: string, ownerId: number): Promise<Keys> {
  const post = async <T>(path: string, payload: unknown): Promise<T> => {
    const response = await fetch(`${base}/admin/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    })
    const text = await response.text()
    if (response.status !== 200) throw new Error(`POST /admin/v1${path} → ${response.status} ${text}`)
    return JSON.parse(text) as T
  }
  const application = await post<{ applicationKey: string; applicationSecret: string }>('/applications', {
    owner: ownerId,
    name: 'drill',
  })
  const credential = await post<{ consumerKey: string }>('/credentials', {
    applicationKey: application.applicationKey,
    accessRules: ALL_RULES,
  })
  return { ...application, consumerKey: credential.consumerKey }
}

/** The settings every drill runs the server with: fast carrier, fast polls, short callback retries. */
export const serverEnv = (databaseUrl: string, port: number): Record<string, string> => ({
  PORT: String(port),
  HOST: '127.0.0.1',
  DATABASE_URL: databaseUrl,
  SECRET_KEY,
  ADMIN_TOKEN,
  LOG_LEVEL: 'warn',
  CALLBACK_ALLOW_PRIVATE: 'true',
  CALLBACK_RETRY_SCHEDULE: '1s,1s,2s,2s,5s',
  // Bounds one callback and, with it, the dispatcher's lease on a claimed batch (≈ 3 × 2 s + 5 s):
  // what a killed process had claimed comes back that soon.
  CALLBACK_TIMEOUT_MS: '2000',
  SIMULATOR_DELAY_MS: '300',
  SENDING_POLL_MS: '100',
  // Any free port: drills run beside other processes that may hold 2775.
  SMPP_PORT: '0',
  // What a killed process had handed over (messages to the carrier, simulator reports) comes back
  // after this lease, not after the default minute.
  HANDOVER_LEASE_MS: '5000',
})
