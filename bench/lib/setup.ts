import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { systemClock } from '../../src/clock.js'
import { type Config, loadConfig } from '../../src/config.js'
import type { AppDeps } from '../../src/context.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { createDb, type DbHandle } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import type { ThrowawayDatabase } from '../../test/support/postgres.js'
import type { Keys } from '../../test/support/signing.js'

export const BENCH_SECRET = 'bench-secret-key-of-at-least-32-characters!'
export const ADMIN_TOKEN = 'bench-admin-token-0123456789'

/** A migrated database handle on the bench database (its own schema when DATABASE_URL was given). */
export async function openDb(
  database: ThrowawayDatabase,
  poolSize = 20,
): Promise<{ handle: DbHandle; config: Config }> {
  const config = loadConfig({
    DATABASE_URL: database.url,
    SECRET_KEY: BENCH_SECRET,
    ADMIN_TOKEN,
    CALLBACK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'silent',
  })
  const handle = await createDb(config.database, {
    poolSize,
    ...(database.searchPath ? { searchPath: database.searchPath } : {}),
  })
  return { handle, config }
}

/** The real app (real clock) on the bench database; migrations applied. */
export async function benchApp(
  database: ThrowawayDatabase,
  options: { workers: boolean; config?: Partial<Config> },
): Promise<{ app: FastifyInstance; deps: AppDeps }> {
  const { handle, config } = await openDb(database)
  await migrateToLatest(handle)
  const deps: AppDeps = {
    config: { ...config, adminToken: ADMIN_TOKEN, ...options.config },
    database: handle,
    secretBox: createSecretBox(BENCH_SECRET),
    clock: systemClock,
  }
  const app = await buildApp(deps, { logger: false, workers: options.workers })
  app.addHook('onClose', async () => handle.close())
  return { app, deps }
}

/** Calls the admin API in process; throws unless it answers 200. */
export async function admin<T = Record<string, string>>(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
): Promise<T> {
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(payload === undefined ? {} : { payload: payload as object }),
  })
  if (response.statusCode !== 200)
    throw new Error(`${method} ${url} → ${response.statusCode} ${response.body}`)
  return (response.body === '' ? undefined : JSON.parse(response.body)) as T
}

export const ALL_RULES = [
  { method: 'GET', path: '/*' },
  { method: 'POST', path: '/*' },
  { method: 'PUT', path: '/*' },
  { method: 'DELETE', path: '/*' },
]

/** An application and a validated consumer key, through the admin API. */
export async function createKeys(app: FastifyInstance, ownerId: number): Promise<Keys> {
  const application = await admin<{ applicationKey: string; applicationSecret: string }>(
    app,
    'POST',
    '/admin/v1/applications',
    { owner: ownerId, name: 'bench' },
  )
  const credential = await admin<{ consumerKey: string }>(app, 'POST', '/admin/v1/credentials', {
    applicationKey: application.applicationKey,
    accessRules: ALL_RULES,
  })
  return { ...application, consumerKey: credential.consumerKey }
}

/** Listens on 127.0.0.1, a free port; answers `127.0.0.1:port`. */
export async function listenLocal(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return `127.0.0.1:${address.port}`
}

// ---------------------------------------------------------------- numbers and output

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] as number
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits

/** High-resolution wall-clock milliseconds, comparable between processes of one machine. */
export const wallMs = () => performance.timeOrigin + performance.now()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function printTable(headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((row) => row.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)))
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ')
  console.log(line(headers))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of cells.slice(1)) console.log(line(row))
}

export function machine() {
  let cpu = cpus()[0]?.model ?? 'unknown'
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (match?.[1]) cpu = match[1].trim()
  } catch {}
  return { nproc: cpus().length, cpu, node: process.version, date: new Date().toISOString() }
}

/** `figure (target …) OK|MISSED` */
export const verdict = (pass: boolean) => (pass ? 'OK' : 'MISSED')
