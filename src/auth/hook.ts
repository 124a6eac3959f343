import type { FastifyInstance, FastifyRequest } from 'fastify'
import ipaddr from 'ipaddr.js'
import type { AppDeps } from '../deps.js'
import { ApiError } from '../errors.js'
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../json-depth.js'
import { authError, type CredentialStore, type ResolvedCredential } from './credentials.js'
import { invalidToken, type TokenStore } from './oauth.js'
import { isGranted, routedPath } from './rules.js'
import { candidateUrls, ovhSignature, sameSignature } from './signature.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The raw JSON body exactly as received (the OVH signature covers it). */
    rawBody?: string
    /** The consumer key's credential, on signed requests. */
    credential?: ResolvedCredential
  }
  interface FastifyContextConfig {
    /** false: the route answers without authentication (GET /auth/time, POST /auth/credential). */
    auth?: boolean
    /**
     * true: the route reads or revokes the consumer key that signed the request
     * (/auth/currentCredential, /auth/logout), which any consumer key may do whatever its rules.
     */
    ownCredential?: boolean
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
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

export function ipAllowed(ip: string, blocks: readonly string[]): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6
  try {
    address = ipaddr.process(ip)
  } catch {
    return false
  }
  return blocks.some((block) => {
    try {
      const [range, bits] = block.includes('/') ? ipaddr.parseCIDR(block) : [ipaddr.process(block), -1]
      const candidate = range.kind() === address.kind() ? address : null
      if (!candidate) return false
      return bits === -1 ? candidate.toString() === range.toString() : candidate.match(range, bits)
    } catch {
      return false
    }
  })
}

const tokenHasNoConsumerKey = (request: FastifyRequest) =>
  new ApiError(
    403,
    `${request.method} ${request.routeOptions.url} concerns the consumer key of an OVH-signed request and a bearer token has none: sign the request with your application and consumer keys (service accounts are managed under /admin/v1/service-accounts)`,
    'NOT_GRANTED_CALL',
  )

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

/**
 * Authentication for every /1.0 and /v1 route not marked `auth: false`: an OAuth2 bearer token of a
 * service account, or OVH's signed headers (application key, consumer key, timestamp, signature). Sets
 * `request.scope` to the credential's owner, so every query that follows sees only that owner's
 * accounts.
 */
export function installApiAuth(
  api: FastifyInstance,
  deps: AppDeps,
  store: CredentialStore,
  tokens: TokenStore,
  prefix: string,
) {
  const grant = (request: FastifyRequest, rules: ResolvedCredential['rules'], ownerId: number) => {
    const route = request.routeOptions.url ?? ''
    const params = request.params as Record<string, string | undefined>
    // Every route of this plugin carries the prefix; anything else fails closed.
    if (
      !route.startsWith(prefix) ||
      !isGranted(rules, request.method, routedPath(route.slice(prefix.length), params))
    )
      throw authError.notGranted()
    request.scope = { ownerId }
  }

  api.addHook('preValidation', async (request) => {
    if (request.routeOptions.config.auth === false) return
    const authorization = header(request, 'authorization')
    if (authorization?.startsWith('Bearer ')) {
      const token = await tokens.resolve(authorization.slice(7).trim())
      if (!token) throw invalidToken()
      if (request.routeOptions.config.ownCredential) throw tokenHasNoConsumerKey(request)
      grant(request, token.rules, token.ownerId)
      return
    }
    const applicationKey = header(request, 'x-ovh-application')
    const consumerKey = header(request, 'x-ovh-consumer')
    const timestamp = header(request, 'x-ovh-timestamp')
    const signature = header(request, 'x-ovh-signature')
    if (!applicationKey || !consumerKey || !timestamp || !signature) throw authError.loginFirst()

    const application = await store.application(applicationKey)
    if (!application) throw authError.invalidKey()
    const credential = await store.credential(consumerKey)
    const now = deps.clock.now()
    if (
      !credential ||
      credential.applicationId !== application.id ||
      credential.state !== 'validated' ||
      (credential.expiresAt && credential.expiresAt.getTime() <= now.getTime())
    ) {
      throw authError.invalidCredential()
    }
    if (credential.allowedIps && !ipAllowed(request.ip, credential.allowedIps))
      throw authError.invalidCredential()

    const seconds = Number(timestamp)
    const drift = Math.abs(Math.floor(now.getTime() / 1000) - seconds)
    if (!/^\d{1,12}$/.test(timestamp) || drift > deps.config.authTimeWindowSeconds) {
      throw authError.invalidSignature(
        `X-Ovh-Timestamp is outside the allowed ±${deps.config.authTimeWindowSeconds} s; read the server time from GET /auth/time`,
      )
    }
    const body = request.rawBody ?? ''
    const signed = candidateUrls(header(request, 'host'), request.url, deps.config.publicUrl).some((url) =>
      sameSignature(
        ovhSignature(application.secret, consumerKey, request.method, url, body, timestamp),
        signature,
      ),
    )
    if (!signed) throw authError.invalidSignature()

    if (request.routeOptions.config.ownCredential) request.scope = { ownerId: credential.ownerId }
    else grant(request, credential.rules, credential.ownerId)
    request.credential = credential
  })
}
