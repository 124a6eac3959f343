// Preloaded into a spawned server (`NODE_OPTIONS=--import=<this module>`, see heapProbeEnv) by the tests
// that measure its memory. Every HEAP_PROBE_MS it runs a full garbage collection and appends the live
// heap (`heapUsed` after that collection) and the RSS, in bytes, to HEAP_PROBE_FILE as
// `<ms since epoch> <live heap> <rss>` lines. A heap V8 lets grow before it collects (garbage)
// then no longer reads as memory the server holds: what is measured is what it keeps.
import { appendFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const file = process.env.HEAP_PROBE_FILE
if (file) {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const every = Number(process.env.HEAP_PROBE_MS ?? 100)
  setInterval(() => {
    gc()
    const { heapUsed, rss } = process.memoryUsage()
    appendFileSync(file, `${Date.now()} ${heapUsed} ${rss}\n`)
  }, every).unref()
}
