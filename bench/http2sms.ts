/**
 * bench:send's http2sms round alone, against Kannel's sendsms in the same run when Kannel can be
 * started: one user with an active quota, BENCH_CONNECTIONS (50) connections for BENCH_DURATION_S
 * (8) s after a 2 s warm-up, the sending worker off (acceptance alone), BENCH_ROUNDS (2) alternated.
 * Prints accepted/s, latencies, the server's CPU per request and, with BENCH_PG_STATS=1, PostgreSQL's
 * statements; BENCH_CPU_PROF=DIR profiles the server over the measured rounds of ours.
 *   npx tsx bench/http2sms.ts
 */
import { loadavg } from 'node:os'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { ALL_OWNERS } from '../src/auth/scope.js'
import { systemClock } from '../src/clock.js'
import { enableSender } from '../src/senders/service.js'
import { createUser, updateUserSettings } from '../src/users/service.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import { startCpuProfile } from './lib/cpu-profile.js'
import { type Kannel, startKannel } from './lib/kannel.js'
import { type LoadSpec, runLoad } from './lib/load.js'
import { benchApp, listenLocal, machine, round } from './lib/setup.js'

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const SERVICE = 'sms-bench-send-1'

const database = await startDatabase()
let kannel: Kannel | undefined
try {
  kannel = await startKannel()
} catch (error) {
  console.warn(`Kannel not measured: ${error instanceof Error ? error.message : String(error)}`)
}
try {
  const { app, deps } = await benchApp(database, { workers: false, config: { simulatorDelayMs: 0 } })
  const { db } = deps.database
  const owner = await createOwner(db, 'bench')
  await createAccount(db, { ownerId: owner.id, serviceName: SERVICE, credits: 10_000_000 })
  await createUser(db, deps.secretBox, ALL_OWNERS, SERVICE, { login: 'benchuser1', password: 'abcd1234' })
  await updateUserSettings(db, deps.secretBox, ALL_OWNERS, SERVICE, 'benchuser1', {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 5_000_000 },
  })
  await enableSender(db, systemClock, SERVICE, 'BENCH')
  const host = await listenLocal(app)
  const ours = (firstReceiver: number, durationS: number): LoadSpec => ({
    url: `http://${host}`,
    path: '/cgi-bin/sms/http2sms.cgi',
    connections: CONNECTIONS,
    durationS,
    vary: {
      kind: 'http2sms',
      query: {
        account: SERVICE,
        login: 'benchuser1',
        password: 'abcd1234',
        from: 'BENCH',
        message: 'sms-mirror bench message',
        noStop: '1',
        contentType: 'application/json',
      },
      firstReceiver,
    },
    accept: { status: 200, bodyPattern: '"status":100' },
  })
  const theirs = (firstReceiver: number): LoadSpec | null =>
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
  await runLoad(ours(9_000_000, 2))
  const info = machine()
  const loadBefore = loadavg()[0] as number
  await pgStatsReset(database.url)
  const rows: string[] = []
  let cpuMicros = 0
  let accepted = 0
  const rates: number[] = []
  const kannelRates: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    // One profile per round of ours (Kannel's rounds would only add idle time to it).
    const profile = await startCpuProfile(`http2sms-round${r + 1}`)
    const cpu = process.cpuUsage()
    const result = await runLoad(ours(r * 1_000_000, DURATION_S))
    const used = process.cpuUsage(cpu)
    await profile.stop()
    cpuMicros += used.user + used.system
    accepted += result.accepted
    rates.push(result.acceptedPerSecond)
    rows.push(
      `round ${r + 1} sms-mirror: ${round(result.acceptedPerSecond)} accepted/s (${result.accepted} of ${result.requests}), p50 ${result.p50} ms, p99 ${result.p99} ms`,
    )
    const kannelSpec = theirs(r * 1_000_000 + 500_000)
    if (kannelSpec) {
      const k = await runLoad(kannelSpec)
      kannelRates.push(k.acceptedPerSecond)
      rows.push(
        `round ${r + 1} Kannel:     ${round(k.acceptedPerSecond)} accepted/s (${k.accepted} of ${k.requests}), p50 ${k.p50} ms, p99 ${k.p99} ms`,
      )
    }
  }
  const loadAfter = loadavg()[0] as number
  console.log(
    `\nbench:http2sms — ${info.date} — ${info.nproc} × ${info.cpu}, node ${info.node}, ${database.label}; load average ${round(loadBefore, 1)} → ${round(loadAfter, 1)}`,
  )
  for (const row of rows) console.log(row)
  console.log(`server CPU per accepted request: ${round(cpuMicros / Math.max(1, accepted))} µs`)
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  }
  const ratio = kannelRates.length > 0 ? median(rates) / median(kannelRates) : null
  if (ratio !== null) console.log(`http2sms / Kannel (medians): ${round(ratio, 3)} (target ≥ 1)`)
  await pgStatsReport(database.url)
  console.log(
    JSON.stringify({
      bench: 'http2sms',
      date: info.date,
      loadAverage: [round(loadBefore, 2), round(loadAfter, 2)],
      perSecond: rates.map((x) => round(x)),
      kannel: kannelRates.map((x) => round(x)),
      ratio: ratio === null ? null : round(ratio, 3),
      cpuMicrosPerRequest: round(cpuMicros / Math.max(1, accepted)),
    }),
  )
  await app.close()
} finally {
  kannel?.stop()
  await database.stop()
}
