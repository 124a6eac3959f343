import { applyStatusReports } from '../../src/sending/status.js'
import type { ThrowawayDatabase } from '../../test/support/postgres.js'
import { openDb, sleep, wallMs } from './setup.js'

/**
 * Child process of bench:dlr: applies ptt 4 / DLR 1 to the given submitted outgoing rows at a steady
 * rate, each in its own transaction (as the carrier worker does), on its own connections, so that the
 * app under test keeps the parent's event loop. Answers when each change committed (wall clock,
 * comparable with the receiver's), the failures and the worst lag behind the schedule.
 */
export type GeneratorTask = {
  database: Pick<ThrowawayDatabase, 'url' | 'searchPath' | 'label'>
  ids: number[]
  rate: number
}
export type GeneratorResult = {
  committed: [number, number][]
  failures: number
  maxLagMs: number
  generationS: number
}

process.once('message', (message) => {
  void run(message as GeneratorTask).then(
    (result) => process.send?.(result, () => process.disconnect()),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
})

async function run(task: GeneratorTask): Promise<GeneratorResult> {
  const { handle } = await openDb({ ...task.database, stop: async () => {} }, 40)
  const db = handle.db
  const committed: [number, number][] = []
  let failures = 0
  const change = async (id: number) => {
    try {
      await db.transaction().execute(async (trx) => {
        const changes = await applyStatusReports(trx, [{ outgoingId: id, ptt: 4, dlr: 1 }], new Date())
        if (changes.length === 0) throw new Error(`outgoing ${id} missing or already final`)
      })
      committed.push([id, wallMs()])
    } catch {
      failures++
    }
  }
  const interval = 1000 / task.rate
  const inFlight = new Set<Promise<void>>()
  let maxLagMs = 0
  const t0 = wallMs()
  for (const [i, id] of task.ids.entries()) {
    const due = t0 + i * interval
    const wait = due - wallMs()
    if (wait > 1) await sleep(wait)
    maxLagMs = Math.max(maxLagMs, wallMs() - due)
    while (inFlight.size >= 40) await Promise.race(inFlight)
    const p = change(id).finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  const generationS = (wallMs() - t0) / 1000
  await handle.close()
  return { committed, failures, maxLagMs, generationS }
}
