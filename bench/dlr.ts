/**
 * DLR callbacks on real PostgreSQL, against a keep-alive receiver in a child process.
 * 1. Throughput: the CallbackDispatcher draining 10,000 due callback_deliveries rows (runOnce until
 *    nothing is left) vs a plain undici loop sending the same 10,000 GETs with the same concurrency, in
 *    interleaved rounds. Target: dispatcher ≥ 0.80 × plain undici (issue 15).
 * 2. Latency: the full app (worker and dispatcher running, LISTEN/NOTIFY, real clock); status changes
 *    applied through the status path in batches at a steady rate by a child process that also receives
 *    the callbacks (lib/status-generator.ts: one clock for both ends); the time from each COMMIT to
 *    its callback arriving. Target: p99 < 100 ms at 1,000/s.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import pino from 'pino'
import { Agent, request } from 'undici'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { ALL_OWNERS } from '../src/auth/scope.js'
import { systemClock } from '../src/clock.js'
import { DEFAULT_CALLBACK_SCHEDULE_MS } from '../src/config.js'
import type { Db } from '../src/db/index.js'
import { migrateToLatest } from '../src/db/migrate.js'
import { CallbackDispatcher } from '../src/dlr/dispatcher.js'
import { createCallbackAgent } from '../src/dlr/ssrf.js'
import { createUser } from '../src/users/service.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import {
  benchApp,
  machine,
  openDb,
  percentile,
  printTable,
  round,
  sleep,
  verdict,
  wallMs,
} from './lib/setup.js'
import type { GeneratorResult, GeneratorTask } from './lib/status-generator.js'

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 10_000)
const CONCURRENCY = 50
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const RATE = Number(process.env.BENCH_RATE ?? 1000)
const LATENCY_S = Number(process.env.BENCH_LATENCY_S ?? 10)
const TARGET_RATIO = 0.8
const TARGET_P99_MS = 100
const SERVICE = 'sms-bench-dlr-1'
const LOGIN = 'benchuser1'

const silent = pino({ level: 'silent' }) as unknown as FastifyBaseLogger

// ---------------------------------------------------------------- the receiver (child process)

type Receiver = { port: number; ask<T>(message: string): Promise<T>; stop(): void }

async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./lib/receiver.ts', import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('error', reject)
  })
  return {
    port,
    ask: <T>(message: string) =>
      new Promise<T>((resolve) => {
        child.once('message', (m) => resolve(m as T))
        child.send(message)
      }),
    stop: () => child.send('stop'),
  }
}

const database = await startDatabase()
const receiver = await startReceiver()
try {
  await main()
} finally {
  receiver.stop()
  await database.stop()
}

async function main() {
  const { handle } = await openDb(database, 20)
  await migrateToLatest(handle)
  const { db } = handle
  const owner = await createOwner(db, 'bench')
  const account = await createAccount(db, { ownerId: owner.id, serviceName: SERVICE, credits: 100 })
  const base = `http://127.0.0.1:${receiver.port}/dlr`
  const urlOf = (n: number) =>
    `${base}?id=${n}&ptt=4&date=2026-11-27+12%3A00%3A00&description=1&descriptionDlr=Delivered`
  const loadBefore = loadavg()[0] as number

  // ---------------------------------------------------------------- 1. throughput
  const plainAgent = new Agent()
  const callbackAgent = createCallbackAgent({
    allowPrivate: true,
    connectTimeoutMs: 10_000,
    requestTimeoutMs: 10_000,
  })
  const dispatcher = (batch?: number) =>
    new CallbackDispatcher({
      db,
      agent: callbackAgent,
      clock: systemClock,
      log: silent,
      concurrency: CONCURRENCY,
      scheduleMs: [...DEFAULT_CALLBACK_SCHEDULE_MS],
      timeoutMs: 10_000,
      pollMs: 1000,
      ...(batch ? { batch } : {}),
    })
  let nextOutgoing = 1

  const plainLoop = async (count: number): Promise<number> => {
    const started = wallMs()
    let next = 0
    let failed = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const n = next++
          const response = await request(urlOf(n), { method: 'GET', dispatcher: plainAgent })
          await response.body.dump()
          if (response.statusCode !== 200) failed++
        }
      }),
    )
    if (failed) throw new Error(`plain undici: ${failed} failures`)
    return wallMs() - started
  }

  const drain = async (count: number, batch?: number): Promise<number> => {
    const first = nextOutgoing
    nextOutgoing += count
    await sql`
      insert into callback_deliveries (account_id, login, kind, outgoing_id, url, next_attempt_at, created_at)
      select ${account.id}, ${LOGIN}, 'dlr', g, ${base} || '?id=' || g || '&ptt=4&date=2026-11-27+12%3A00%3A00&description=1&descriptionDlr=Delivered',
             now() - interval '1 second', now()
        from generate_series(${first}::int8, ${first + count - 1}::int8) as g`.execute(db)
    await sql`analyze callback_deliveries`.execute(db)
    const worker = dispatcher(batch)
    const started = wallMs()
    while ((await worker.runOnce()) > 0) {}
    const elapsed = wallMs() - started
    const row = await db
      .selectFrom('callback_deliveries')
      .select(sql<number>`count(*)::int8`.as('n'))
      .where('outgoing_id', '>=', first)
      .where('outgoing_id', '<', first + count)
      .where('status', '=', 'delivered')
      .executeTakeFirstOrThrow()
    if (row.n !== count) throw new Error(`dispatcher delivered ${row.n} of ${count}`)
    return elapsed
  }

  process.stderr.write('… warm-up\n')
  await plainLoop(1000)
  await drain(1000)
  await pgStatsReset(database.url)
  const rounds: { plainMs: number; dispatcherMs: number; plainCpuUs: number; dispatcherCpuUs: number }[] = []
  // This process's CPU (user + system) per callback: less noisy than rates on a shared machine.
  const cpuPerCallback = async (run: () => Promise<number>): Promise<[number, number]> => {
    const before = process.cpuUsage()
    const ms = await run()
    const used = process.cpuUsage(before)
    return [ms, (used.user + used.system) / DELIVERIES]
  }
  for (let r = 1; r <= ROUNDS; r++) {
    process.stderr.write(`… round ${r}/${ROUNDS}: plain undici, then dispatcher (${DELIVERIES} GETs each)\n`)
    const [plainMs, plainCpuUs] = await cpuPerCallback(() => plainLoop(DELIVERIES))
    const [dispatcherMs, dispatcherCpuUs] = await cpuPerCallback(() => drain(DELIVERIES))
    rounds.push({ plainMs, dispatcherMs, plainCpuUs, dispatcherCpuUs })
  }
  process.stderr.write('… dispatcher with batch 500 (for comparison)\n')
  const batch500Ms = await drain(DELIVERIES, 500)
  if (process.env.BENCH_PG_STATS === '1') {
    console.log(
      `\nPostgreSQL, part 1 (${ROUNDS + 1} × ${DELIVERIES} callbacks, the inserts and counts of the bench included):`,
    )
    await pgStatsReport(database.url)
  }
  const received = await receiver.ask<{ count: number }>('count')
  await plainAgent.close()
  await callbackAgent.close()
  await handle.close()

  const perSecond = (ms: number) => (DELIVERIES * 1000) / ms
  const ratios = rounds.map((r) => r.plainMs / r.dispatcherMs).sort((a, b) => a - b)
  const ratio = ratios[Math.floor(ratios.length / 2)] as number
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const plainRate = median(rounds.map((r) => perSecond(r.plainMs)))
  const dispatcherRate = median(rounds.map((r) => perSecond(r.dispatcherMs)))

  // ---------------------------------------------------------------- 2. latency under steady status changes
  const total = Math.round(RATE * LATENCY_S)
  const { app, deps } = await benchApp(database, { workers: true })
  await createUser(deps.database.db, deps.secretBox, ALL_OWNERS, SERVICE, {
    login: LOGIN,
    password: 'abcd1234',
  })
  const outgoingIds = await insertSubmitted(deps.database.db, account.id, total)
  await app.ready()

  // The status changes come from a child process that also receives their callbacks: one clock.
  const generator = fork(fileURLToPath(new URL('./lib/status-generator.ts', import.meta.url)), [], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const generatorPort = await new Promise<number>((resolve, reject) => {
    generator.once('message', (m) => resolve((m as { port: number }).port))
    generator.once('error', reject)
  })
  await deps.database.db
    .updateTable('accounts')
    .set({ call_back: `http://127.0.0.1:${generatorPort}/dlr` })
    .where('id', '=', account.id)
    .execute()
  await sleep(500)
  await pgStatsReset(database.url)
  process.stderr.write(`… latency: ${total} status changes at ${RATE}/s with the full app running\n`)
  const generated = await new Promise<GeneratorResult>((resolve, reject) => {
    let result: GeneratorResult | undefined
    generator.on('message', (m) => {
      result = m as GeneratorResult
    })
    generator.on('error', reject)
    generator.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`generator exited with ${code}`)),
    )
    const task: GeneratorTask = {
      database: {
        url: database.url,
        label: database.label,
        ...(database.searchPath ? { searchPath: database.searchPath } : {}),
      },
      ids: outgoingIds,
      rate: RATE,
    }
    generator.send(task)
  })
  await app.close()
  if (process.env.BENCH_PG_STATS === '1') {
    console.log(`\nPostgreSQL, part 2 (${total} status changes and their callbacks):`)
    await pgStatsReport(database.url)
  }
  const loadAfter = loadavg()[0] as number

  const { failures, maxLagMs, generationS, largestBatch } = generated
  const latencies = generated.changes
    .flatMap(([, committedAt, arrivedAt]) => (arrivedAt === null ? [] : [arrivedAt - committedAt]))
    .sort((a, b) => a - b)
  const committedCount = generated.changes.length
  const missing = committedCount - latencies.length
  const p50 = percentile(latencies, 50)
  const p99 = percentile(latencies, 99)
  const achievedRate = committedCount / generationS

  const info = machine()
  console.log(
    `\nbench:dlr — ${info.date} — ${info.nproc} × ${info.cpu}, node ${info.node}, ${database.label}`,
  )
  console.log(`load average ${round(loadBefore, 1)} → ${round(loadAfter, 1)}\n`)
  console.log(
    `1. ${DELIVERIES} callbacks, concurrency ${CONCURRENCY}, keep-alive receiver; ${ROUNDS} interleaved rounds`,
  )
  printTable(
    ['round', 'plain undici /s', 'dispatcher /s', 'dispatcher / plain', 'CPU µs/callback plain, dispatcher'],
    rounds.map((r, i) => [
      i + 1,
      Math.round(perSecond(r.plainMs)),
      Math.round(perSecond(r.dispatcherMs)),
      round(r.plainMs / r.dispatcherMs, 3),
      `${Math.round(r.plainCpuUs)}, ${Math.round(r.dispatcherCpuUs)}`,
    ]),
  )
  console.log(
    `dispatcher with batch 500 (default 4 × concurrency = ${4 * CONCURRENCY}): ${Math.round(perSecond(batch500Ms))}/s`,
  )
  console.log(
    `dispatcher / plain undici = ${round(ratio, 3)} (median)   (target ≥ ${TARGET_RATIO})  ${verdict(ratio >= TARGET_RATIO)}`,
  )
  console.log(
    `\n2. ${committedCount} status changes committed in ${round(generationS, 1)} s (${Math.round(achievedRate)}/s, ` +
      `target rate ${RATE}/s, up to ${largestBatch} per transaction, max start lag ${Math.round(maxLagMs)} ms, ` +
      `${failures} failed); ${missing} callbacks missing`,
  )
  console.log(
    `commit → callback: p50 ${round(p50, 1)} ms, p99 ${round(p99, 1)} ms, max ${round(latencies.at(-1) ?? Number.NaN, 1)} ms   ` +
      `(target p99 < ${TARGET_P99_MS} ms)  ${verdict(p99 < TARGET_P99_MS && missing === 0)}`,
  )
  console.log(
    JSON.stringify({
      bench: 'dlr',
      ...info,
      loadAverage: [round(loadBefore, 2), round(loadAfter, 2)],
      database: database.label,
      deliveries: DELIVERIES,
      concurrency: CONCURRENCY,
      rounds: rounds.map((r) => ({
        plainPerS: round(perSecond(r.plainMs), 1),
        dispatcherPerS: round(perSecond(r.dispatcherMs), 1),
        plainCpuUsPerCallback: Math.round(r.plainCpuUs),
        dispatcherCpuUsPerCallback: Math.round(r.dispatcherCpuUs),
      })),
      plainPerS: round(plainRate, 1),
      dispatcherPerS: round(dispatcherRate, 1),
      dispatcherBatch500PerS: round(perSecond(batch500Ms), 1),
      receivedThroughput: received.count,
      ratio: round(ratio, 3),
      latency: {
        rateTarget: RATE,
        rateAchieved: round(achievedRate, 1),
        changes: committedCount,
        largestBatch,
        failures,
        missing,
        p50Ms: round(p50, 1),
        p99Ms: round(p99, 1),
        maxMs: round(latencies.at(-1) ?? Number.NaN, 1),
      },
      targets: { ratio: TARGET_RATIO, p99Ms: TARGET_P99_MS },
      pass: ratio >= TARGET_RATIO && p99 < TARGET_P99_MS && missing === 0,
    }),
  )
}

/** `count` outgoing rows already submitted to the carrier (so the worker leaves them alone). */
async function insertSubmitted(db: Db, accountId: number, count: number): Promise<number[]> {
  const rows = await sql<{ id: number }>`
    insert into outgoing (account_id, login, batch_id, sender, receiver, message, message_length, number_of_sms,
                          coding, credits, spend_source, send_at, created_at, state, sent_at, ptt, delivery_receipt)
    select ${accountId}, ${LOGIN}, gen_random_uuid(), 'BENCH', '+3361' || lpad(g::text, 7, '0'), 'bench', 5, 1,
           '7bits', 100, 'account', now(), now(), 'submitted', now(), 3, 8
      from generate_series(1, ${count}::int4) as g
    returning id`.execute(db)
  return rows.rows.map((r) => r.id).sort((a, b) => a - b)
}
