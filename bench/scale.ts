/**
 * Scale, on the embedded database (PGlite in a temporary DATA_DIR, the default deployment) and on
 * PostgreSQL (a throwaway cluster, see lib/pg.ts), the same seed and measures for both:
 * - start: the built server (`node dist/src/server.js`, as `npm start` runs it) from spawn until
 *   /health answers 200, on an empty database (migrations) and again on the seeded one. Target < 5 s
 *   on the embedded database.
 * - 100,000 users listed: signed `GET {S}/users` over HTTP, one request at a time. Target < 300 ms.
 * - RSS with 1,000,000 outgoing rows: the server process's resident memory (VmRSS) after start, after
 *   listing the users and after `GET {S}/outgoing` (every id), and its peak (VmHWM). Target < 250 MB.
 * Seeding runs in a child process of its own (SQL straight into the database).
 * These targets are absolute (ms, MB), not ratios: they depend on the machine.
 */
import { execFileSync, fork, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { loadConfig } from '../src/config.js'
import { createSecretBox } from '../src/crypto/secret-box.js'
import { createDb } from '../src/db/index.js'
import { startApp } from '../src/start-app.js'
import { freePort } from '../test/support/ports.js'
import { startCluster } from '../test/support/postgres.js'
import { type Keys, nowSeconds, signedHeaders } from '../test/support/signing.js'
import {
  ADMIN_TOKEN,
  BENCH_SECRET,
  createKeys,
  machine,
  percentile,
  printTable,
  round,
  sleep,
  verdict,
} from './lib/setup.js'

const USERS = Number(process.env.BENCH_USERS ?? 100_000)
const OUTGOING = Number(process.env.BENCH_OUTGOING ?? 1_000_000)
const SERVICE = 'sms-bench-scale-1'
const TARGET_START_MS = 5000
const TARGET_LIST_MS = 300
const TARGET_RSS_MB = 250
const _HOST = 'localhost:80'

type SeedResult = { seedMs: number; keys: Keys }
type MeasureResult = {
  startMs: number
  listMs: number[]
  listCount: number
  rssAfterStartMb: number
  rssAfterListMb: number
  rssAfterHistoryMb: number
  peakMb: number
  historyPageMs: number
  historyCount: number
}

function config(dir: string) {
  return loadConfig({
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: dir }),
    SECRET_KEY: BENCH_SECRET,
    ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
  })
}

async function seed(dir: string): Promise<SeedResult> {
  const seeding = performance.now()
  // Straight into the database (the app closed it): owner, account, users, outgoing rows.
  const database = await createDb(config(dir).database)
  const { db } = database
  const owner = await createOwner(db, 'bench')
  const account = await createAccount(db, { ownerId: owner.id, serviceName: SERVICE, credits: 100 })
  const sealed = createSecretBox(BENCH_SECRET).seal('abcd1234')
  await sql`
    insert into sms_users (account_id, login, password_enc)
    select ${account.id}, 'user' || lpad(g::text, 7, '0'), ${sealed} from generate_series(1, ${USERS}::int4) as g`.execute(
    db,
  )
  for (let start = 0; start < OUTGOING; start += 100_000) {
    await sql`
      insert into outgoing (account_id, login, batch_id, sender, receiver, message, message_length, number_of_sms,
                            coding, credits, spend_source, send_at, created_at, state, sent_at, ptt, delivery_receipt,
                            delivered_at)
      select ${account.id}, 'user' || lpad((g % ${USERS} + 1)::text, 7, '0'), gen_random_uuid(), 'BENCH',
             '+3361' || lpad((g % 10000000)::text, 7, '0'), 'a bench message of some length', 30, 1, '7bits', 100,
             'account', now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 'final',
             now() - (g || ' seconds')::interval, 4, 1, now() - (g || ' seconds')::interval
        from generate_series(${start + 1}::int4, ${Math.min(OUTGOING, start + 100_000)}::int4) as g`.execute(
      db,
    )
  }
  await sql`analyze`.execute(db)
  await database.close()
  const reopened = await startApp(config(dir))
  const keys = await createKeys(reopened, owner.id)
  await reopened.close()
  return { seedMs: performance.now() - seeding, keys }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The built server as `npm start` runs it, on `dir` (PGlite) or `url`; ready when /health says 200. */
async function startServer(dir: string, url?: string) {
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...(url ? { DATABASE_URL: url } : { DATA_DIR: dir }),
      SECRET_KEY: BENCH_SECRET,
      ADMIN_TOKEN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) break
    } catch {}
    if (performance.now() - started > 120_000) throw new Error('the server was not ready within 120 s')
    await sleep(25)
  }
  const startMs = performance.now() - started
  /** VmRSS and VmHWM (peak) of the server process, MB. */
  const memory = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
  }
  const stop = async () => {
    child.kill('SIGTERM')
    await exited
  }
  return { port, startMs, memory, stop }
}

