/**
 * Fault drill: stop PostgreSQL (pg_ctl stop -m fast) in the middle of a load, keep it down ~5 s, start
 * it again on the same port and data folder. While it is down, /health and sending must answer 503
 * with an OVH-style `{ message }` body, quickly (never a 500, never a hang); once it is back, the
 * service must recover by itself (health 200, sends accepted, callbacks flowing). Then the same end
 * checks as the SIGKILL drill: nothing accepted lost, no row for a refused request, credits balance.
 *
 * Always on a throwaway cluster of its own (it stops and starts it), even when DATABASE_URL is set.
 * Prints a timed log, then one line `drill:pg-restart: PASS|FAIL …`; exits 0 or 1.
 */

import { freePort } from '../../test/support/ports.js'
import { startCluster } from '../../test/support/postgres.js'
import { callbackReceiver } from '../../test/support/receiver.js'
import { errorDigest, errorLines, spawnServer, waitHealthy } from '../../test/support/server-process.js'
import { endChecks, settle, snapshot } from './checks.js'
import { Drill, DrillFailure, sleep } from './harness.js'
import { Load, type Outcome } from './load.js'
import { createKeys, openDb, seed, serverEnv } from './setup.js'

const LOAD_BEFORE_STOP_MS = 3000
const DOWN_MS = 5000
const LOAD_AFTER_RECOVERY_MS = 3000
/** Longest acceptable answer, during the outage included: a 503 must come at once, not after a hang. */
const ANSWER_BOUND_MS = 5000
const RECOVERY_BOUND_MS = 20_000
const SETTLE_DEADLINE_MS = 60_000

type Probe = { at: number; ms: number; status: number | null; body: string }

async function health(base: string): Promise<Probe> {
  const at = Date.now()
  try {
    const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(10_000) })
    return { at, ms: Date.now() - at, status: response.status, body: await response.text() }
  } catch (error) {
    return { at, ms: Date.now() - at, status: null, body: (error as Error).message }
  }
}

/** A 503 with a JSON body carrying a message (OVH style). */
const isUnavailable = (status: number | null, body: string) => {
  if (status !== 503) return false
  try {
    return typeof (JSON.parse(body) as { message?: unknown }).message === 'string'
  } catch {
    return false
  }
}

