import type { Dispatcher } from 'undici'

/** What a callback's receiver answered: its status and, for retries, its Retry-After header. */
export type Answer = { statusCode: number; retryAfter: string | undefined }

/** A call in flight: aborting it ends it with `reason` (when it has not already ended). */
export type Call = { answer: Promise<Answer>; abort(reason: Error): void }

const BODY_LIMIT = 64 * 1024

/**
 * One GET through undici's dispatch API, with a handler of our own instead of `request()`: no
 * AbortController, AbortSignal, event listener or body stream per call (a third of the dispatcher's
 * own CPU per call in bench:dlr's profile went to the signal alone). The body is read and dropped,
 * as `body.dump()` did: past 64 KiB the connection is dropped and the status still counts, as it
 * does when the body fails or times out. The total bound is the caller's (see
 * CallbackDispatcher.abortAfter), through `abort`.
 */
export function callOnce(
  agent: Dispatcher,
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
): Call {
  let abortNow: ((reason: Error) => void) | null = null
  let pending: Error | null = null
  let statusCode = 0
  let retryAfter: string | undefined
  let received = 0
  let truncated = false
  let settle: (answer: Answer) => void = () => {}
  let fail: (error: Error) => void = () => {}
  const answer = new Promise<Answer>((resolve, reject) => {
    settle = resolve
    fail = reject
  })
  const handler: Dispatcher.DispatchHandler = {
    onConnect(abort) {
      abortNow = abort
      if (pending) abort(pending)
    },
    onHeaders(status, rawHeaders) {
      statusCode = status
      // The raw pairs are scanned instead of building a headers object; the first one counts.
      for (let i = 0; i + 1 < rawHeaders.length && retryAfter === undefined; i += 2) {
        const name = rawHeaders[i]
        if (name?.length === 11 && name.toString('latin1').toLowerCase() === 'retry-after')
          retryAfter = rawHeaders[i + 1]?.toString('latin1')
      }
      return true
    },
    onData(chunk) {
      received += chunk.length
      if (received > BODY_LIMIT && !truncated) {
        truncated = true
        abortNow?.(new Error('callback answer body over 64 KiB'))
      }
      return true
    },
    onComplete() {
      settle({ statusCode, retryAfter })
    },
    onError(error) {
      // Once the status is in, it counts whatever happens to the body (as dump()'s errors did not).
      if (statusCode > 0) settle({ statusCode, retryAfter })
      else fail(error)
    },
  }
  agent.dispatch(
    {
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headers,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    },
    handler,
  )
  return {
    answer,
    abort(reason) {
      if (abortNow) abortNow(reason)
      else {
        // Not sent yet (waiting for a connection): it never will be, and it ends now.
        pending = reason
        fail(reason)
      }
    },
  }
}
