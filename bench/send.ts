/**
 * Acceptance throughput on real PostgreSQL: signed `POST {S}/users/{login}/jobs` with one new receiver
 * per request, and http2sms GET for the same user (json), against Kannel's `sendsms` (bearerbox with a
 * file store and a fake SMSC, see lib/kannel.ts) and a bare Fastify route, in interleaved rounds with
 * the same load generator. Both gateways send what they accept while they accept it: our sending
 * worker runs (the carrier simulator plays the operator) as Kannel's bearerbox feeds `fakesmsc`.
 * Then a quota race (a small quota under 50 connections), and the credit books: no credit oversold.
 * Target: jobs and http2sms ≥ 1.0 × Kannel sendsms, 0 oversold.
 * Kannel is installed with apt-get when missing; when it cannot be, bench:send says so and goes on,
 * bench:peer-kannel (BENCH_PEER=kannel) fails.
 */
import { loadavg } from 'node:os'
import Fastify from 'fastify'
import { sql } from 'kysely'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { ALL_OWNERS } from '../src/auth/scope.js'
import { systemClock } from '../src/clock.js'
import type { Db } from '../src/db/index.js'
import { enableSender } from '../src/senders/service.js'
import { createUser, updateUserSettings } from '../src/users/service.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import { type Kannel, startKannel } from './lib/kannel.js'
import { type LoadResult, type LoadSpec, runLoad } from './lib/load.js'
import { benchApp, createKeys, listenLocal, machine, printTable, round, verdict } from './lib/setup.js'

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const SERVICE = 'sms-bench-send-1'
const LOGIN = 'benchuser1'
const RACER = 'benchracer1'
const PASSWORD = 'abcd1234'
const SENDER = 'BENCH'
const QUOTA = 1_000_000
const RACE_QUOTA = 300
/** Users of the spread scenario (requests go to them in turn), and each one's quota. */
const SPREAD_USERS = 50
const SPREAD_QUOTA = 20_000
const spreadLogin = (i: number) => `spreaduser${String(i).padStart(2, '0')}`

const TARGET_OVER_KANNEL = 1.0
/** BENCH_WORKER=off measures acceptance alone (messages stay queued). */
const WORKER = process.env.BENCH_WORKER !== 'off'
const REQUIRE_KANNEL = process.env.BENCH_PEER === 'kannel'

const database = await startDatabase()
let kannel: Kannel | undefined
let kannelMissing = ''
try {
  kannel = await startKannel()
} catch (error) {
  kannelMissing = error instanceof Error ? error.message : String(error)
  if (REQUIRE_KANNEL) {
    await database.stop()
    console.error(`bench:peer-kannel: Kannel could not be started: ${kannelMissing}`)
    process.exit(1)
  }
  console.warn(`Kannel not measured: ${kannelMissing}`)
}
try {
  await main()
} finally {
  kannel?.stop()
  await database.stop()
}

