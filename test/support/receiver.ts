import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Teardown } from './teardown.js'

export type CallbackReceiver = {
  /** The URL to give as callBack (path `/cb`, or the one asked for). */
  url: string
  /** Every call's query, in arrival order. */
  calls: URLSearchParams[]
  /** Calls by `${id}:${ptt}` of their query. */
  counts: Map<string, number>
  /** Calls received and not answered yet. */
  inFlight: () => number
  close: () => Promise<void>
}

/**
 * A callback receiver: a real HTTP server on 127.0.0.1 that answers 200 (after 0–`maxDelayMs` ms),
 * keeps every query and counts calls by SMS id and ptt. Closed at teardown.
 */
export async function callbackReceiver(
  owner: Teardown,
  { maxDelayMs = 0, path = '/cb' }: { maxDelayMs?: number; path?: string } = {},
): Promise<CallbackReceiver> {
  const calls: URLSearchParams[] = []
  const counts = new Map<string, number>()
  let inFlight = 0
  const server = http.createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams
    calls.push(query)
    const key = `${query.get('id')}:${query.get('ptt')}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    inFlight++
    request.resume()
    const answer = () => {
      inFlight--
      response.end('ok')
    }
    const delay = Math.floor(Math.random() * (maxDelayMs + 1))
    if (delay === 0) answer()
    else setTimeout(answer, delay)
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  owner.teardown(close)
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}${path}`, calls, counts, inFlight: () => inFlight, close }
}
