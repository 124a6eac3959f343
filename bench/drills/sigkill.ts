/**
 * Fault drill: SIGKILL the server in the middle of a load (sends being accepted, the worker handing
 * messages to the simulated carrier, the dispatcher calling callbacks), restart it on the same
 * database, and check that nothing accepted is lost: every accepted message ends delivered and in
 * the history, every status change's callback arrives at least once, the credits balance.
 *
 * PostgreSQL: a fresh database on DATABASE_URL's server when set, else a throwaway cluster.
 * Prints a timed log, then one line `drill:sigkill: PASS|FAIL …`; exits 0 or 1.
 */

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

const LOAD_BEFORE_KILL_MS = 3000
const LOAD_AFTER_RESTART_MS = 3000
const SETTLE_DEADLINE_MS = 60_000

const drill = new Drill('sigkill', 85_000)
await drill.run(async () => {
  const { url, label } = await drillDatabase(drill)
  drill.log(`PostgreSQL: ${label}`)
  const handle = await openDb(url)
  drill.onCleanup(() => handle.close())
  const { db } = handle
  // Slow enough answers (up to 40 ms) that the kill finds callback calls in flight.
  const rx = await callbackReceiver(drill, { maxDelayMs: 40, path: '/dlr' })
  const ownerId = await seed(handle, rx.url)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env = serverEnv(url, port)
  const servers: ServerProcess[] = []
  drill.diagnostics = () => servers.map((s) => s.output()).join('')

  const first = spawnServer(drill, env)
  servers.push(first)
  drill.onCleanup(() => first.child.kill('SIGKILL'))
  const readyMs = await waitHealthy(first, base)
  drill.log(`server 1 (pid ${first.child.pid}) healthy after ${readyMs} ms on ${base}`)
  const keys = await createKeys(base, ownerId)

  const load = new Load(base, keys, { jobsClients: 3, http2smsClients: 1, paceMs: 60, timeoutMs: 10_000 })
  load.start()
  drill.log('load started: 3 clients POST …/jobs, 1 client http2sms GET, one receiver per request')
  await sleep(LOAD_BEFORE_KILL_MS)
  // Make sure the kill lands with work everywhere: sends accepted, and callbacks flowing.
  const flowing = Date.now()
  while ((load.accepted().length < 50 || rx.calls.length < 20) && Date.now() - flowing < 10_000)
    await sleep(100)
  if (rx.calls.length === 0) throw new DrillFailure('no callback arrived before the kill: nothing to drill')

  // Kill while the dispatcher has calls out (their outcome is never recorded: they come back after
  // the lease, and may arrive twice).
  const waitingForCalls = Date.now()
  while (rx.inFlight() === 0 && Date.now() - waitingForCalls < 5000) await sleep(1)
  const before = { accepted: load.accepted().length, calls: rx.calls.length, inFlight: rx.inFlight() }
  first.child.kill('SIGKILL')
  const killedAt = Date.now()
  const exit = await first.exited
  drill.log(
    `SIGKILL server 1 (${exit.signal}): ${before.accepted} accepted, ${before.calls} callbacks received so far, ` +
      `${before.inFlight} in flight`,
  )
  drill.log(`at the kill: ${await snapshot(db)}`)

  const second = spawnServer(drill, env)
  servers.push(second)
  drill.onCleanup(() => second.child.kill('SIGKILL'))
  await waitHealthy(second, base)
  const restartedAt = Date.now()
  drill.log(`server 2 (pid ${second.child.pid}) healthy ${restartedAt - killedAt} ms after the kill`)
  await sleep(LOAD_AFTER_RESTART_MS)
  await load.stop()
  const afterRestart = load.acceptedSince(restartedAt)
  drill.check(afterRestart > 0, 'no send accepted after the restart')
  drill.log(
    `load stopped: ${load.outcomes.length} requests (${load.statusDigest()}), ${load.accepted().length} accepted ` +
      `(${afterRestart} after the restart)`,
  )
  const unexpectedAnswers = load.outcomes.filter((o) => o.status !== null && !o.accepted)
  drill.check(
    unexpectedAnswers.length === 0,
    `${unexpectedAnswers.length} request(s) answered but not accepted, e.g. ${unexpectedAnswers
      .slice(0, 2)
      .map((o) => `${o.kind} ${o.status} ${o.body.slice(0, 100)}`)
      .join('; ')}`,
  )
  const slow = load.outcomes.filter((o) => (o.status !== null && o.ms > 5000) || o.error === 'TimeoutError')
  drill.check(slow.length === 0, `${slow.length} request(s) took over 5 s or timed out`)

  // Bounded, and within the budget (the end checks and cleanup need a few seconds).
  const settleDeadlineMs = Math.min(SETTLE_DEADLINE_MS, drill.remainingMs() - 8000)
  const settledMs = await settle(db, rx, settleDeadlineMs)
  drill.log(
    settledMs === null
      ? `NOT settled within ${settleDeadlineMs / 1000} s: ${await snapshot(db)}`
      : `settled ${settledMs} ms after the load stopped (${Date.now() - killedAt} ms after the kill): ${await snapshot(db)}`,
  )
  drill.check(settledMs !== null, `not settled within ${settleDeadlineMs / 1000} s`)

  const result = await endChecks(drill, db, rx, load, { base, keys })

  second.child.kill('SIGTERM')
  const stopped = await Promise.race([second.exited, sleep(15_000).then(() => null)])
  drill.check(stopped?.code === 0, `server 2 did not exit cleanly on SIGTERM (${JSON.stringify(stopped)})`)
  const errors = errorLines(second.output())
  drill.log(
    `server 2 logged ${errors.length} error line(s)${errors.length ? `: ${errorDigest(second.output())}` : ''}`,
  )
  return (
    `killed after ${before.accepted} accepted, restarted in ${restartedAt - killedAt} ms; ${result.summary}; ` +
    `settled in ${((settledMs ?? 0) / 1000).toFixed(1)} s`
  )
})