async function main() {
  const { app, deps } = await benchApp(database, {
    workers: WORKER,
    config: { simulatorDelayMs: 0 },
  })
  const { db } = deps.database
  const owner = await createOwner(db, 'bench')
  await createAccount(db, {
    ownerId: owner.id,
    serviceName: SERVICE,
    credits: QUOTA + RACE_QUOTA + SPREAD_USERS * SPREAD_QUOTA + 1000,
  })
  const quotas: [string, number][] = [
    [LOGIN, QUOTA],
    [RACER, RACE_QUOTA],
    ...Array.from({ length: SPREAD_USERS }, (_, i): [string, number] => [spreadLogin(i), SPREAD_QUOTA]),
  ]
  for (const [login, quota] of quotas) {
    await createUser(db, deps.secretBox, ALL_OWNERS, SERVICE, { login, password: PASSWORD })
    await updateUserSettings(db, deps.secretBox, ALL_OWNERS, SERVICE, login, {
      quotaInformations: { quotaStatus: 'active', quotaLeft: quota },
    })
  }
  await enableSender(db, systemClock, SERVICE, SENDER)
  const keys = await createKeys(app, owner.id)
  const host = await listenLocal(app)
  const bare = Fastify({ logger: false })
  bare.get('/bare', async () => ({ status: 100, creditLeft: '999', SmsIds: ['1'], smsIds: ['1'] }))
  const bareHost = await listenLocal(bare)

  const jobsPath = (login: string) => `/1.0/sms/${SERVICE}/users/${login}/jobs`
  const jobs = (login: string, firstReceiver: number, spread = false): LoadSpec => ({
    url: `http://${host}`,
    path: jobsPath(login),
    method: 'POST',
    connections: CONNECTIONS,
    durationS: DURATION_S,
    vary: {
      kind: 'jobs',
      keys,
      host,
      body: { message: 'sms-mirror bench message', sender: SENDER, noStopClause: true },
      firstReceiver,
      ...(spread ? { paths: Array.from({ length: SPREAD_USERS }, (_, i) => jobsPath(spreadLogin(i))) } : {}),
    },
    accept: { status: 200, bodyPattern: '"ids":\\[\\d' },
  })
  const http2sms = (firstReceiver: number): LoadSpec => ({
    url: `http://${host}`,
    path: '/cgi-bin/sms/http2sms.cgi',
    connections: CONNECTIONS,
    durationS: DURATION_S,
    vary: {
      kind: 'http2sms',
      query: {
        account: SERVICE,
        login: LOGIN,
        password: PASSWORD,
        from: SENDER,
        message: 'sms-mirror bench message',
        noStop: '1',
        contentType: 'application/json',
      },
      firstReceiver,
    },
    accept: { status: 200, bodyPattern: '"status":100' },
  })
  const bareSpec: LoadSpec = {
    url: `http://${bareHost}`,
    path: '/bare',
    connections: CONNECTIONS,
    durationS: DURATION_S,
    accept: { status: 200 },
  }

  const kannelSpec = (firstReceiver: number): LoadSpec | null =>
    kannel
      ? {
          url: kannel.url,
          path: kannel.path,
          connections: CONNECTIONS,
          durationS: DURATION_S,
          vary: { kind: 'http2sms', query: kannel.query, firstReceiver },
          accept: { status: 202, bodyPattern: '^0: Accepted' },
        }
      : null

  let acceptedTotal = 0
  let writingRuns = 0
  const loadBefore = loadavg()[0] as number
  /** Ours write outgoing rows (counted in the books); bare and Kannel do not. */
  const ours = (i: number) => i >= 1 && i <= 3
  const specsOf = (r: number) => [
    bareSpec,
    jobs(LOGIN, r * 1_000_000),
    http2sms(r * 1_000_000 + 300_000),
    jobs(LOGIN, r * 1_000_000 + 600_000, true),
    kannelSpec(r * 1_000_000 + 900_000),
  ]
  // Warm-up (counted in the books, not in the figures).
  for (const [i, spec] of specsOf(9).entries()) {
    if (!spec) continue
    const warm = await runLoad({ ...spec, durationS: 2 })
    if (ours(i)) {
      acceptedTotal += warm.accepted
      writingRuns++
    }
  }
  const scenarios = [
    'bare Fastify route',
    'POST users/{login}/jobs',
    'http2sms GET (json)',
    `POST jobs, ${SPREAD_USERS} users in turn`,
    'Kannel sendsms (file store)',
  ] as const
  const runs: LoadResult[][] = scenarios.map(() => [])
  await pgStatsReset(database.url)
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, spec] of specsOf(r).entries()) {
      if (!spec) continue
      process.stderr.write(
        `… round ${r + 1}/${ROUNDS}: ${scenarios[i]} (${CONNECTIONS} connections, ${DURATION_S} s)\n`,
      )
      const result = await runLoad(spec)
      if (ours(i)) {
        acceptedTotal += result.accepted
        writingRuns++
      }
      if (result.accepted < result.requests * 0.99) {
        console.warn(
          `  ${scenarios[i]}: ${result.requests - result.accepted} not accepted — ${result.sampleRejected}`,
        )
      }
      runs[i]?.push(result)
    }
  }
  const loadAfter = loadavg()[0] as number
  await pgStatsReport(database.url)

  // The race: a quota of RACE_QUOTA credits (1 credit per message) under CONNECTIONS connections.
  process.stderr.write(`… quota race: ${RACE_QUOTA} credits, ${CONNECTIONS} connections, 3 s\n`)
  // Runs of 3 s until some requests are refused (the quota is spent), five at most.
  const race = { accepted: 0, requests: 0 }
  for (let run = 0; run < 5; run++) {
    const result = await runLoad({ ...jobs(RACER, 8_000_000 + run * 100_000), durationS: 3 })
    writingRuns++
    acceptedTotal += result.accepted
    race.accepted += result.accepted
    race.requests += result.requests
    if (result.accepted < result.requests) break
  }
  // Requests still in flight when a run ended commit later: wait until nothing more is written.
  await quiesce(db)

  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const perRound = (i: number) => runs[i] as LoadResult[]
  const rate = (i: number) => median(perRound(i).map((r) => (i === 0 ? r.rps : r.acceptedPerSecond)))
  const ratio = (i: number) =>
    median(perRound(i).map((r, k) => r.acceptedPerSecond / (perRound(0)[k] as LoadResult).rps))
  const mid = (i: number) => {
    const list = perRound(i)
    return [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)] as LoadResult
  }
  const KANNEL = 4
  const measured = (i: number) => perRound(i).length > 0
  /** Median over rounds of (ours accepted/s) / (Kannel accepted/s) in the same round; null without Kannel. */
  const overKannel = (i: number) =>
    measured(KANNEL)
      ? median(
          perRound(i).map(
            (r, k) => r.acceptedPerSecond / (perRound(KANNEL)[k] as LoadResult).acceptedPerSecond,
          ),
        )
      : null
  const jobsOverKannel = overKannel(1)
  const http2smsOverKannel = overKannel(2)

  const checks = []
  for (const [login, quota] of quotas) {
    const b = await books(db, login)
    const initial = toH(quota)
    checks.push({
      login,
      initial,
      ...b,
      // Credits of accepted messages that no quota paid for.
      oversold: Math.max(0, b.outgoingCredits - (initial - b.quotaLeft)),
      ledgerMatches: initial - b.ledgerSpent === b.quotaLeft && b.ledgerSpent === b.outgoingCredits,
    })
  }
  const raceBooks = checks.find((c) => c.login === RACER)!
  const rowsWritten = checks.reduce((sum, c) => sum + c.outgoingRows, 0)
  const oversold = checks.reduce((sum, c) => sum + c.oversold, 0)
  // Every accepted answer has its row; rows of requests cut at the end of a run have no answer.
  const rowsOk = rowsWritten >= acceptedTotal && rowsWritten - acceptedTotal <= writingRuns * CONNECTIONS
  const booksOk =
    checks.every((c) => c.quotaLeft >= 0 && c.ledgerMatches) &&
    rowsOk &&
    raceBooks.outgoingRows === RACE_QUOTA
  const balanced = checks.filter((c) => c.ledgerMatches).length
  await app.close()
  await bare.close()

  const info = machine()
  console.log(
    `\nbench:send — ${info.date} — ${info.nproc} × ${info.cpu}, node ${info.node}, ${database.label}`,
  )
  console.log(
    `${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s after a 2 s warm-up; one receiver per ` +
      `message; ${WORKER ? "our sending worker and Kannel's bearerbox deliver as they accept" : 'our sending worker OFF'}; load average ${round(loadBefore, 1)} → ${round(loadAfter, 1)}\n`,
  )
  printTable(
    ['scenario', 'accepted/s (median)', 'p50 ms', 'p99 ms', '× bare req/s', '× Kannel', 'per round'],
    scenarios.flatMap((name, i) =>
      measured(i)
        ? [
            [
              name,
              Math.round(rate(i)),
              mid(i).p50,
              mid(i).p99,
              i === 0 ? 1 : round(ratio(i), 3),
              i === 0 ? '' : (overKannel(i)?.toFixed(3) ?? '—'),
              perRound(i)
                .map((r) => Math.round(i === 0 ? r.rps : r.acceptedPerSecond))
                .join(' / '),
            ],
          ]
        : [],
    ),
  )
  console.log(`\njobs: ${Math.round(rate(1))} messages/s, http2sms: ${Math.round(rate(2))} messages/s`)
  if (jobsOverKannel !== null && http2smsOverKannel !== null) {
    console.log(
      `jobs / Kannel = ${round(jobsOverKannel, 3)}, http2sms / Kannel = ${round(http2smsOverKannel, 3)}   ` +
        `(${kannel?.version}; target ≥ ${TARGET_OVER_KANNEL})  ` +
        verdict(Math.min(jobsOverKannel, http2smsOverKannel) >= TARGET_OVER_KANNEL),
    )
  } else {
    console.log(`ours / Kannel: NOT MEASURED (${kannelMissing})`)
  }
  console.log(
    `outgoing rows ${rowsWritten}, accepted answers ${acceptedTotal} (the difference, ≤ ${writingRuns} runs × ` +
      `${CONNECTIONS}, was in flight when runs ended) ${rowsOk ? 'OK' : 'INCONSISTENT'}`,
  )
  console.log(
    `quota race: ${race.accepted} accepted of ${race.requests} for a quota of ${RACE_QUOTA} credits, ` +
      `${raceBooks.outgoingRows} rows, quota left ${raceBooks.quotaLeft / 100}`,
  )
  for (const c of checks.slice(0, 3)) {
    console.log(
      `  ${c.login}: quota ${c.initial / 100} → ${c.quotaLeft / 100}, ledger spent ${c.ledgerSpent / 100}, ` +
        `outgoing credits ${c.outgoingCredits / 100}, rows ${c.outgoingRows}`,
    )
  }
  console.log(
    `  ledger balances for ${balanced} of ${checks.length} users (quota − ledger spends = quota left = …)`,
  )
  console.log(`oversold: ${oversold / 100}   (target 0)  ${verdict(oversold === 0 && booksOk)}`)
  const figure = (i: number) => ({
    perSecond: round(rate(i), 1),
    p50: mid(i).p50,
    p99: mid(i).p99,
    perRound: perRound(i).map((r) => round(i === 0 ? r.rps : r.acceptedPerSecond, 1)),
  })
  console.log(
    JSON.stringify({
      bench: 'send',
      ...info,
      loadAverage: [round(loadBefore, 2), round(loadAfter, 2)],
      database: database.label,
      connections: CONNECTIONS,
      durationS: DURATION_S,
      rounds: ROUNDS,
      bare: figure(0),
      jobs: figure(1),
      http2sms: figure(2),
      jobsSpread: figure(3),
      kannel: measured(KANNEL) ? { version: kannel?.version, ...figure(KANNEL) } : { missing: kannelMissing },
      ratios: {
        jobsOverBare: round(ratio(1), 3),
        http2smsOverBare: round(ratio(2), 3),
        jobsSpreadOverBare: round(ratio(3), 3),
        jobsOverKannel: jobsOverKannel === null ? null : round(jobsOverKannel, 3),
        http2smsOverKannel: http2smsOverKannel === null ? null : round(http2smsOverKannel, 3),
      },
      raceAccepted: race.accepted,
      raceQuota: RACE_QUOTA,
      oversold: oversold / 100,
      booksBalance: booksOk,
      targets: { overKannel: TARGET_OVER_KANNEL, oversold: 0 },
      pass: oversold === 0 && booksOk,
    }),
  )
}

function toH(credits: number): number {
  return Math.round(credits * 100)
}

/**
 * A user's quota, what the ledger says it spent, and what its outgoing rows cost (hundredths), in
 * one statement (one snapshot).
 */
async function books(db: Db, login: string) {
  type Books = { quotaLeft: number; ledgerSpent: number; outgoingRows: number; outgoingCredits: number }
  const { rows } = await sql<Books>`
    select (select quota_left from sms_users where login = ${login}) as "quotaLeft",
           (select coalesce(-sum(quota_delta), 0)::int8 from credit_ledger
             where login = ${login} and kind = 'spend') as "ledgerSpent",
           (select count(*)::int8 from outgoing where login = ${login}) as "outgoingRows",
           (select coalesce(sum(credits), 0)::int8 from outgoing where login = ${login}) as "outgoingCredits"`.execute(
    db,
  )
  return rows[0]!
}

/** Waits until no outgoing row has been written for a second. */
async function quiesce(db: Db): Promise<void> {
  let last = -1
  for (;;) {
    const { rows } = await sql<{ n: number }>`select count(*)::int8 as n from outgoing`.execute(db)
    const n = rows[0]?.n ?? 0
    if (n === last) return
    last = n
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}