async function measure(dir: string, keys: Keys, url?: string): Promise<MeasureResult> {
  const server = await startServer(dir, url)
  try {
    const host = `127.0.0.1:${server.port}`
    const rssAfterStartMb = server.memory().rss
    const get = async (path: string) => {
      const response = await fetch(`http://${host}${path}`, {
        headers: signedHeaders(keys, 'GET', path, '', nowSeconds(), host),
      })
      const text = await response.text()
      if (response.status !== 200) throw new Error(`GET ${path} → ${response.status} ${text.slice(0, 200)}`)
      return text
    }
    const listPath = `/1.0/sms/${SERVICE}/users`
    const listMs: number[] = []
    let listCount = 0
    for (let i = 0; i < 12; i++) {
      const started = performance.now()
      const body = await get(listPath)
      listMs.push(performance.now() - started)
      listCount = (JSON.parse(body) as string[]).length
    }
    const rssAfterListMb = server.memory().rss
    // History of one user (about OUTGOING / USERS rows), then the account's (every row).
    const started = performance.now()
    await get(`/1.0/sms/${SERVICE}/users/user0000001/outgoing`)
    const historyPageMs = performance.now() - started
    const historyCount = (JSON.parse(await get(`/1.0/sms/${SERVICE}/outgoing`)) as number[]).length
    const { rss: rssAfterHistoryMb, peak: peakMb } = server.memory()
    return {
      startMs: server.startMs,
      listMs: listMs.slice(2),
      listCount,
      rssAfterStartMb,
      rssAfterListMb,
      rssAfterHistoryMb,
      peakMb,
      historyPageMs,
      historyCount,
    }
  } finally {
    await server.stop()
  }
}

function child<T>(phaseName: string, dir: string, url?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const process_ = fork(fileURLToPath(import.meta.url), [phaseName, dir, ...(url ? [url] : [])], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let result: T | undefined
    process_.on('message', (m) => {
      result = m as T
    })
    process_.on('error', reject)
    process_.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`${phaseName} exited with ${code}`)),
    )
  })
}

type Figures = {
  label: string
  seedMs: number
  freshStartMs: number
  seededStartMs: number
  listP50: number
  listMax: number
  listCount: number
  rss: { afterStart: number; afterList: number; afterHistory: number; peak: number }
  historyCount: number
  userHistoryMs: number
}

