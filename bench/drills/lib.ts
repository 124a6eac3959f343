import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { systemClock } from '../../src/clock.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { createDb, type Db, type DbHandle } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { createSender, setSenderValidation } from '../../src/senders/service.js'
import { createUser, updateUserSettings } from '../../src/users/service.js'
import { freePort, runSql } from '../lib/pg.js'
import { ALL_RULES } from '../lib/setup.js'
import { type Keys, receiverFor, signedHeaders } from '../lib/sign.js'

/**
 * What the fault drills (bench/drills/*.ts) share: a harness that always ends with one
 * `drill:<name>: PASS|FAIL …` line and cleans up on every path, the real server as a child process,
 * a seeded database, a callback receiver, a paced load that records every answer, and the end checks
 * (no accepted message or callback lost, credits balance).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const SERVICE = 'sms-drill-1'
export const LOGIN = 'drilluser1'
export const PASSWORD = 'drill-pass-1234'
export const SENDER = 'DRILL'
export const SECRET_KEY = 'drill-secret-key-of-at-least-32-characters!'
export const ADMIN_TOKEN = 'drill-admin-token-0123456789'
/** Credits of the account, and the user's quota taken from them (1 credit per message here). */
const ACCOUNT_CREDITS = 100_000
export const QUOTA = 20_000
const MESSAGE = 'sms-mirror fault drill'
/** The simulator's default rule: ptt 3 (dlr 8) at hand-over, then ptt 4 (dlr 1, delivered). */
const EXPECTED_PTTS = [3, 4]

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export class DrillFailure extends Error {}

// ---------------------------------------------------------------- the harness

/**
 * Runs a drill's body: prints a timed log, collects failed checks, stops at `budgetMs` (a watchdog),
 * runs every cleanup on every path, then prints exactly one `drill:<name>: PASS|FAIL …` line and exits
 * 0 or 1.
 */
export class Drill {
  /** Process start, so that the times printed include loading the modules. */
  readonly began = Math.round(performance.timeOrigin)
  readonly problems: string[] = []
  private readonly cleanups: (() => unknown)[] = []
  private readonly children = new Set<ChildProcess>()
  private finished = false
  /** The servers' output: its last lines are printed before a FAIL line, all of it kept in a file. */
  diagnostics: () => string = () => ''

