/**
 * bench:smpp — accepted submit_sm per second: SESSIONS ESMEs in a child process (bench/lib/smpp-clients.ts),
 * each keeping WINDOW submits in flight for SECONDS, against
 * - bare: a plain `smpp` server (src/smpp/session.ts's listener) that answers every submit_sm at once;
 * - sms-mirror: our SMPP server, every submit through the send path and committed before its
 *   submit_sm_resp (limits raised for the bench: window WINDOW, throughput 1,000,000/s).
 * Checks that every accepted submit is an outgoing row with its message_id. Target: ≥ 0.5 × bare.
 * PostgreSQL: DATABASE_URL's server (a fresh database) when set, else a throwaway cluster.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { createSecretBox } from '../src/crypto/secret-box.js'
import { listenSmpp, STATUS } from '../src/smpp/session.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import { startCpuProfile } from './lib/cpu-profile.js'
import { BENCH_SECRET, benchApp, machine, printTable, round, verdict } from './lib/setup.js'

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 4)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 10)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const TARGET = 0.5
const ROOT = fileURLToPath(new URL('..', import.meta.url))

type Result = { accepted: number; refused: number; seconds: number; messageIds: number }

function clients(port: number, systemId: string, password: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/lib/smpp-clients.ts',
        String(port),
        systemId,
        password,
        String(SESSIONS),
        String(WINDOW),
        String(SECONDS),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line))
      else reject(new Error(`the clients exited ${code}: ${out}`))
    })
  })
}

async function bare(): Promise<Result> {
  let id = 0
  const listener = await listenSmpp({ host: '127.0.0.1', port: 0 }, (session) => {
    session.onRequest((pdu) => {
      if (pdu.command.startsWith('bind_')) session.respond(pdu, { system_id: 'bare' })
      else if (pdu.command === 'submit_sm') session.respond(pdu, { message_id: String(++id) })
      else if (pdu.command === 'enquire_link' || pdu.command === 'unbind') session.respond(pdu)
      else session.respond(pdu, {}, STATUS.ESME_RINVCMDID)
    })
  })
  try {
    return await clients(listener.address().port, 'bench', 'bench')
  } finally {
    await listener.close()
  }
}

async function mirror(): Promise<Result & { rows: number; distinctRows: number }> {
  const database = await startDatabase()
  const { app, deps } = await benchApp(database, {
    workers: false,
    config: {
      smpp: { ...(await import('../src/config.js')).loadConfig({}).smpp, bindsPerAccount: SESSIONS },
    },
  })
  try {
    const { db } = deps.database
    const owner = await createOwner(db, 'bench-smpp')
    const created = await createAccount(db, {
      ownerId: owner.id,
      serviceName: 'smpp-bench-1',
      credits: 100_000_000,
      secretBox: createSecretBox(BENCH_SECRET),
    })
    const smpp = created.smpp as { systemId: string; password: string }
    await db
      .updateTable('smpp_accounts')
      .set({ allowed_ips: JSON.stringify(['127.0.0.1']), windowing: WINDOW, throughput: 1_000_000 })
      .where('account_id', '=', created.id)
      .execute()
    await db
      .insertInto('senders')
      .values({ account_id: created.id, sender: 'ACME', status: 'enable', type: 'alpha' })
      .execute()
    await app.smppServer.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.smppServer.addresses()[0] as { port: number }).port
    await pgStatsReset(database.url)
    const profile = await startCpuProfile('smpp-server')
    const cpuBefore = process.cpuUsage()
    const result = await clients(port, smpp.systemId, smpp.password)
    const cpu = process.cpuUsage(cpuBefore)
    await profile.stop()
    console.log(
      `sms-mirror process CPU: ${round((cpu.user + cpu.system) / 1000)} ms (${round((cpu.user + cpu.system) / Math.max(1, result.accepted))} µs per accepted submit)`,
    )
    const { stats } = app.sending.queue
    console.log(
      `group commit: ${stats.batches} batches, ${round(stats.requests / Math.max(1, stats.batches), 1)} submits per batch on average, ${stats.largest} at most`,
    )
    await pgStatsReport(database.url)
    const counted = await db
      .selectFrom('outgoing')
      .select((eb) => [
        eb.fn.countAll<number>().as('n'),
        eb.fn.count<number>('message_id').distinct().as('ids'),
      ])
      .where('account_id', '=', created.id)
      .executeTakeFirstOrThrow()
    return { ...result, rows: Number(counted.n), distinctRows: Number(counted.ids) }
  } finally {
    await app.close()
    await database.stop()
  }
}

const m = machine()
const bareResult = await bare()
const ours = await mirror()
const bareRate = bareResult.accepted / bareResult.seconds
const oursRate = ours.accepted / ours.seconds
const ratio = oursRate / bareRate
const committed = ours.rows === ours.accepted && ours.distinctRows === ours.messageIds
printTable(
  ['peer', 'sessions × window', 'accepted', 'refused', 'seconds', 'accepted/s'],
  [
    [
      'bare smpp server',
      `${SESSIONS} × ${WINDOW}`,
      bareResult.accepted,
      bareResult.refused,
      round(bareResult.seconds),
      round(bareRate),
    ],
    [
      'sms-mirror',
      `${SESSIONS} × ${WINDOW}`,
      ours.accepted,
      ours.refused,
      round(ours.seconds),
      round(oursRate),
    ],
  ],
)
console.log(
  `every accepted submit committed with its message_id: ${committed ? 'yes' : 'NO'} (${ours.rows} rows, ${ours.distinctRows} ids, ${ours.accepted} accepted)`,
)
console.log(`ratio ${round(ratio, 3)} (target ≥ ${TARGET}): ${verdict(ratio >= TARGET && committed)}`)
console.log(
  JSON.stringify({
    bench: 'smpp',
    date: new Date().toISOString(),
    machine: m,
    sessions: SESSIONS,
    window: WINDOW,
    bareRate: round(bareRate),
    oursRate: round(oursRate),
    ratio: round(ratio, 3),
    committed,
  }),
)
process.exit(0)