/** Seeds in one child process, measures in a fresh one. */
async function run(label: string, url?: string): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-bench-scale.'))
  try {
    process.stderr.write(`… ${label}: first start (migrations)\n`)
    const fresh = await startServer(dir, url)
    await fresh.stop()
    process.stderr.write(`… ${label}: seeding ${USERS} users and ${OUTGOING} outgoing rows\n`)
    const seeded = await child<SeedResult>('seed', dir, url)
    process.stderr.write(`… ${label}: measuring the server\n`)
    const m = await measure(dir, seeded.keys, url)
    const sorted = [...m.listMs].sort((a, b) => a - b)
    return {
      label,
      seedMs: seeded.seedMs,
      freshStartMs: fresh.startMs,
      seededStartMs: m.startMs,
      listP50: percentile(sorted, 50),
      listMax: sorted.at(-1) as number,
      listCount: m.listCount,
      rss: {
        afterStart: m.rssAfterStartMb,
        afterList: m.rssAfterListMb,
        afterHistory: m.rssAfterHistoryMb,
        peak: m.peakMb,
      },
      historyCount: m.historyCount,
      userHistoryMs: m.historyPageMs,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main() {
  process.stderr.write('… npm run build (the server is measured as npm start runs it)\n')
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' })
  const embedded = await run('embedded PGlite')
  const cluster = await startCluster()
  let server: Figures
  try {
    server = await run(cluster.label, cluster.url)
  } finally {
    await cluster.stop()
  }
  const both = [embedded, server]
  const info = machine()
  console.log(`\nbench:scale — ${info.date} — ${info.nproc} × ${info.cpu}, node ${info.node}`)
  console.log(
    `${USERS} users and ${OUTGOING} outgoing rows, seeded in ${both.map((f) => `${round(f.seedMs / 1000, 1)} s`).join(' / ')} ` +
      '(not a target). RSS: the server process (with PGlite, the database lives in it).\n',
  )
  const ms = (value: number) => `${round(value, 1)} ms`
  const mb = (value: number) => `${Math.round(value)} MB`
  const row = (name: string, pick: (f: Figures) => string, target = '', pass?: (f: Figures) => boolean) => [
    name,
    ...both.map((f) => `${pick(f)}${pass ? ` ${verdict(pass(f))}` : ''}`),
    target,
  ]
  const rssMax = (f: Figures) => f.rss.peak
  printTable(
    ['figure', 'embedded PGlite', 'PostgreSQL', 'target'],
    [
      row(
        'start, empty database (migrations)',
        (f) => ms(f.freshStartMs),
        `< ${TARGET_START_MS} ms embedded`,
        (f) => (f === embedded ? f.freshStartMs < TARGET_START_MS : true),
      ),
      row(
        'start, seeded database',
        (f) => ms(f.seededStartMs),
        `< ${TARGET_START_MS} ms embedded`,
        (f) => (f === embedded ? f.seededStartMs < TARGET_START_MS : true),
      ),
      row(
        `GET users (${embedded.listCount}), p50 of 10`,
        (f) => ms(f.listP50),
        `< ${TARGET_LIST_MS} ms`,
        (f) => f.listP50 < TARGET_LIST_MS,
      ),
      row(`GET users (${embedded.listCount}), max of 10`, (f) => ms(f.listMax)),
      row('RSS after start', (f) => mb(f.rss.afterStart)),
      row('RSS after listing users', (f) => mb(f.rss.afterList)),
      row(`RSS after GET {S}/outgoing (${embedded.historyCount} ids)`, (f) => mb(f.rss.afterHistory)),
      row(
        'RSS peak (VmHWM)',
        (f) => mb(rssMax(f)),
        `< ${TARGET_RSS_MB} MB`,
        (f) => rssMax(f) < TARGET_RSS_MB,
      ),
      row('GET users/{login}/outgoing (≈10 rows)', (f) => ms(f.userHistoryMs)),
    ],
  )
  const passes = (f: Figures) =>
    f.listP50 < TARGET_LIST_MS &&
    rssMax(f) < TARGET_RSS_MB &&
    (f !== embedded || (f.freshStartMs < TARGET_START_MS && f.seededStartMs < TARGET_START_MS))
  const json = (f: Figures) => ({
    database: f.label,
    freshStartMs: Math.round(f.freshStartMs),
    seededStartMs: Math.round(f.seededStartMs),
    listUsersMs: { p50: round(f.listP50, 1), max: round(f.listMax, 1), count: f.listCount },
    rssMb: {
      afterStart: Math.round(f.rss.afterStart),
      afterList: Math.round(f.rss.afterList),
      afterHistory: Math.round(f.rss.afterHistory),
      peak: Math.round(f.rss.peak),
    },
    historyCount: f.historyCount,
    userHistoryMs: round(f.userHistoryMs, 1),
    pass: passes(f),
  })
  console.log(
    JSON.stringify({
      bench: 'scale',
      ...info,
      users: USERS,
      outgoing: OUTGOING,
      embedded: json(embedded),
      postgres: json(server),
      targets: { startMs: TARGET_START_MS, listUsersMs: TARGET_LIST_MS, rssMb: TARGET_RSS_MB },
      pass: passes(embedded) && passes(server),
    }),
  )
}

// Last, so that every declaration above is initialised when a phase starts.
const phase = process.argv[2]
/** The phases' database: DATABASE_URL when the parent gave one (argv[4]), else PGlite in `dir`. */
const databaseUrl = process.argv[4]
if (phase === 'seed') {
  const result = await seed(process.argv[3] as string)
  process.send?.(result, () => process.exit(0))
} else {
  await main()
}
