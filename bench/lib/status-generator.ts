import { createServer } from 'node:http'
import { applyStatusReports } from '../../src/sending/status.js'
import type { ThrowawayDatabase } from '../../test/support/postgres.js'
import { openDb, sleep } from './setup.js'

/**
 * Child process of bench:dlr's latency part: it both makes the status changes and receives their
 * callbacks, so both ends are timed by one clock (this process's monotonic `performance.now()`), and
 * the app under test keeps the parent's event loop.
 * - A keep-alive HTTP receiver (the account's callBack) notes when each callback arrives, by `id`.
 * - Status changes (ptt 4 / DLR 1 of submitted rows) at a steady rate, in batches as a carrier's
 *   receipts come (every TICK_MS, the changes then due in one transaction, several transactions in
 *   flight), each change timed when its transaction sends COMMIT: nothing can be called back before
 *   that, so no latency is negative (it includes the commit itself).
 * IPC: sends {port} once listening; takes one GeneratorTask; answers a GeneratorResult once every
 * callback arrived (or WAIT_MS after the last commit).
 */
export type GeneratorTask = {
  database: Pick<ThrowawayDatabase, 'url' | 'searchPath' | 'label'>
  ids: number[]
  rate: number
}
export type GeneratorResult = {
  /** [outgoing id, ms at COMMIT, ms at the first callback or null] on this process's clock. */
  changes: [number, number, number | null][]
  failures: number
  /** The most changes applied by one transaction. */
  largestBatch: number
  maxLagMs: number
  generationS: number
  callbacks: number
}

const TICK_MS = 10
const IN_FLIGHT = 4
const WAIT_MS = 20_000

const arrived = new Map<number, number>()
let callbacks = 0
let onArrival: (() => void) | null = null
const server = createServer((request, response) => {
  const at = performance.now()
  callbacks++
  const id = Number(new URLSearchParams(request.url?.split('?')[1] ?? '').get('id'))
  if (Number.isFinite(id) && !arrived.has(id)) arrived.set(id, at)
  onArrival?.()
  request.resume()
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
  response.end('ok')
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 61_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 })
})

process.once('message', (message) => {
  void run(message as GeneratorTask).then(
    (result) =>
      process.send?.(result, () => {
        server.close()
        server.closeAllConnections()
        process.disconnect()
      }),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
})

async function run(task: GeneratorTask): Promise<GeneratorResult> {
  const { handle } = await openDb({ ...task.database, stop: async () => {} }, IN_FLIGHT + 2)
  const db = handle.db
  const committedAt = new Map<number, number>()
  let failures = 0
  let largestBatch = 0
  const apply = async (ids: number[]) => {
    try {
      let sending = 0
      await db.transaction().execute(async (trx) => {
        const changes = await applyStatusReports(
          trx,
          ids.map((outgoingId) => ({ outgoingId, ptt: 4, dlr: 1 })),
          new Date(),
        )
        if (changes.length !== ids.length)
          throw new Error(`${ids.length - changes.length} rows missing or final`)
        sending = performance.now()
      })
      for (const id of ids) committedAt.set(id, sending)
      largestBatch = Math.max(largestBatch, ids.length)
    } catch {
      failures += ids.length
    }
  }
  const inFlight = new Set<Promise<void>>()
  let maxLagMs = 0
  let next = 0
  const t0 = performance.now()
  while (next < task.ids.length) {
    const due = Math.min(task.ids.length, Math.floor(((performance.now() - t0) * task.rate) / 1000) + 1)
    if (due > next) {
      // How late the oldest change of this batch starts behind its schedule.
      maxLagMs = Math.max(maxLagMs, performance.now() - (t0 + (next * 1000) / task.rate))
      while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
      const batch = task.ids.slice(next, due)
      next = due
      const p = apply(batch).finally(() => inFlight.delete(p))
      inFlight.add(p)
    }
    await sleep(TICK_MS)
  }
  await Promise.all(inFlight)
  const generationS = (performance.now() - t0) / 1000
  await handle.close()
  const deadline = performance.now() + WAIT_MS
  while ([...committedAt.keys()].some((id) => !arrived.has(id)) && performance.now() < deadline) {
    await new Promise<void>((resolve) => {
      onArrival = resolve
      setTimeout(resolve, 100)
    })
    onArrival = null
  }
  return {
    changes: [...committedAt].map(([id, at]) => [id, at, arrived.get(id) ?? null]),
    failures,
    largestBatch,
    maxLagMs,
    generationS,
    callbacks,
  }
}
