import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Config } from '../config.js'
import { lockDataDir } from './data-dir-lock.js'
import { PGliteDialect } from './pglite-dialect.js'
import { sharedPgliteRuntime } from './pglite-runtime.js'
import type { Database } from './schema.js'
import { readTemplate } from './template.js'

export type { Database } from './schema.js'
export type Db = Kysely<Database>

export type DbHandle = {
  db: Db
  kind: 'postgres' | 'pglite'
  /** The schema everything lives in when not the default one (see CreateDbOptions.searchPath). */
  schema?: string
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>
  /**
   * PostgreSQL only (PGlite serves one process, which needs no messages): calls `onMessage` for each
   * NOTIFY on `channel`, and `onReconnect` after the listening connection was lost and restored
   * (messages may have been missed meanwhile). Resolves to a function that stops listening.
   */
  listen?(
    channel: string,
    onMessage: (payload: string) => void,
    onReconnect: () => void,
  ): Promise<() => Promise<void>>
  /**
   * Like `listen`, for both drivers, with a barrier: `sync()` resolves once every notification
   * committed before it was called has been handed to `onMessage`. PostgreSQL: one round trip on the
   * listening connection (its answer comes after the notifications queued before it; concurrent calls
   * share round trips), rejected while that connection is lost (`onLost`, then `onReconnect` once it
   * is back). PGlite: one backend in this process, which hands a COMMIT's notifications over before the
   * COMMIT resolves, so `sync()` has nothing to wait for.
   */
  subscribe(channel: string, handlers: SubscriptionHandlers): Promise<Subscription>
  notify(channel: string, payload: string): Promise<void>
  close(): Promise<void>
}

export type SubscriptionHandlers = {
  onMessage: (payload: string) => void
  onReconnect: () => void
  onLost?: () => void
}

export type Subscription = {
  sync(): Promise<void>
  stop(): Promise<void>
}

// Decided once for both drivers: int8 (ids, credits in hundredths) comes back as a JS number. Every
// such value stays far below 2^53; numeric is not used for stored amounts.
const INT8_OID = 20
const parseInt8 = (value: string) => Number(value)

export type CreateDbOptions = {
  /** PostgreSQL only: run everything in this schema (tests isolate themselves this way). */
  searchPath?: string
  /** PostgreSQL pool size. */
  poolSize?: number
  /** PostgreSQL: bounds on waits for a server that stops answering (see DbTimeouts). */
  timeouts?: Partial<DbTimeouts>
}

/**
 * PostgreSQL only. A server that refuses or closes connections fails queries at once; these bound the
 * waits on one that goes silent instead (a host gone, a network cut, a hung proxy), which the kernel
 * would otherwise report only after many minutes. Each failure is "database unavailable" (503).
 * The wait for a free client of the pool is not bounded: that is queueing under load, not an outage.
 */
export type DbTimeouts = {
  /** Opening a connection: TCP connect, TLS, startup and authentication. */
  connectMs: number
  /**
   * One statement's answer; the connection is then closed (the statements queued behind it on that
   * connection would wait for its answer too). A transaction it was in is rolled back once the server
   * notices the connection is gone (see README). 0: unbounded (the migrations, whose index builds
   * may take long).
   */
  queryMs: number
  /** A `sync()` round trip on the LISTEN connection; the connection is then replaced. */
  syncMs: number
}

export const DB_TIMEOUTS: DbTimeouts = { connectMs: 5000, queryMs: 30_000, syncMs: 5000 }

/** TCP keepalive on every connection, so an idle one whose server vanished is noticed in the end (with
 * the system's probe interval and count: about 11 min on Linux defaults). */
const KEEPALIVE_DELAY_MS = 10_000
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout'

/**
 * pg's Client with the connect and statement timeouts and keepalive. A statement that timed out
 * closes its connection: pg keeps it active until its answer arrives, and every statement queued on
 * that connection (the rest of its transaction, the next user of the pooled client) waits behind it.
 */
function boundedClient({ connectMs, queryMs }: DbTimeouts): typeof pg.Client {
  return class BoundedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      // The password copied by name: pg-pool hands it over as a non-enumerable property, which a
      // spread drops.
      const given: pg.ClientConfig = typeof config === 'string' ? { connectionString: config } : { ...config }
      if (typeof config === 'object' && config.password !== undefined) given.password = config.password
      super(
        Object.assign(given, {
          connectionTimeoutMillis: connectMs,
          ...(queryMs > 0 ? { query_timeout: queryMs } : {}),
          keepAlive: true,
          keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
        }),
      )
    }

    // biome-ignore lint/suspicious/noExplicitAny: pg's query has a dozen overloads; this forwards them all
    override query(...args: any[]): any {
      // biome-ignore lint/suspicious/noExplicitAny: as above
      const result = (super.query as (...forwarded: any[]) => unknown)(...args)
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if (error instanceof Error && error.message === QUERY_TIMEOUT_MESSAGE) this.abandon()
        })
      }
      return result
    }

    /** Closes at once (pg's end() destroys the socket while a statement is active): the pool drops it. */
    private abandon(): void {
      this.end().catch(() => {})
    }
  }
}