  constructor(
    readonly name: string,
    private readonly budgetMs: number,
  ) {
    // Whatever happens, no server outlives the drill.
    process.once('exit', () => this.killChildren())
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // Synchronous: the throwaway cluster's own handler (bench/lib/pg.ts) stops it and exits.
      process.once(signal, () => {
        this.killChildren()
        if (!this.finished)
          console.log(`drill:${this.name}: FAIL interrupted by ${signal} (${this.elapsedS()} s)`)
        this.finished = true
        process.exit(1)
      })
    }
  }

  private killChildren(): void {
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }

  log(message: string): void {
    const at = ((Date.now() - this.began) / 1000).toFixed(1).padStart(5)
    console.log(`[${at} s] ${message}`)
  }

  /** Notes a failed check (the drill goes on, to report everything it sees). */
  check(ok: boolean, what: string): boolean {
    if (!ok) {
      this.problems.push(what)
      this.log(`CHECK FAILED: ${what}`)
    }
    return ok
  }

  onCleanup(fn: () => unknown): void {
    this.cleanups.push(fn)
  }

  track(child: ChildProcess): void {
    this.children.add(child)
  }

  /** What is left of the budget (ms). */
  remainingMs(): number {
    return this.budgetMs - (Date.now() - this.began)
  }

  elapsedS(): string {
    return ((Date.now() - this.began) / 1000).toFixed(1)
  }

  async run(body: () => Promise<string>): Promise<never> {
    let summary = ''
    let crash: string | null = null
    const watchdog = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new DrillFailure(`over its ${this.budgetMs / 1000} s budget`)),
        this.budgetMs - (Date.now() - this.began),
      ).unref(),
    )
    try {
      summary = await Promise.race([body(), watchdog])
    } catch (error) {
      crash = error instanceof DrillFailure ? error.message : `error: ${(error as Error).stack ?? error}`
    }
    return this.finish(summary, crash)
  }

  private async finish(summary: string, crash: string | null): Promise<never> {
    if (this.finished) return new Promise<never>(() => {})
    this.finished = true
    const failed = crash !== null || this.problems.length > 0
    if (failed) {
      const output = this.diagnostics()
      if (output.trim()) {
        const file = join(tmpdir(), `drill-${this.name}-${process.pid}.log`)
        writeFileSync(file, output)
        const tail = output
          .trim()
          .split('\n')
          .slice(-12)
          .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
          .join('\n')
        console.log(`--- server output, last lines (all of it in ${file}) ---\n${tail}\n---`)
      }
    }
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await Promise.race([cleanup(), sleep(10_000)])
      } catch (error) {
        console.log(`cleanup: ${(error as Error).message}`)
      }
    }
    const took = `${this.elapsedS()} s`
    if (failed) {
      const reasons = [...(crash ? [crash.split('\n')[0]] : []), ...this.problems]
      const more = crash?.includes('\n') ? `\n${crash}` : ''
      if (more) console.log(more.trim())
      console.log(`drill:${this.name}: FAIL ${reasons.slice(0, 4).join('; ')} (${took})`)
      process.exit(1)
    }
    console.log(`drill:${this.name}: PASS ${summary} (${took})`)
    process.exit(0)
  }
}

// ---------------------------------------------------------------- PostgreSQL and seed

export { freePort }

/** A fresh database on the server of DATABASE_URL, dropped (with force) at the end. */
export async function freshDatabaseOn(drill: Drill, given: string): Promise<string> {
  const name = `drill_${randomBytes(5).toString('hex')}`
  await runSql(given, `create database ${name}`)
  drill.onCleanup(() => runSql(given, `drop database if exists ${name} with (force)`))
  const url = new URL(given)
  url.pathname = `/${name}`
  return url.toString()
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
  const { db } = handle
  const box = createSecretBox(SECRET_KEY)
  const owner = await createOwner(db, 'drill')
  await createAccount(db, { ownerId: owner.id, serviceName: SERVICE, credits: ACCOUNT_CREDITS })
  await createUser(db, box, ALL_OWNERS, SERVICE, { login: LOGIN, password: PASSWORD })
  await updateUserSettings(db, box, ALL_OWNERS, SERVICE, LOGIN, {
    callBack: callbackUrl,
    quotaInformations: { quotaStatus: 'active', quotaLeft: QUOTA },
  })
  await createSender(db, systemClock, ALL_OWNERS, SERVICE, { sender: SENDER })
  await setSenderValidation(db, SERVICE, SENDER, { status: 'enable' })
  return owner.id
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

// ---------------------------------------------------------------- the server process

export type ServerProcess = {
  child: ChildProcess
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
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
})

/** `node --import tsx src/server.ts`, its output kept (not printed unless the drill fails). */
export function spawnServer(drill: Drill, env: Record<string, string>): ServerProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
  for (const key of ['DATA_DIR', 'PUBLIC_URL', 'TLS_CERT', 'TLS_KEY', 'SIMULATOR_RULES', 'SMS_RATES'])
    if (!(key in env)) delete childEnv[key]
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  drill.track(child)
  let out = ''
  const keep = (chunk: Buffer) => {
    out += chunk.toString()
    if (out.length > 2_000_000) out = out.slice(-1_000_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, output: () => out, exited }
}

