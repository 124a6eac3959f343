import type { FastifyInstance } from 'fastify'
import { ApiError } from '../errors.js'

/**
 * A request target never carries a fragment (RFC 9112 §3.2). The router ends the path at a raw `#`
 * and reads what follows as the query string, so one that arrives is refused before anything else
 * reads the target differently (access rules, signature, log redaction).
 */
export function refuseFragments(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (request.url.includes('#'))
      throw new ApiError(
        400,
        'Invalid URL: the request target contains "#"; send # inside a path or query value as %23, and drop any fragment',
      )
  })
}
