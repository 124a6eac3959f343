import type { FastifyInstance } from 'fastify'
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json-depth.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The raw JSON body exactly as received (the OVH signature covers it). */
    rawBody?: string
  }
}

/** Keeps the JSON body as text beside the parsed value: signatures are computed over the raw bytes. */
export function installRawJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string
    request.rawBody = text
    if (text === '') return done(null, undefined)
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) {
      return done(
        invalidBody(`JSON nested deeper than ${MAX_JSON_DEPTH} levels; no field of this API needs as many`),
        undefined,
      )
    }
    try {
      done(null, JSON.parse(text))
    } catch {
      done(invalidBody('not valid JSON'), undefined)
    }
  })
}

function invalidBody(reason: string): Error {
  return Object.assign(new Error(`Invalid body: ${reason}`), { statusCode: 400 })
}

/**
 * OVH's Node client 3.x sends JSON bodies without a Content-Type in OAuth2 mode: on API routes a
 * body that comes with no Content-Type at all is read as JSON.
 */
export function defaultToJson(api: FastifyInstance): void {
  api.addHook('onRequest', async (request) => {
    const headers = request.headers
    if (
      headers['content-type'] === undefined &&
      (headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0')
    ) {
      headers['content-type'] = 'application/json'
    }
  })
}