/** Waits until GET /health answers 200; throws if the process exits or `deadlineMs` passes. */
export async function waitHealthy(server: ServerProcess, base: string, deadlineMs: number): Promise<number> {
  const began = Date.now()
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
  void server.exited.then((e) => {
    exit = e
  })
  while (Date.now() - began < deadlineMs) {
    if (exit) throw new DrillFailure(`server exited (${exit.code ?? exit.signal}) before it was healthy`)
    try {
      const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === 200) return Date.now() - began
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  throw new DrillFailure(`server not healthy within ${deadlineMs / 1000} s`)
}

/** Error- and fatal-level lines (pino 50, 60) of a server's output. */
export const errorLines = (output: string) =>
  output.split('\n').filter((line) => /"level":(50|60)\b/.test(line))

/** The most frequent error messages of a server's output, `msg ×count`. */
export function errorDigest(output: string, max = 3): string {
  const counts = new Map<string, number>()
  for (const line of errorLines(output)) {
    let key = line.slice(0, 120)
    try {
      const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string } }
      key = `${parsed.msg ?? ''}${parsed.err?.message ? ` (${parsed.err.message.slice(0, 80)})` : ''}`
    } catch {}
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([msg, n]) => `${msg} ×${n}`)
    .join('; ')
}

// ---------------------------------------------------------------- the callback receiver

export type Receiver = {
  url: string
  /** Calls by `${id}:${ptt}`. */
  counts: Map<string, number>
  calls: () => number
  /** Calls received and not answered yet. */
  inFlight: () => number
  close: () => void
}

/** Answers every callback 200 after 0–`maxDelayMs` ms, counting each call by SMS id and ptt. */
export async function startReceiver(drill: Drill, maxDelayMs = 10): Promise<Receiver> {
  const counts = new Map<string, number>()
  let calls = 0
  let inFlight = 0
  const server = http.createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams
    const key = `${query.get('id')}:${query.get('ptt')}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    calls++
    inFlight++
    request.resume()
    const delay = Math.floor(Math.random() * (maxDelayMs + 1))
    setTimeout(() => {
      inFlight--
      response.end('ok')
    }, delay)
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const close = () => {
    server.closeAllConnections()
    server.close()
  }
  drill.onCleanup(close)
  return {
    url: `http://127.0.0.1:${port}/dlr`,
    counts,
    calls: () => calls,
    inFlight: () => inFlight,
    close,
  }
}

// ---------------------------------------------------------------- the load

export type Kind = 'jobs' | 'http2sms'

/** One request of the load and what came of it. */
export type Outcome = {
  n: number
  receiver: string
  kind: Kind
  startedAt: number
  ms: number
  /** HTTP status; null when no answer came (connection refused or reset, timeout). */
  status: number | null
  error: string | null
  accepted: boolean
  ids: number[]
  body: string
}

/**
 * A few clients in this process, each sending one request at a time (one new receiver each) with a
 * pause between them: signed POST …/users/{login}/jobs and http2sms GETs. Every answer is recorded.
 */
export class Load {
  readonly outcomes: Outcome[] = []
  private next = 1
  private stopped = false
  private running: Promise<void>[] = []

  constructor(
    private readonly base: string,
    private readonly keys: Keys,
    private readonly options: {
      jobsClients: number
      http2smsClients: number
      paceMs: number
      timeoutMs: number
    },
  ) {}

