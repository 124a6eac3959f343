import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t, { type Test } from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import type { Config } from '../../src/config.js'
import { createDb, type DbHandle } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { CALLBACK_CHANNEL } from '../../src/dlr/outbox.js'
import { freePort } from '../support/ports.js'
import { freshDatabaseOn } from '../support/postgres.js'
import { errorLines, type ServerProcess, spawnServer, waitHealthy } from '../support/server-process.js'

// Real server processes (`node --import tsx src/server.ts`) calling a real receiver on 127.0.0.1:
// a SIGKILL in the middle of a burst loses no callback, and two replicas on one PostgreSQL share one.

const SERVICE = 'sms-ab12345-1'
const SECRET_KEY = 'processes-test-secret-key-0123456789abcdef'
const ADMIN_TOKEN = 'processes-test-admin-token-0123456789'
const DELIVERIES = 3000
/**
 * How long a wait for deliveries may take before the test gives up. 40 s held on a quiet machine; at
 * a load average of 23 the first 30 % took over 40 s (706 of 3000 at the deadline) while nothing was
 * wrong. The waits end as soon as their condition holds; this only bounds a real hang (tap's file
 * timeout bounds the whole file).
 */
const DELIVERY_DEADLINE_MS = 240_000
const PG_URL = process.env.DATABASE_URL

/** What the helpers need of a test: its teardown. */
type Tap = Pick<Test, 'teardown'>

/** Where the seed and the servers find the database: a fresh PostgreSQL database or PGlite folder. */
type Target = { config: Config['database']; env: Record<string, string> }

async function freshTarget(t: Tap): Promise<Target> {
  if (!PG_URL) {
    const dataDir = mkdtempSync(join(tmpdir(), 'sms-mirror-dlr-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    return { config: { kind: 'pglite', dataDir }, env: { DATA_DIR: dataDir } }
  }
  const url = await freshDatabaseOn(t, PG_URL)
  return { config: { kind: 'postgres', url }, env: { DATABASE_URL: url, SECRET_KEY } }
}

/** Migrates, adds an owner, an account and DELIVERIES pending dlr deliveries to `urlOf(n)`. */
async function seed(target: Target, urlOf: (n: number) => string, dueAt: Date): Promise<void> {
  const handle = await createDb(target.config)
  try {
    await migrateToLatest(handle)
    const owner = await createOwner(handle.db, 'acme')
    const account = await createAccount(handle.db, { ownerId: owner.id, serviceName: SERVICE, credits: 10 })
    const now = new Date()
    for (let from = 0; from < DELIVERIES; from += 500) {
      const rows = Array.from({ length: Math.min(500, DELIVERIES - from) }, (_, i) => ({
        account_id: account.id,
        login: null,
        kind: 'dlr' as const,
        outgoing_id: null,
        url: urlOf(from + i),
        signing_secret_enc: null,
        last_status: null,
        last_error: null,
        delivered_at: null,
        next_attempt_at: dueAt,
        created_at: now,
      }))
      await handle.db.insertInto('callback_deliveries').values(rows).execute()
    }
  } finally {
    await handle.close()
  }
}

async function withDb<T>(target: Target, fn: (handle: DbHandle) => Promise<T>): Promise<T> {
  const handle = await createDb(target.config)
  try {
    return await fn(handle)
  } finally {
    await handle.close()
  }
}

function statusCounts(handle: DbHandle) {
  return handle.db
    .selectFrom('callback_deliveries')
    .select(['status', sql<number>`count(*)::int8`.as('n'), sql<number>`sum(attempts)::int8`.as('attempts')])
    .groupBy('status')
    .execute()
}

/** A server process on `env` (killed at the end of `t`), once it answers /health. */
async function startHealthy(
  t: Tap,
  env: Record<string, string>,
): Promise<{ server: ServerProcess; port: number }> {
  const port = await freePort()
  const server = spawnServer(t, {
    CALLBACK_TIMEOUT_MS: '2000',
    ...env,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ADMIN_TOKEN,
    CALLBACK_ALLOW_PRIVATE: 'true',
    DISPATCHER_CONCURRENCY: '50',
    CALLBACK_RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
  })
  await waitHealthy(server, `http://127.0.0.1:${port}`)
  return { server, port }
}

/**
 * Which process holds the client end of each live TCP connection to 127.0.0.1:`serverPort`, by the
 * connection's client port (Linux: /proc/net/tcp gives each socket's inode, /proc/<pid>/fd the process
 * holding it). Empty elsewhere. One pass, so that it never slows the receiver down during a run.
 */
function clientPortOwners(serverPort: number, pids: number[]): Map<number, number> {
  const owners = new Map<number, number>()
  try {
    const inodeToPid = new Map<string, number>()
    for (const pid of pids) {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        try {
          const link = readlinkSync(`/proc/${pid}/fd/${fd}`)
          if (link.startsWith('socket:[')) inodeToPid.set(link.slice(8, -1), pid)
        } catch {
          // closed meanwhile
        }
      }
    }
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16)
      const remote = Number.parseInt(fields[2]?.split(':')[1] ?? '', 16)
      const pid = inodeToPid.get(fields[9] ?? '')
      if (remote === serverPort && pid !== undefined) owners.set(local, pid)
    }
  } catch {
    // not Linux, or a process is gone
  }
  return owners
}

