/**
 * The SMPP carrier's hand-over rate, against a fake SMSC in a child process (bench/lib/smsc-process.ts:
 * answers every submit_sm at once) that both sides share, with the same window:
 * - bare: a plain `smpp` library client loop, one bound transceiver, keeping WINDOW submit_sm in flight;
 * - sms-mirror: MESSAGES accepted messages (written by the send path, pending) handed over by the
 *   sending worker (claim, submit through the SMPP carrier, record), from the start of its run until
 *   every message is recorded as submitted.
 * Rounds interleave the two. Target: sms-mirror ≥ 0.7 × bare.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import smpp from 'smpp'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { ALL_OWNERS } from '../src/auth/scope.js'
import { loadConfig } from '../src/config.js'
import { prepareSend } from '../src/sending/request.js'
import { freePort } from '../test/support/ports.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import { startCpuProfile } from './lib/cpu-profile.js'
import { benchApp, machine, printTable, round, verdict } from './lib/setup.js'

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const TARGET_RATIO = 0.7
const SERVICE = 'sms-bench-carrier-1'
const ROOT = fileURLToPath(new URL('..', import.meta.url))

async function startSmsc(port: number): Promise<{ child: ChildProcess; submits: () => number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/smsc-process.ts', String(port), '-'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let submits = 0
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.startsWith('listening')) resolve()
        const match = /^submits (\d+)/.exec(line)
        if (match) submits = Number(match[1])
      }
    })
    child.once('exit', (code) => reject(new Error(`the fake SMSC exited (${code})`)))
  })
  return { child, submits: () => submits }
}

/** The bare client: bind, then MESSAGES submit_sm with WINDOW in flight; messages per second. */
async function bareLoop(port: number, offset: number): Promise<number> {
  const session = smpp.connect({ host: '127.0.0.1', port })
  session.socket.setNoDelay(true)
  await new Promise<void>((resolve) => session.on('connect', () => resolve()))
  session.on('error', () => {})
  await new Promise<void>((resolve, reject) =>
    session.send(new smpp.PDU('bind_transceiver', { system_id: 'bare', password: 'bare' }), (pdu) =>
      pdu.command_status === 0 ? resolve() : reject(new Error(`bind refused ${pdu.command_status}`)),
    ),
  )
  const began = performance.now()
  await new Promise<void>((resolve) => {
    let sent = 0
    let answered = 0
    const next = () => {
      const n = sent++
      session.send(
        new smpp.PDU('submit_sm', {
          source_addr: 'ACME',
          source_addr_ton: 5,
          destination_addr: `336${String(10_000_000 + offset + n).slice(-8)}`,
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          registered_delivery: 1,
          short_message: Buffer.from('sms-mirror carrier bench'),
        }),
        () => {
          answered++
          if (answered === MESSAGES) resolve()
          else if (sent < MESSAGES) next()
        },
      )
    }
    for (let i = 0; i < Math.min(WINDOW, MESSAGES); i++) next()
  })
  const rate = MESSAGES / ((performance.now() - began) / 1000)
  session.destroy()
  return rate
}