const drill = new Drill('pg-restart', 85_000)
await drill.run(async () => {
  const cluster = await startCluster()
  drill.onCleanup(() => cluster.stop())
  drill.log(`PostgreSQL: ${cluster.label} on port ${cluster.port}`)
  const handle = await openDb(cluster.url)
  drill.onCleanup(() => handle.close())
  const { db } = handle
  const rx = await callbackReceiver(drill, { maxDelayMs: 10, path: '/dlr' })
  const ownerId = await seed(handle, rx.url)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const server = spawnServer(drill, serverEnv(cluster.url, port))
  drill.diagnostics = () => server.output()
  drill.onCleanup(() => server.child.kill('SIGKILL'))
  let exited: string | null = null
  void server.exited.then((e) => {
    exited = String(e.code ?? e.signal)
  })
  const readyMs = await waitHealthy(server, base)
  drill.log(`server (pid ${server.child.pid}) healthy after ${readyMs} ms on ${base}`)
  const keys = await createKeys(base, ownerId)

  const load = new Load(base, keys, { jobsClients: 3, http2smsClients: 1, paceMs: 60, timeoutMs: 10_000 })
  load.start()
  drill.log('load started: 3 clients POST …/jobs, 1 client http2sms GET, one receiver per request')
  await sleep(LOAD_BEFORE_STOP_MS)
  const flowing = Date.now()
  while ((load.accepted().length < 50 || rx.calls.length < 20) && Date.now() - flowing < 10_000)
    await sleep(100)
  if (rx.calls.length === 0) throw new DrillFailure('no callback arrived before the stop: nothing to drill')

  // ---- down
  const stopAsked = Date.now()
  const before = { accepted: load.accepted().length, calls: rx.calls.length }
  await cluster.stopServer('fast')
  const downAt = Date.now()
  drill.log(
    `PostgreSQL stopped (fast) in ${downAt - stopAsked} ms: ${before.accepted} accepted, ${before.calls} ` +
      'callbacks received so far',
  )
  const probes: Probe[] = []
  const sendProbes: Outcome[] = []
  while (Date.now() - downAt < DOWN_MS) {
    const [h, jobs, url] = await Promise.all([health(base), load.probe('jobs'), load.probe('http2sms')])
    probes.push(h)
    sendProbes.push(jobs, url)
    await sleep(400)
  }
  const upAsked = Date.now()
  // Everything that started while the server was surely down (the clients' requests too).
  const during = load.outcomes.filter((o) => o.startedAt >= downAt && o.startedAt + o.ms <= upAsked)
  const healthOk = probes.filter((p) => isUnavailable(p.status, p.body) && p.ms <= ANSWER_BOUND_MS)
  drill.check(
    healthOk.length === probes.length && probes.length > 0,
    `/health while down: ${probes.length - healthOk.length} of ${probes.length} not a quick 503 { message }, e.g. ` +
      `${probes
        .filter((p) => !healthOk.includes(p))
        .slice(0, 2)
        .map((p) => `${p.status} in ${p.ms} ms ${p.body.slice(0, 80)}`)
        .join('; ')}`,
  )
  const badSends = during.filter((o) => !isUnavailable(o.status, o.body) || o.ms > ANSWER_BOUND_MS)
  drill.check(
    badSends.length === 0 &&
      during.some((o) => o.kind === 'jobs') &&
      during.some((o) => o.kind === 'http2sms'),
    `sending while down: ${badSends.length} of ${during.length} not a quick 503 { message }, e.g. ${badSends
      .slice(0, 2)
      .map((o) => `${o.kind} ${o.status ?? o.error} in ${o.ms} ms ${o.body.slice(0, 100)}`)
      .join('; ')}`,
  )
  const slowest = Math.max(0, ...probes.map((p) => p.ms), ...during.map((o) => o.ms))
  drill.log(
    `while down (${((upAsked - downAt) / 1000).toFixed(1)} s): /health ${probes.length} × ` +
      `${[...new Set(probes.map((p) => p.status))].join('/')}, sends ${during.length} × ` +
      `${[...new Set(during.map((o) => o.status ?? o.error))].join('/')}, slowest answer ${slowest} ms; ` +
      `e.g. ${sendProbes[0]?.status} ${sendProbes[0]?.body.slice(0, 120)}`,
  )

  if (exited !== null) throw new DrillFailure(`the server exited (${exited}) while PostgreSQL was down`)

  // ---- up again
  await cluster.startServer()
  const upAt = Date.now()
  drill.log(`PostgreSQL started again in ${upAt - upAsked} ms (same port and data folder)`)
  let healthBackMs: number | null = null
  while (Date.now() - upAt < RECOVERY_BOUND_MS) {
    const h = await health(base)
    if (h.status === 200) {
      healthBackMs = Date.now() - upAt
      break
    }
    await sleep(100)
  }
  drill.check(healthBackMs !== null, `/health not 200 within ${RECOVERY_BOUND_MS / 1000} s of the restart`)
  let firstAccepted: Outcome | undefined
  while (!firstAccepted && Date.now() - upAt < RECOVERY_BOUND_MS) {
    firstAccepted = load.outcomes.find((o) => o.accepted && o.startedAt >= upAt)
    if (!firstAccepted) await sleep(100)
  }
  const acceptedBackMs = firstAccepted ? firstAccepted.startedAt + firstAccepted.ms - upAt : null
  drill.check(
    firstAccepted !== undefined,
    `no send accepted within ${RECOVERY_BOUND_MS / 1000} s of the restart`,
  )
  // The dispatcher resumed: the first message accepted after the restart has its callbacks.
  let callbackBackMs: number | null = null
  const firstId = firstAccepted?.ids[0]
  while (firstId !== undefined && Date.now() - upAt < RECOVERY_BOUND_MS) {
    if (rx.counts.has(`${firstId}:4`)) {
      callbackBackMs = Date.now() - upAt
      break
    }
    await sleep(100)
  }
  drill.check(
    callbackBackMs !== null,
    `no callback for a message sent after the restart within ${RECOVERY_BOUND_MS / 1000} s`,
  )
  drill.log(
    `recovered by itself: /health 200 after ${healthBackMs} ms, first send accepted after ${acceptedBackMs} ms, ` +
      `its delivered callback after ${callbackBackMs} ms`,
  )

  await sleep(LOAD_AFTER_RECOVERY_MS)
  await load.stop()
  drill.log(
    `load stopped: ${load.outcomes.length} requests (${load.statusDigest()}), ${load.accepted().length} accepted ` +
      `(${load.acceptedSince(upAt)} after the restart)`,
  )
  const errors = load.outcomes.filter((o) => o.status === 500 || o.status === null)
  drill.check(
    errors.length === 0,
    `${errors.length} request(s) answered 500 or not at all, e.g. ${errors
      .slice(0, 2)
      .map((o) => `${o.kind} ${o.status ?? o.error} ${o.body.slice(0, 100)}`)
      .join('; ')}`,
  )
  const others = load.outcomes.filter(
    (o) => o.status !== null && o.status !== 500 && !o.accepted && o.status !== 503,
  )
  drill.check(
    others.length === 0,
    `${others.length} request(s) neither accepted nor 503, e.g. ${others
      .slice(0, 2)
      .map((o) => `${o.kind} ${o.status} ${o.body.slice(0, 100)}`)
      .join('; ')}`,
  )
  const slow = load.outcomes.filter((o) => o.ms > ANSWER_BOUND_MS)
  drill.check(slow.length === 0, `${slow.length} request(s) took over ${ANSWER_BOUND_MS / 1000} s`)
  drill.check(exited === null, `the server exited (${exited}) during the drill`)

  // Bounded, and within the budget (the end checks and cleanup need a few seconds).
  const settleDeadlineMs = Math.min(SETTLE_DEADLINE_MS, drill.remainingMs() - 8000)
  const settledMs = await settle(db, rx, settleDeadlineMs)
  drill.log(
    settledMs === null
      ? `NOT settled within ${settleDeadlineMs / 1000} s: ${await snapshot(db)}`
      : `settled ${settledMs} ms after the load stopped: ${await snapshot(db)}`,
  )
  drill.check(settledMs !== null, `not settled within ${settleDeadlineMs / 1000} s`)

  const refused = load.outcomes.filter((o) => o.status === 503).length
  const result = await endChecks(drill, db, rx, load, { base, keys })

  server.child.kill('SIGTERM')
  const stopped = await Promise.race([server.exited, sleep(15_000).then(() => null)])
  drill.check(stopped?.code === 0, `the server did not exit cleanly on SIGTERM (${JSON.stringify(stopped)})`)
  const logged = errorLines(server.output())
  drill.log(
    `the server logged ${logged.length} error line(s)${logged.length ? ` (the outage): ${errorDigest(server.output())}` : ''}`,
  )
  return (
    `down ${((upAt - downAt) / 1000).toFixed(1)} s: ${refused} × 503 (no row), slowest ${slowest} ms; ` +
    `back in ${healthBackMs} ms (send ${acceptedBackMs} ms, callback ${callbackBackMs} ms); ${result.summary}`
  )
})
