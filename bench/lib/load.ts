import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Keys } from '../../test/support/signing.js'

/**
 * Load generation runs autocannon in a child process, so the server under test keeps this
 * process's event loop (and one of the two cores) to itself.
 */

/** How each request differs from the previous one (autocannon's setupRequest, in the child). */
export type Vary =
  /** A signed JSON POST whose body gets `receivers: [one new number]`. */
  | {
      kind: 'jobs'
      keys: Keys
      host: string
      body: Record<string, unknown>
      firstReceiver: number
      /** Paths to use in turn instead of `path` (e.g. other users' jobs). */
      paths?: string[]
    }
  /** A GET whose query gets `to=<one new number>`. */
  | { kind: 'http2sms'; query: Record<string, string>; firstReceiver: number }

export type LoadSpec = {
  /** http://127.0.0.1:port */
  url: string
  path: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  connections: number
  durationS: number
  vary?: Vary
  /** What counts as accepted: this status and a body matching this regular expression. */
  accept?: { status: number; bodyPattern?: string }
}

export type LoadResult = {
  requests: number
  rps: number
  p50: number
  p99: number
  non2xx: number
  errors: number
  timeouts: number
  accepted: number
  acceptedPerSecond: number
  durationS: number
  /** One body that did not count as accepted, to say why. */
  sampleRejected?: string
}

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url))

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let result: LoadResult | undefined
    child.on('message', (message) => {
      result = message as LoadResult
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (result) resolve(result)
      else reject(new Error(`load generator exited with ${code} and no result`))
    })
    child.send(spec)
  })
}
