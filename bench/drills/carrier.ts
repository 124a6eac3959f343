/**
 * Fault drill: the upstream SMSC is killed (SIGKILL) and restarted under load. The server sends
 * through a real SMPP carrier (CARRIER_URL) to a fake SMSC in its own process, which keeps its queue
 * on disk like a real one (bench/lib/smsc-process.ts: a receipt for every accepted message, sent
 * again after a restart until acknowledged). Checks: nothing lost (every accepted message final and
 * delivered, each status change's callback arrived), nothing charged twice, the credits balance.
 *
 * PostgreSQL: a fresh database on DATABASE_URL's server when set, else a throwaway cluster.
 * Prints a timed log, then one line `drill:carrier: PASS|FAIL …`; exits 0 or 1.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../test/support/ports.js'
import { callbackReceiver } from '../../test/support/receiver.js'
import {
  errorDigest,
  errorLines,
  type ServerProcess,
  spawnServer,
  waitHealthy,
} from '../../test/support/server-process.js'
import { endChecks, settle, snapshot } from './checks.js'
import { Drill, DrillFailure, sleep } from './harness.js'
import { Load } from './load.js'
import { createKeys, drillDatabase, openDb, seed, serverEnv } from './setup.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const LOAD_BEFORE_KILL_MS = 3000
const SMSC_DOWN_MS = 2500
const LOAD_AFTER_RESTART_MS = 3000
const SETTLE_DEADLINE_MS = 60_000

const drill = new Drill('carrier', 85_000)

/** The fake SMSC on `port`, its state in `stateFile`; resolves once it listens. */
async function startSmsc(port: number, stateFile: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/lib/smsc-process.ts', String(port), stateFile, '150'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  drill.track(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve()
    })
    child.once('exit', (code) => reject(new DrillFailure(`the fake SMSC exited (${code}) before listening`)))
  })
  return child
}

await drill.run(async () => {
  const { url, label } = await drillDatabase(drill)
  drill.log(`PostgreSQL: ${label}`)
  const handle = await openDb(url)
  drill.onCleanup(() => handle.close())
  const { db } = handle
  const rx = await callbackReceiver(drill, { maxDelayMs: 10, path: '/dlr' })
  const ownerId = await seed(handle, rx.url)

  const smscPort = await freePort()
  const stateFile = join(tmpdir(), `drill-carrier-smsc-${process.pid}.log`)
  drill.onCleanup(() => rmSync(stateFile, { force: true }))
  let smsc = await startSmsc(smscPort, stateFile)
  drill.onCleanup(() => smsc.kill('SIGKILL'))
  drill.log(`fake SMSC (pid ${smsc.pid}) on 127.0.0.1:${smscPort}`)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env = {
    ...serverEnv(url, port),
    CARRIER_URL: `smpp://drill:drillpw@127.0.0.1:${smscPort}?window=20&reconnectS=0.2&timeoutS=2&enquireLinkS=1`,
  }
  const servers: ServerProcess[] = []
  drill.diagnostics = () => servers.map((s) => s.output()).join('')
  const server = spawnServer(drill, env)
  servers.push(server)
  drill.onCleanup(() => server.child.kill('SIGKILL'))
  const readyMs = await waitHealthy(server, base)
  drill.log(`server (pid ${server.child.pid}) healthy after ${readyMs} ms on ${base}, bound to the SMSC`)
  const keys = await createKeys(base, ownerId)

  const load = new Load(base, keys, { jobsClients: 3, http2smsClients: 1, paceMs: 40, timeoutMs: 10_000 })
  load.start()
  drill.log('load started: 3 clients POST …/jobs, 1 client http2sms GET, one receiver per request')
  await sleep(LOAD_BEFORE_KILL_MS)
  const flowing = Date.now()
  while ((load.accepted().length < 50 || rx.calls.length < 20) && Date.now() - flowing < 10_000)
    await sleep(100)
  if (rx.calls.length === 0) throw new DrillFailure('no callback arrived before the kill: nothing to drill')

  const before = { accepted: load.accepted().length, calls: rx.calls.length }
  smsc.kill('SIGKILL')
  await new Promise((resolve) => smsc.once('exit', resolve))
  const killedAt = Date.now()
  drill.log(
    `SIGKILL the SMSC: ${before.accepted} accepted, ${before.calls} callbacks so far; ${await snapshot(db)}`,
  )
  await sleep(SMSC_DOWN_MS)
  const health = await fetch(`${base}/health`).then((r) => r.status)
  drill.check(health === 503, `GET /health with the only carrier away answered ${health}, not 503`)
  const acceptedWhileDown = load.acceptedSince(killedAt)
  drill.check(acceptedWhileDown > 0, 'no send accepted while the SMSC was down')
  smsc = await startSmsc(smscPort, stateFile)
  const restartedAt = Date.now()
  drill.log(
    `SMSC restarted (pid ${smsc.pid}) after ${restartedAt - killedAt} ms; ${acceptedWhileDown} sends accepted meanwhile`,
  )
  const rebinding = Date.now()
  while ((await fetch(`${base}/health`).then((r) => r.status)) !== 200 && Date.now() - rebinding < 15_000)
    await sleep(100)
  drill.log(`rebound ${Date.now() - restartedAt} ms after the restart`)
  await sleep(LOAD_AFTER_RESTART_MS)
  await load.stop()
  drill.log(
    `load stopped: ${load.outcomes.length} requests (${load.statusDigest()}), ${load.accepted().length} accepted`,
  )
  const unexpectedAnswers = load.outcomes.filter((o) => o.status !== null && !o.accepted)
  drill.check(
    unexpectedAnswers.length === 0,
    `${unexpectedAnswers.length} request(s) answered but not accepted, e.g. ${unexpectedAnswers
      .slice(0, 2)
      .map((o) => `${o.kind} ${o.status} ${o.body.slice(0, 100)}`)
      .join('; ')}`,
  )

  const settleDeadlineMs = Math.min(SETTLE_DEADLINE_MS, drill.remainingMs() - 8000)
  const settledMs = await settle(db, rx, settleDeadlineMs)
  drill.log(
    settledMs === null
      ? `NOT settled within ${settleDeadlineMs / 1000} s: ${await snapshot(db)}`
      : `settled ${settledMs} ms after the load stopped: ${await snapshot(db)}`,
  )
  drill.check(settledMs !== null, `not settled within ${settleDeadlineMs / 1000} s`)
  const result = await endChecks(drill, db, rx, load, { base, keys })
  const resubmitted = await db
    .selectFrom('outgoing')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('submit_attempts', '>', 1)
    .executeTakeFirstOrThrow()
  drill.log(`${resubmitted.n} message(s) handed over more than once (the SMSC away or a submit unanswered)`)

  server.child.kill('SIGTERM')
  const stopped = await Promise.race([server.exited, sleep(15_000).then(() => null)])
  drill.check(stopped?.code === 0, `the server did not exit cleanly on SIGTERM (${JSON.stringify(stopped)})`)
  const errors = errorLines(server.output())
  drill.log(
    `the server logged ${errors.length} error line(s)${errors.length ? `: ${errorDigest(server.output())}` : ''}`,
  )
  return `SMSC killed after ${before.accepted} accepted, back in ${restartedAt - killedAt} ms; ${result.summary}`
})
