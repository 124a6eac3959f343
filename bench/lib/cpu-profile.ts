/**
 * BENCH_CPU_PROF=DIR: a V8 CPU profile of this process over the measured part of a bench only
 * (`node --cpu-prof` also profiles start-up, initdb and the bare peer), written to
 * DIR/NAME-<time>.cpuprofile; read it with `npx tsx bench/lib/profile-top.ts FILE`.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

export async function startCpuProfile(name: string): Promise<{ stop(): Promise<void> }> {
  const dir = process.env.BENCH_CPU_PROF
  if (!dir) return { stop: async () => {} }
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      mkdirSync(dir, { recursive: true })
      const file = join(dir, `${name}-${Date.now()}.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
      console.log(`CPU profile of the measured part: ${file}`)
    },
  }
}