export async function createDb(
  database: Config['database'],
  options: CreateDbOptions = {},
): Promise<DbHandle> {
  if (database.kind === 'postgres') {
    const timeouts = { ...DB_TIMEOUTS, ...options.timeouts }
    const pool = new pg.Pool({
      connectionString: database.url,
      Client: boundedClient(timeouts),
      max: options.poolSize ?? 20,
      options: options.searchPath ? `-c search_path=${options.searchPath}` : undefined,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID
            ? parseInt8
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    })
    // A client losing its server must not crash the process; the next query reports it. The pool
    // listens to idle clients only: a checked-out one (in a transaction, between two statements) would
    // otherwise emit 'error' with no listener (e.g. PostgreSQL shutting down: 57P01).
    pool.on('error', () => {})
    pool.on('connect', (client) => client.on('error', () => {}))
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return {
      db,
      kind: 'postgres',
      listen: async (channel, onMessage, onReconnect) =>
        (await listen(database.url, options.searchPath, timeouts, channel, { onMessage, onReconnect })).stop,
      subscribe: (channel, handlers) => listen(database.url, options.searchPath, timeouts, channel, handlers),
      notify: async (channel, payload) => {
        await sql`select pg_notify(${channel}, ${payload})`.execute(db)
      },
      ...(options.searchPath ? { schema: options.searchPath } : {}),
      ping: async () => {
        await sql`select 1`.execute(db)
      },
      close: () => db.destroy(),
    }
  }

  let dataDir: string | undefined
  let unlock = () => {}
  if (database.dataDir) {
    mkdirSync(database.dataDir, { recursive: true })
    unlock = lockDataDir(database.dataDir)
    dataDir = join(database.dataDir, 'pgdata')
  }
  let pglite: PGlite
  try {
    // A new database starts from the migrated template when there is one (see template.ts).
    const isNew = !dataDir || !existsSync(dataDir) || readdirSync(dataDir).length === 0
    const template = isNew ? readTemplate() : null
    pglite = await PGlite.create(dataDir, {
      ...(await sharedPgliteRuntime()),
      parsers: { [INT8_OID]: parseInt8 },
      ...(template ? { loadDataDir: template } : {}),
    })
  } catch (error) {
    unlock()
    throw error
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  const embedded = pglite
  return {
    db,
    kind: 'pglite',
    subscribe: async (channel, { onMessage }) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`)
      const unsubscribe = embedded.onNotification((name, payload) => {
        if (name === channel) onMessage(payload)
      })
      // Through Kysely, whose dialect hands the one backend out a transaction at a time: LISTEN run
      // inside another caller's open transaction would be undone with it.
      await sql.raw(`listen ${channel}`).execute(db)
      return {
        sync: async () => {},
        stop: async () => {
          unsubscribe()
          if (!embedded.closed) await sql.raw(`unlisten ${channel}`).execute(db)
        },
      }
    },
    notify: async () => {},
    ping: async () => {
      await sql`select 1`.execute(db)
    },
    close: async () => {
      await db.destroy()
      // Kysely closes its driver only if a query ever ran; an open PGlite keeps the process alive.
      if (!pglite.closed) await pglite.close()
      unlock()
    },
  }
}

/** A start that cannot reach its PostgreSQL server, or is refused by it: one line for the operator. */
export class DatabaseUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DatabaseUnavailableError'
  }
}

/** DATABASE_URL as a message may show it: the password replaced. */
export function urlWithoutPassword(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an unparseable URL)'
  }
}

/**
 * Failures worth waiting out at start: nothing listens yet, the host is not up or not resolvable yet
 * (a compose service starting), or PostgreSQL answers "the database system is starting up" (57P03).
 * A wrong password or a missing database is not: it fails at once.
 */
const TRANSIENT_CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03',
  'CONNECT_TIMEOUT',
])

function describeConnectError(error: unknown): { code: string; text: string } {
  const { code, message } = error as { code?: string; message?: string }
  const text = (message ?? String(error)).split('\n')[0] ?? ''
  if (/timeout/i.test(text) && !code) return { code: 'CONNECT_TIMEOUT', text: 'connection timed out' }
  return { code: code ?? 'unknown', text: code && !text.includes(code) ? `${text} (${code})` : text }
}

/**
 * Connects once to `url` and disconnects, retrying transient failures for `waitMs` (calling `onWait`
 * once, when the first attempt failed). Throws DatabaseUnavailableError naming DATABASE_URL (password
 * hidden) and what failed.
 */
export async function waitForPostgres(
  url: string,
  { waitMs, onWait }: { waitMs: number; onWait?: (message: string) => void },
): Promise<void> {
  const shown = `DATABASE_URL=${urlWithoutPassword(url)}`
  const deadline = Date.now() + waitMs
  let delay = 250
  let waited = false
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.end().catch(() => {})
      return
    } catch (error) {
      await client.end().catch(() => {})
      const { code, text } = describeConnectError(error)
      if (!TRANSIENT_CONNECT_ERRORS.has(code)) {
        throw new DatabaseUnavailableError(`cannot use the database at ${shown}: ${text}`)
      }
      if (Date.now() + delay > deadline) {
        throw new DatabaseUnavailableError(
          `cannot reach the database at ${shown}: ${text}` +
            (waitMs > 0
              ? ` (still failing after ${Math.round(waitMs / 1000)} s; DATABASE_WAIT_S sets how long to wait)`
              : ''),
        )
      }
      if (!waited) {
        waited = true
        onWait?.(
          `waiting for the database at ${shown}: ${text}; retrying for up to ${Math.round(waitMs / 1000)} s`,
        )
      }
    }
    await new Promise((resolve) => setTimeout(resolve, delay))
    delay = Math.min(delay * 2, 2000)
  }
}

/**
 * A dedicated connection that LISTENs on one channel and comes back by itself when it is lost; its
 * `sync()` is a round trip on that connection (see DbHandle.subscribe), shared by the calls that
 * arrive while none is queued.
 */
async function listen(
  url: string,
  searchPath: string | undefined,
  timeouts: DbTimeouts,
  channel: string,
  { onMessage, onReconnect, onLost }: SubscriptionHandlers,
): Promise<Subscription> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`)
  let stopped = false
  let client: pg.Client | null = null
  let ready = false
  let retry: NodeJS.Timeout | null = null

  const connect = async (isReconnect: boolean): Promise<void> => {
    if (stopped) return
    // No statement timeout: LISTEN waits for ever by design; sync() bounds its own round trips.
    const next = new (boundedClient({ ...timeouts, queryMs: 0 }))({
      connectionString: url,
      options: searchPath ? `-c search_path=${searchPath}` : undefined,
    })
    next.on('notification', (message) => {
      if (message.channel === channel) onMessage(message.payload ?? '')
    })
    // Whether this connection got as far as listening: the failure of a first attempt is the
    // caller's error, not a loss to report and retry.
    let listening = false
    const lost = () => {
      if (stopped || client !== next || (!listening && !isReconnect)) return
      client = null
      ready = false
      onLost?.()
      retry = setTimeout(() => void connect(true).catch(() => {}), 1000)
    }
    next.on('error', lost)
    next.on('end', lost)
    client = next
    try {
      await next.connect()
      await next.query(`listen ${channel}`)
      if (client !== next) return
      if (stopped) {
        await next.end().catch(() => {})
        return
      }
      listening = true
      ready = true
      if (isReconnect) onReconnect()
    } catch (error) {
      if (isReconnect) return lost()
      // The first connection failed: the caller gets the error, and nothing keeps retrying behind it.
      stopped = true
      if (retry) clearTimeout(retry)
      await next.end().catch(() => {})
      throw error
    }
  }

  // At most one round trip running and one queued: a caller arriving while one runs cannot use it
  // (it may have been answered before a notification the caller must see), so it waits for the next.
  let running: Promise<void> | null = null
  let queued: Promise<void> | null = null
  const roundTrip = (): Promise<void> => {
    const current = client
    if (!current || !ready) return Promise.reject(new Error(`not listening on ${channel}`))
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`not listening on ${channel}: no answer within ${timeouts.syncMs} ms`))
        // Given up at once (later calls fail without waiting); its 'end' runs lost(), which reconnects
        // and calls onReconnect once back.
        if (client === current) ready = false
        current.end().catch(() => {})
      }, timeouts.syncMs)
    })
    const trip: Promise<void> = Promise.race([current.query('select 1'), silent])
      .then(() => {
        if (client !== current || !ready) throw new Error(`not listening on ${channel}`)
      })
      .finally(() => {
        clearTimeout(timer)
        if (running === trip) running = null
      })
    running = trip
    return trip
  }

  await connect(false)
  return {
    sync: () => {
      if (queued) return queued
      if (!running) return roundTrip()
      const next: Promise<void> = running
        .catch(() => {})
        .then(() => {
          queued = null
          return roundTrip()
        })
      queued = next
      return next
    },
    stop: async () => {
      stopped = true
      ready = false
      if (retry) clearTimeout(retry)
      await client?.end().catch(() => {})
    },
  }
}