  start(): void {
    const { jobsClients, http2smsClients } = this.options
    for (let i = 0; i < jobsClients; i++) this.running.push(this.client('jobs'))
    for (let i = 0; i < http2smsClients; i++) this.running.push(this.client('http2sms'))
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.running)
  }

  accepted(): Outcome[] {
    return this.outcomes.filter((o) => o.accepted)
  }

  acceptedSince(at: number): number {
    return this.outcomes.filter((o) => o.accepted && o.startedAt >= at).length
  }

  /** Answers by status ('none' for no answer), e.g. `200 ×310, 503 ×40`. */
  statusDigest(since = 0): string {
    const counts = new Map<string, number>()
    for (const o of this.outcomes) {
      if (o.startedAt < since) continue
      const key = o.status === null ? 'no answer' : String(o.status)
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return [...counts.entries()].map(([k, n]) => `${k} ×${n}`).join(', ')
  }

  private async client(kind: Kind): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.send(kind, this.next++)
      this.outcomes.push(outcome)
      // No answer at all (the server is down): do not spin.
      await sleep(outcome.status === null ? 150 : this.options.paceMs)
    }
  }

  /** One more request of `kind` (a new receiver), recorded like the clients' ones. */
  async probe(kind: Kind): Promise<Outcome> {
    const outcome = await this.send(kind, this.next++)
    this.outcomes.push(outcome)
    return outcome
  }

  /** One request of `kind` to receiver n, classified. */
  async send(kind: Kind, n: number): Promise<Outcome> {
    const receiver = receiverFor(n)
    const startedAt = Date.now()
    const outcome: Outcome = {
      n,
      receiver,
      kind,
      startedAt,
      ms: 0,
      status: null,
      error: null,
      accepted: false,
      ids: [],
      body: '',
    }
    try {
      const response = kind === 'jobs' ? await this.jobs(receiver) : await this.http2sms(receiver)
      outcome.status = response.status
      outcome.body = await response.text()
      outcome.ms = Date.now() - startedAt
      if (response.status === 200) {
        const body = JSON.parse(outcome.body) as { ids?: number[]; status?: number; SmsIds?: string[] }
        outcome.ids =
          kind === 'jobs' ? (body.ids ?? []) : body.status === 100 ? (body.SmsIds ?? []).map(Number) : []
        outcome.accepted = outcome.ids.length === 1
      }
    } catch (error) {
      outcome.ms = Date.now() - startedAt
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      outcome.error = cause?.code ?? cause?.message ?? (error as Error).name ?? String(error)
    }
    return outcome
  }

  jobs(receiver: string): Promise<Response> {
    const path = `/1.0/sms/${SERVICE}/users/${LOGIN}/jobs`
    const body = JSON.stringify({
      message: MESSAGE,
      sender: SENDER,
      receivers: [receiver],
      noStopClause: true,
    })
    const { host: _host, ...headers } = signedHeaders(this.keys, 'POST', path, body, new URL(this.base).host)
    return fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    })
  }

  http2sms(receiver: string): Promise<Response> {
    const query = new URLSearchParams({
      account: SERVICE,
      login: LOGIN,
      password: PASSWORD,
      from: SENDER,
      to: receiver,
      message: MESSAGE,
      noStop: '1',
      contentType: 'application/json',
    })
    return fetch(`${this.base}/cgi-bin/sms/http2sms.cgi?${query}`, {
      signal: AbortSignal.timeout(this.options.timeoutMs),
    })
  }
}

/** A signed GET of the OVH API, its JSON. */
export async function signedGet<T>(
  base: string,
  keys: Keys,
  path: string,
): Promise<{ status: number; body: T }> {
  const { host: _host, ...headers } = signedHeaders(keys, 'GET', path, '', new URL(base).host)
  const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T }
}

// ---------------------------------------------------------------- watching and checking

/** Messages by state, carrier steps due or not, callback deliveries by status: `outgoing pending 3, …`. */
export async function snapshot(db: Db): Promise<string> {
  const { rows } = await sql<{ what: string; n: number }>`
    select 'outgoing ' || state as what, count(*)::int8 as n from outgoing group by state
    union all select 'simulator reports', count(*)::int8 from simulator_reports
    union all select 'callbacks ' || status, count(*)::int8 from callback_deliveries group by status
    order by 1`.execute(db)
  return rows.map((r) => `${r.what} ${r.n}`).join(', ')
}

/** The status changes that must each produce a callback: every outgoing_events row, `${id}:${ptt}`. */
async function expectedCallbacks(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('outgoing_events').select(['outgoing_id', 'ptt']).execute()
  return rows.map((r) => `${r.outgoing_id}:${r.ptt}`)
}