/** A callback receiver on 127.0.0.1 that acks every call after 0–`maxDelayMs` ms and counts each n. */
async function receiver(t: Tap, maxDelayMs: number) {
  const counts = new Map<number, number>()
  /** Every call: n, the client port it came from, when it arrived, and later the process that made it. */
  const log: { n: number; client: number; at: number; pid?: number }[] = []
  const server = http.createServer((req, res) => {
    const n = Number(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('n'))
    counts.set(n, (counts.get(n) ?? 0) + 1)
    log.push({ n, client: req.socket.remotePort ?? 0, at: Date.now() })
    const delay = Math.floor(Math.random() * (maxDelayMs + 1))
    if (delay === 0) res.end('ok')
    else setTimeout(() => res.end('ok'), delay)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const duplicates = () => [...counts.values()].reduce((sum, c) => sum + (c - 1), 0)
  const calls = () => log.length
  /** The calls of the first `max` deliveries that arrived more than once (for t.comment). */
  const duplicateCalls = (max = 5) =>
    [...counts.entries()]
      .filter(([, c]) => c > 1)
      .slice(0, max)
      .map(([n]) => {
        const calls = log.filter((l) => l.n === n)
        const first = calls[0]?.at ?? 0
        return `n=${n}: ${calls.map((l) => `${l.pid === undefined ? '' : `pid ${l.pid} `}+${l.at - first}ms`).join(', ')}`
      })
  /** Calls per process among `pids` ('unknown': connection closed before, or not Linux). */
  const attribute = (pids: number[]) => {
    const owners = clientPortOwners(port, pids)
    const byPid = new Map<string, number>()
    for (const call of log) {
      call.pid = owners.get(call.client)
      const key = call.pid === undefined ? 'unknown' : String(call.pid)
      byPid.set(key, (byPid.get(key) ?? 0) + 1)
    }
    return byPid
  }
  return {
    counts,
    duplicates,
    calls,
    duplicateCalls,
    attribute,
    url: (n: number) => `http://127.0.0.1:${port}/cb?n=${n}`,
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(condition: () => boolean, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

/** Waits until the server at `port` reports no pending delivery (admin API); false at the deadline. */
async function settled(port: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const response = await fetch(
      `http://127.0.0.1:${port}/admin/v1/accounts/${SERVICE}/callbacks?status=pending&limit=10000`,
      { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    )
    const pending = (await response.json()) as unknown[]
    if (response.status === 200 && pending.length === 0) return true
    if (Date.now() > deadline) return false
    await sleep(200)
  }
}

const missing = (counts: Map<number, number>) => {
  const lost: number[] = []
  for (let n = 0; n < DELIVERIES; n++) if (!counts.has(n)) lost.push(n)
  return lost
}

t.test('SIGKILL in the middle of a burst: after restart every callback arrives at least once', async (t) => {
  const target = await freshTarget(t)
  const rx = await receiver(t, 5)
  await seed(target, rx.url, new Date())

  const began = Date.now()
  const first = await startHealthy(t, target.env)
  t.ok(await waitFor(() => rx.counts.size >= DELIVERIES * 0.3, DELIVERY_DEADLINE_MS), '30 % arrived')
  first.server.child.kill('SIGKILL')
  await first.server.exited
  const atKill = { distinct: rx.counts.size, calls: rx.calls(), ms: Date.now() - began }
  t.ok(atKill.distinct < DELIVERIES, `killed before the end (${atKill.distinct} of ${DELIVERIES})`)

  const restarted = Date.now()
  const second = await startHealthy(t, target.env)
  const done = await waitFor(() => rx.counts.size === DELIVERIES, DELIVERY_DEADLINE_MS)
  const lost = missing(rx.counts)
  t.ok(done, 'every delivery arrived after the restart')
  t.same(lost.slice(0, 20), [], `none lost (${lost.length} missing)`)
  const afterRestartMs = Date.now() - restarted
  // Calls made before the kill whose outcome was never recorded come back once their lease ends.
  t.ok(await settled(second.port, DELIVERY_DEADLINE_MS), 'no delivery left pending')
  const settledMs = Date.now() - restarted

  second.server.child.kill('SIGTERM')
  t.equal((await second.server.exited).code, 0, 'the second server exits gracefully')
  const logs = first.server.output() + second.server.output()
  t.same(errorLines(logs), [], 'no error logged')

  const rows = await withDb(target, statusCounts)
  t.same(
    rows.map((r) => [r.status, r.n]),
    [['delivered', DELIVERIES]],
    'every row ends delivered',
  )
  const dups = rx.duplicates()
  t.ok(dups < DELIVERIES * 0.1, `duplicates stay few: the calls in flight at the kill (${dups})`)
  t.comment(
    `kill test (${PG_URL ? 'postgres' : 'pglite'}): killed after ${atKill.ms} ms with ${atKill.distinct} distinct / ` +
      `${atKill.calls} calls seen; all ${DELIVERIES} arrived ${afterRestartMs} ms after restart; ` +
      `none pending ${settledMs} ms after restart; ${rx.calls()} calls, ${dups} duplicates; ` +
      `attempts recorded ${rows[0]?.attempts}; duplicates e.g. ${rx.duplicateCalls(3).join('; ') || 'none'}`,
  )
})

const pgOnly = PG_URL ? false : 'needs DATABASE_URL: the embedded PGlite database serves a single process'
t.test(
  'two server processes on one PostgreSQL share the outbox without duplicates',
  { skip: pgOnly },
  async (t) => {
    const target = await freshTarget(t)
    const rx = await receiver(t, 10)
    // Not due yet: made due once both processes are up, so that both compete from the start.
    await seed(target, rx.url, new Date(Date.now() + 3600_000))

    // A longer attempt bound than the kill test: a loaded machine must not turn slow answers into
    // timeouts and retries, which would be counted as duplicates here.
    const env = { ...target.env, CALLBACK_TIMEOUT_MS: '5000' }
    const [a, b] = await Promise.all([startHealthy(t, env), startHealthy(t, env)])
    const pids = [a.server.child.pid, b.server.child.pid].filter((p): p is number => p !== undefined)
    const began = Date.now()
    await withDb(target, async (handle) => {
      await sql`update callback_deliveries set next_attempt_at = now()`.execute(handle.db)
      await handle.notify(CALLBACK_CHANNEL, '')
    })

    const done = await waitFor(() => rx.counts.size === DELIVERIES, DELIVERY_DEADLINE_MS)
    const tookMs = Date.now() - began
    const lost = missing(rx.counts)
    t.ok(done, 'every delivery arrived')
    t.same(lost.slice(0, 20), [], `none lost (${lost.length} missing)`)
    t.ok(await settled(a.port, DELIVERY_DEADLINE_MS), 'no delivery left pending')
    const dups = rx.duplicates()
    t.ok(dups < DELIVERIES * 0.01, `fewer than 1 % arrived twice (${dups})`)
    // While both processes still hold their keep-alive connections to the receiver.
    const byPid = rx.attribute(pids)

    a.server.child.kill('SIGTERM')
    b.server.child.kill('SIGTERM')
    t.same(
      (await Promise.all([a.server.exited, b.server.exited])).map((exit) => exit.code),
      [0, 0],
      'both exit gracefully',
    )
    t.same(errorLines(a.server.output() + b.server.output()), [], 'no error logged by either process')

    const rows = await withDb(target, statusCounts)
    t.same(
      rows.map((r) => [r.status, r.n]),
      [['delivered', DELIVERIES]],
      'every row ends delivered',
    )

    const split = pids.map((pid) => byPid.get(String(pid)) ?? 0)
    const unknown = byPid.get('unknown') ?? 0
    if (existsSync('/proc/net/tcp') && unknown < DELIVERIES / 10) {
      t.ok(
        split.every((calls) => calls > 0),
        `both processes called the receiver (${split.join(' / ')})`,
      )
    }
    t.comment(
      `two processes: ${DELIVERIES} delivered in ${tookMs} ms; ${rx.calls()} calls, ${dups} duplicates; ` +
        `calls per process ${split.join(' / ')} (unattributed ${unknown}); ` +
        `attempts recorded ${rows[0]?.attempts}; duplicates: ${rx.duplicateCalls().join('; ') || 'none'}`,
    )
  },
)
