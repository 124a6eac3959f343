import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { freePort } from './ports.js'
import type { Teardown } from './teardown.js'

/**
 * Throwaway PostgreSQL for benches, drills and process tests: `DATABASE_URL` when set (the bench
 * works in a schema of its own, dropped at the end), else a throwaway cluster started like .ci/run does (initdb as the postgres
 * user into a temporary folder, a free 127.0.0.1 port, fsync off), stopped and removed at the end.
 */
export type ThrowawayDatabase = {
  url: string
  searchPath?: string
  /** Where it came from, for the report. */
  label: string
  stop(): Promise<void>
}

export async function startDatabase(): Promise<ThrowawayDatabase> {
  const given = process.env.DATABASE_URL
  if (given) {
    const schema = `bench_${randomBytes(5).toString('hex')}`
    await runSql(given, `create schema ${schema}`)
    return {
      url: given,
      searchPath: schema,
      label: 'DATABASE_URL (own schema)',
      stop: () => runSql(given, `drop schema ${schema} cascade`),
    }
  }
  return startCluster()
}

/** Runs one statement on its own connection. */
export async function runSql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  const preferred = versions.includes('15') ? '15' : versions[0]
  if (!preferred) {
    throw new Error(
      'no PostgreSQL server found under /usr/lib/postgresql: set DATABASE_URL, or install postgresql-15 (see .ci/run)',
    )
  }
  return join(root, preferred, 'bin')
}

/**
 * A throwaway cluster this process owns (never DATABASE_URL): besides `stop` (stop and remove), its
 * server can be stopped and started again on the same port and data folder, for fault drills.
 */
export type ThrowawayCluster = ThrowawayDatabase & {
  port: number
  /** pg_ctl stop -m `mode` (waits); the data folder stays. */
  stopServer(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** pg_ctl start on the same port, options and data folder (waits until it accepts connections). */
  startServer(): Promise<void>
}

export async function startCluster(): Promise<ThrowawayCluster> {
  const bin = postgresBin()
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-bench-pg.'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  chmodSync(dir, 0o700)
  const run = (command: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], {
          cwd: dir,
          stdio: 'pipe',
        })
      : execFileSync(join(bin, command), args, { cwd: dir, stdio: 'pipe' })
  const runAsync = async (command: string, args: string[]) => {
    await (asRoot
      ? promisify(execFile)('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], { cwd: dir })
      : promisify(execFile)(join(bin, command), args, { cwd: dir }))
  }
  const data = join(dir, 'data')
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale'])

  let stopped = false
  const stopSync = () => {
    if (stopped) return
    stopped = true
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stopSync)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopSync()
      process.exit(130)
    })
  }

  // BENCH_FSYNC=on: what a real deployment runs (fsync, synchronous_commit, full_page_writes on).
  const durable = process.env.BENCH_FSYNC === 'on'
  const durability = durable
    ? '-c fsync=on -c synchronous_commit=on -c full_page_writes=on'
    : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off'
  // BENCH_PG_OPTIONS: more server settings, e.g. pg_stat_statements to see where PostgreSQL's time goes.
  const extra =
    (process.env.BENCH_PG_OPTIONS ? ` ${process.env.BENCH_PG_OPTIONS}` : '') +
    (pgStatsWanted() ? ' -c shared_preload_libraries=pg_stat_statements' : '')
  const startArgs = (port: number) => [
    '-D',
    data,
    '-l',
    join(dir, 'postgres.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${durability} -c max_connections=200${extra}`,
    'start',
  ]
  let port = 0
  for (let attempt = 1; attempt <= 3 && port === 0; attempt++) {
    const candidate = await freePort()
    try {
      run('pg_ctl', startArgs(candidate))
      port = candidate
    } catch (error) {
      if (attempt === 3) {
        stopSync()
        throw error
      }
    }
  }
  const serverUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
  await runSql(serverUrl, 'create database sms_mirror_bench')
  return {
    url: `postgres://postgres@127.0.0.1:${port}/sms_mirror_bench`,
    label: `throwaway PostgreSQL (${bin.split('/').at(-2)}, ${durable ? 'fsync on, synchronous_commit on' : 'fsync off'})`,
    stop: async () => stopSync(),
    port,
    stopServer: (mode = 'fast') => runAsync('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']),
    startServer: () => runAsync('pg_ctl', startArgs(port)),
  }
}

/** A fresh database on the server of `given` (a DATABASE_URL), dropped (with force) at teardown. */
export async function freshDatabaseOn(owner: Teardown, given: string, prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`
  await runSql(given, `create database ${name}`)
  owner.teardown(() => runSql(given, `drop database if exists ${name} with (force)`))
  const url = new URL(given)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * With BENCH_PG_STATS=1 (and a throwaway cluster): pg_stat_statements is loaded, and `report` prints
 * the statements that took PostgreSQL's time, most first — the database's side of a profile.
 */
export const pgStatsWanted = () => process.env.BENCH_PG_STATS === '1'

export async function pgStatsReset(url: string): Promise<void> {
  if (!pgStatsWanted()) return
  await runSql(url, 'create extension if not exists pg_stat_statements')
  await runSql(url, 'select pg_stat_statements_reset()')
}

export async function pgStatsReport(url: string, top = 15): Promise<void> {
  if (!pgStatsWanted()) return
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ ms: number; calls: number; rows: number; query: string }>(
      `select round(total_exec_time)::int as ms, calls::int, rows::int,
              regexp_replace(left(query, 140), '\\s+', ' ', 'g') as query
         from pg_stat_statements order by total_exec_time desc limit ${top}`,
    )
    const tables = await client.query<{ relname: string; upd: number; hot: number }>(
      `select relname, n_tup_upd::int as upd, n_tup_hot_upd::int as hot from pg_stat_user_tables
        where n_tup_upd > 0 order by n_tup_upd desc limit 5`,
    )
    console.log(
      `updates (HOT of all): ${tables.rows.map((t) => `${t.relname} ${t.hot}/${t.upd}`).join(', ')}`,
    )
    const sum = await client.query<{ ms: number; calls: number }>(
      `select round(sum(total_exec_time))::int as ms, sum(calls)::int as calls from pg_stat_statements
        where query not like '%pg_stat_statements%'`,
    )
    console.log(`statements: ${sum.rows[0]?.calls} run, ${sum.rows[0]?.ms} ms of execution in all`)
    console.log('pg_stat_statements (total ms, calls, rows, statement):')
    for (const r of rows)
      console.log(
        `${String(r.ms).padStart(7)} ${String(r.calls).padStart(7)} ${String(r.rows).padStart(8)}  ${r.query}`,
      )
  } finally {
    await client.end()
  }
}