/**
 * Waits (bounded) until every message is final, no carrier step or callback is pending, and every
 * status change's callback arrived at least once. Answers how long it took, or null at the deadline.
 */
export async function settle(db: Db, rx: Receiver, deadlineMs: number): Promise<number | null> {
  const began = Date.now()
  while (Date.now() - began < deadlineMs) {
    try {
      const { rows } = await sql<{ open: number; steps: number; pending: number }>`
        select (select count(*)::int8 from outgoing where state <> 'final') as open,
               (select count(*)::int8 from simulator_reports) as steps,
               (select count(*)::int8 from callback_deliveries where status = 'pending') as pending`.execute(
        db,
      )
      const row = rows[0]
      if (row && row.open === 0 && row.steps === 0 && row.pending === 0) {
        const expected = await expectedCallbacks(db)
        if (expected.every((key) => rx.counts.has(key))) return Date.now() - began
      }
    } catch {
      // the drill's own connection may still be coming back
    }
    await sleep(250)
  }
  return null
}

export type EndResult = { rows: number; accepted: number; unanswered: number; summary: string }

/**
 * The end checks, each failure noted on the drill:
 * - every accepted answer's id is an outgoing row of its receiver, final and delivered, listed by
 *   GET …/users/{login}/outgoing; every row belongs to an accepted request or to one that got no
 *   answer at all (never to one answered with an error);
 * - every message went through the simulator's statuses (ptt 3 then 4) and every status change
 *   (outgoing_events) produced a callback that arrived at least once; no callback left pending or failed;
 * - the credits balance: quota spent = ledger spends − refunds = credits of the outgoing rows, each
 *   batch's spend = its rows' credits, and the ledger rebuilds the quota and the account balance.
 */