const database = await startDatabase()
const smscPort = await freePort()
const smsc = await startSmsc(smscPort)
const { app } = await benchApp(database, {
  workers: false,
  config: {
    carriers: loadConfig({
      CARRIER_URL: `smpp://bench:bench@127.0.0.1:${smscPort}?window=${WINDOW}&timeoutS=30`,
    }).carriers,
  },
})
try {
  const owner = await createOwner(app.db, 'bench')
  await createAccount(app.db, { ownerId: owner.id, serviceName: SERVICE, credits: MESSAGES * ROUNDS * 2 })
  const account = await app.db
    .selectFrom('accounts')
    .select('id')
    .where('service_name', '=', SERVICE)
    .executeTakeFirstOrThrow()
  await app.db
    .insertInto('senders')
    .values({ account_id: account.id, sender: 'ACME', status: 'enable' })
    .execute()
  await app.ready()

  /** MESSAGES pending messages written through the send path, 1,000 receivers per request. */
  const accept = async (offset: number) => {
    const target = { scope: ALL_OWNERS, serviceName: SERVICE, login: null }
    for (let from = 0; from < MESSAGES; from += 1000) {
      const receivers = Array.from(
        { length: Math.min(1000, MESSAGES - from) },
        (_, i) => `+336${String(10_000_000 + offset + from + i).slice(-8)}`,
      )
      await app.sending.queue.submit(
        prepareSend(
          target,
          { message: 'sms-mirror carrier bench', receivers, sender: 'ACME', noStopClause: true },
          new Date(),
        ),
      )
    }
  }

  await pgStatsReset(database.url)
  const rows: (string | number)[][] = []
  const bare: number[] = []
  const ours: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const offset = r * 2 * MESSAGES
    bare.push(await bareLoop(smscPort, offset))
    await accept(offset + MESSAGES)
    // BENCH_CPU_PROF=DIR: the last round's hand-over only.
    const profile = r === ROUNDS - 1 ? await startCpuProfile('carrier') : null
    // BENCH_SAMPLE_MS=N: the carrier's queue and window sampled every N ms during the hand-over.
    const samples: { queued: number; inFlight: number }[] = []
    const sampleMs = Number(process.env.BENCH_SAMPLE_MS ?? 0)
    const sampler =
      sampleMs > 0
        ? setInterval(() => {
            for (const carrier of app.carriers.carriers()) samples.push(carrier.state())
          }, sampleMs)
        : null
    const began = performance.now()
    const handed = await app.sendingWorker.runOnce()
    const seconds = (performance.now() - began) / 1000
    if (sampler) {
      clearInterval(sampler)
      const mean = (f: (s: { queued: number; inFlight: number }) => number) =>
        round(samples.reduce((sum, s) => sum + f(s), 0) / Math.max(1, samples.length))
      const empty = samples.filter((s) => s.queued === 0).length
      console.log(
        `round ${r + 1}: ${samples.length} samples, in flight ${mean((s) => s.inFlight)} on average, ` +
          `queued ${mean((s) => s.queued)} on average, queue empty in ${empty}`,
      )
    }
    await profile?.stop()
    const { rows: counted } = await sql<{ n: number }>`
      select count(*)::int8 as n from outgoing where state = 'submitted'`.execute(app.db)
    if (handed < MESSAGES || Number(counted[0]?.n) !== (r + 1) * MESSAGES) {
      throw new Error(`round ${r + 1}: ${handed} handed over, ${counted[0]?.n} submitted in all`)
    }
    ours.push(MESSAGES / seconds)
    rows.push([
      r + 1,
      Math.round(bare[r] as number),
      Math.round(ours[r] as number),
      round((ours[r] as number) / (bare[r] as number)),
    ])
  }
  await pgStatsReport(database.url)
  await new Promise((resolve) => setTimeout(resolve, 1200))
  const expected = 2 * ROUNDS * MESSAGES
  if (smsc.submits() !== expected)
    throw new Error(`the SMSC counted ${smsc.submits()} submits, not ${expected}`)

  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const bareRate = median(bare)
  const ourRate = median(ours)
  const ratio = ourRate / bareRate
  console.log(`bench:carrier — ${MESSAGES} messages per side per round, window ${WINDOW}, ${database.label}`)
  printTable(['round', 'bare smpp loop msg/s', 'sms-mirror msg/s', 'ratio'], rows)
  console.log()
  printTable(
    ['figure', 'value', 'target', ''],
    [
      [
        'accepted → submitted at the SMSC vs a bare smpp loop',
        `${round(ratio)} ×`,
        `≥ ${TARGET_RATIO}`,
        verdict(ratio >= TARGET_RATIO),
      ],
    ],
  )
  console.log(
    JSON.stringify({
      bench: 'carrier',
      ...machine(),
      load: loadavg().map((l) => round(l)),
      messages: MESSAGES,
      window: WINDOW,
      rounds: rows,
      bare: Math.round(bareRate),
      sms_mirror: Math.round(ourRate),
      ratio: round(ratio),
      target: TARGET_RATIO,
      smsc_submits: smsc.submits(),
    }),
  )
} finally {
  await app.close()
  smsc.child.kill('SIGTERM')
  await database.stop()
}
