import autocannon, { type Request, type RequestSpec } from 'autocannon'
import { nowSeconds, receiverFor, signedHeaders } from '../../test/support/signing.js'
import type { LoadResult, LoadSpec } from './load.js'

/** Child process of runLoad: one autocannon run, its summary sent back over IPC. */
process.once('message', (message) => {
  void run(message as LoadSpec).then(
    (result) => {
      // Exits once the summary is handed over: runLoad resolves on this process's exit, and a socket or
      // timer left open by the run must not keep it (and the bench) waiting.
      process.send?.(result, () => process.exit(0))
    },
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
})

async function run(spec: LoadSpec): Promise<LoadResult> {
  const pattern = spec.accept?.bodyPattern ? new RegExp(spec.accept.bodyPattern) : null
  let accepted = 0
  let sampleRejected: string | undefined
  const request: RequestSpec = {
    method: spec.method ?? 'GET',
    path: spec.path,
    headers: spec.headers ?? {},
    onResponse: (status, body) => {
      if (!spec.accept) return
      if (status === spec.accept.status && (!pattern || pattern.test(body))) accepted++
      else sampleRejected ??= `${status} ${body.slice(0, 300)}`
    },
  }
  const vary = spec.vary
  let n = vary?.firstReceiver ?? 0
  if (vary?.kind === 'jobs') {
    let nextPath = 0
    request.setupRequest = (req: Request) => {
      const path = vary.paths ? (vary.paths[nextPath++ % vary.paths.length] as string) : spec.path
      const body = JSON.stringify({ ...vary.body, receivers: [receiverFor(n++)] })
      return {
        ...req,
        path,
        body,
        headers: {
          ...req.headers,
          ...signedHeaders(vary.keys, 'POST', path, body, nowSeconds(), vary.host),
          'content-type': 'application/json',
        },
      }
    }
  } else if (vary?.kind === 'http2sms') {
    request.setupRequest = (req: Request) => {
      const query = new URLSearchParams({ ...vary.query, to: receiverFor(n++) })
      return { ...req, path: `${spec.path}?${query}` }
    }
  }
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 30,
    requests: [request],
  })
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    accepted,
    acceptedPerSecond: accepted / result.duration,
    durationS: result.duration,
    ...(sampleRejected ? { sampleRejected } : {}),
  }
}