export async function endChecks(
  drill: Drill,
  db: Db,
  rx: Receiver,
  load: Load,
  api: { base: string; keys: Keys },
): Promise<EndResult> {
  const rows = await db
    .selectFrom('outgoing')
    .select(['id', 'receiver', 'state', 'ptt', 'delivery_receipt'])
    .execute()
  const byId = new Map(rows.map((r) => [r.id, r]))
  const requests = new Map(load.outcomes.map((o) => [o.receiver, o]))

  // Accepted answers ↔ rows.
  const accepted = load.accepted()
  const missing = accepted.filter((o) => {
    const row = byId.get(o.ids[0] as number)
    return !row || row.receiver !== o.receiver
  })
  drill.check(
    missing.length === 0,
    `${missing.length} accepted message(s) without their outgoing row, e.g. ${missing
      .slice(0, 3)
      .map((o) => `${o.kind} ${o.receiver} id ${o.ids[0]}`)
      .join(', ')}`,
  )
  let unanswered = 0
  const orphans: string[] = []
  const refusedWithRow: string[] = []
  for (const row of rows) {
    const request = requests.get(row.receiver)
    if (!request) orphans.push(`id ${row.id} ${row.receiver}`)
    else if (request.accepted) continue
    else if (request.status === null) unanswered++
    else
      refusedWithRow.push(
        `id ${row.id} (${request.kind} answered ${request.status} ${request.body.slice(0, 80)})`,
      )
  }
  drill.check(
    orphans.length === 0,
    `${orphans.length} outgoing row(s) of no request: ${orphans.slice(0, 3).join(', ')}`,
  )
  drill.check(
    refusedWithRow.length === 0,
    `${refusedWithRow.length} request(s) answered with an error left a row: ${refusedWithRow.slice(0, 3).join('; ')}`,
  )
  const notDelivered = rows.filter((r) => r.state !== 'final' || r.delivery_receipt !== 1 || r.ptt !== 4)
  drill.check(
    notDelivered.length === 0,
    `${notDelivered.length} message(s) not final/delivered, e.g. ${notDelivered
      .slice(0, 3)
      .map((r) => `id ${r.id} ${r.state} ptt ${r.ptt} dlr ${r.delivery_receipt}`)
      .join(', ')}`,
  )
  const listed = await signedGet<number[]>(api.base, api.keys, `/1.0/sms/${SERVICE}/users/${LOGIN}/outgoing`)
  const history = new Set(listed.status === 200 ? listed.body : [])
  const notListed = accepted.filter((o) => !history.has(o.ids[0] as number))
  drill.check(
    listed.status === 200 && notListed.length === 0,
    `GET …/outgoing (${listed.status}) misses ${notListed.length} accepted id(s), e.g. ${notListed
      .slice(0, 3)
      .map((o) => o.ids[0])
      .join(', ')}`,
  )

  // Status changes ↔ callbacks.
  const events = await db
    .selectFrom('outgoing_events')
    .select(['outgoing_id', 'ptt'])
    .orderBy('outgoing_id')
    .orderBy('id')
    .execute()
  const pttsOf = new Map<number, number[]>()
  for (const e of events) pttsOf.set(e.outgoing_id, [...(pttsOf.get(e.outgoing_id) ?? []), e.ptt])
  const wrongHistory = rows.filter((r) => (pttsOf.get(r.id) ?? []).join(',') !== EXPECTED_PTTS.join(','))
  drill.check(
    wrongHistory.length === 0,
    `${wrongHistory.length} message(s) whose status changes are not ptt ${EXPECTED_PTTS.join(' then ')}, e.g. ${wrongHistory
      .slice(0, 3)
      .map((r) => `id ${r.id}: ${(pttsOf.get(r.id) ?? []).join(',') || 'none'}`)
      .join('; ')}`,
  )
  const expected = events.map((e) => `${e.outgoing_id}:${e.ptt}`)
  const lost = expected.filter((key) => !rx.counts.has(key))
  drill.check(
    lost.length === 0,
    `${lost.length} callback(s) never arrived (id:ptt), e.g. ${lost.slice(0, 5).join(', ')}`,
  )
  const expectedSet = new Set(expected)
  const unexpected = [...rx.counts.keys()].filter((key) => !expectedSet.has(key))
  drill.check(
    unexpected.length === 0,
    `${unexpected.length} callback(s) of no status change: ${unexpected.slice(0, 5).join(', ')}`,
  )
  const duplicated = [...rx.counts.entries()].filter(([, n]) => n > 1)
  const extraCalls = duplicated.reduce((sum, [, n]) => sum + n - 1, 0)
  const deliveries = await db
    .selectFrom('callback_deliveries')
    .select(['status', sql<number>`count(*)::int8`.as('n'), sql<number>`sum(attempts)::int8`.as('attempts')])
    .groupBy('status')
    .execute()
  const notDone = deliveries.filter((d) => d.status !== 'delivered')
  drill.check(
    notDone.length === 0,
    `callback deliveries not all delivered: ${deliveries.map((d) => `${d.status} ${d.n}`).join(', ')}`,
  )
  const attempts = deliveries.reduce((sum, d) => sum + Number(d.attempts), 0)

  // Credits.
  const { rows: bookRows } = await sql<{
    quotaLeft: number
    creditsLeft: number
    spent: number
    refunded: number
    quotaFromLedger: number
    accountFromLedger: number
    outgoingCredits: number
    refundable: number
    spends: number
    batches: number
    badBatches: number
  }>`
    select (select quota_left from sms_users where login = ${LOGIN}) as "quotaLeft",
           (select credits_left from accounts where service_name = ${SERVICE}) as "creditsLeft",
           (select coalesce(-sum(quota_delta), 0)::int8 from credit_ledger
             where login = ${LOGIN} and kind = 'spend') as "spent",
           (select coalesce(sum(quota_delta), 0)::int8 from credit_ledger
             where login = ${LOGIN} and kind = 'refund') as "refunded",
           (select coalesce(sum(quota_delta), 0)::int8 from credit_ledger where login = ${LOGIN}) as "quotaFromLedger",
           (select coalesce(sum(account_delta), 0)::int8 from credit_ledger) as "accountFromLedger",
           (select coalesce(sum(credits), 0)::int8 from outgoing where login = ${LOGIN}) as "outgoingCredits",
           (select coalesce(sum(credits), 0)::int8 from outgoing
             where login = ${LOGIN} and (delivery_receipt = 16 or state = 'cancelled')) as "refundable",
           (select count(*)::int8 from credit_ledger where login = ${LOGIN} and kind = 'spend') as "spends",
           (select count(distinct batch_id)::int8 from outgoing where login = ${LOGIN}) as "batches",
           (select count(*)::int8
              from (select reference, -quota_delta as spent from credit_ledger
                     where login = ${LOGIN} and kind = 'spend') l
              full join (select 'batch:' || batch_id as reference, sum(credits)::int8 as credits
                           from outgoing where login = ${LOGIN} group by batch_id) o using (reference)
             where coalesce(l.spent, 0) <> coalesce(o.credits, 0)) as "badBatches"`.execute(db)
  const b = bookRows[0]!
  const quotaSpent = QUOTA * 100 - b.quotaLeft
  const c = (h: number) => h / 100
  drill.check(
    quotaSpent === b.spent - b.refunded && b.spent === b.outgoingCredits && b.refunded === b.refundable,
    `credits do not balance: quota spent ${c(quotaSpent)}, ledger spends ${c(b.spent)} − refunds ${c(b.refunded)}, ` +
      `outgoing credits ${c(b.outgoingCredits)} (refundable ${c(b.refundable)})`,
  )
  drill.check(
    b.badBatches === 0 && b.spends === b.batches,
    `${b.badBatches} batch(es) whose spend is not its rows' credits (${b.spends} spends, ${b.batches} batches)`,
  )
  drill.check(
    b.quotaFromLedger === b.quotaLeft && b.accountFromLedger === b.creditsLeft,
    `the ledger does not rebuild the balances: quota ${c(b.quotaFromLedger)} vs ${c(b.quotaLeft)}, ` +
      `account ${c(b.accountFromLedger)} vs ${c(b.creditsLeft)}`,
  )

  drill.log(
    `messages: ${rows.length} rows = ${accepted.length} accepted + ${unanswered} committed without an answer; ` +
      `all final/delivered: ${notDelivered.length === 0 ? 'yes' : 'NO'}; in GET …/outgoing: ${notListed.length === 0 ? 'all' : `${notListed.length} missing`}`,
  )
  drill.log(
    `callbacks: ${expected.length} status changes, ${lost.length} lost, ${rx.calls()} calls, ` +
      `${extraCalls} duplicate call(s) over ${duplicated.length} (id,ptt); delivery attempts recorded ${attempts}` +
      (duplicated.length
        ? `; e.g. ${duplicated
            .slice(0, 3)
            .map(([k, n]) => `${k}×${n}`)
            .join(', ')}`
        : ''),
  )
  drill.log(
    `credits: quota ${QUOTA} → ${c(b.quotaLeft)} (spent ${c(quotaSpent)}) = ledger spends ${c(b.spent)} − refunds ` +
      `${c(b.refunded)} = outgoing credits ${c(b.outgoingCredits)}; ${b.spends} spends for ${b.batches} batches; ` +
      `account ${c(b.creditsLeft)} rebuilt by the ledger: ${b.accountFromLedger === b.creditsLeft ? 'yes' : 'NO'}`,
  )
  return {
    rows: rows.length,
    accepted: accepted.length,
    unanswered,
    summary:
      `${accepted.length} accepted (+${unanswered} unanswered) all delivered, ${expected.length} callbacks ` +
      `(${lost.length} lost, ${extraCalls} dup), credits balance (${c(quotaSpent)} spent)`,
  }
}
