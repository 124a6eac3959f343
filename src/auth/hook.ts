import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'
import { ipAllowed } from '../fields/ip.js'
import { authError, type ResolvedCredential } from './credentials.js'
import { invalidToken } from './oauth.js'
import { isGranted, routedPath } from './rules.js'
import { candidateUrls, ovhSignature, sameSignature } from './signature.js'

declare module 'fastify' {
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

const tokenHasNoConsumerKey = (request: FastifyRequest) =>
  new ApiError(
    403,
    `${request.method} ${request.routeOptions.url} concerns the consumer key of an OVH-signed request and a bearer token has none: sign the request with your application and consumer keys (service accounts are managed under /admin/v1/service-accounts)`,
    'NOT_GRANTED_CALL',
  )

/**
 * Authentication for every /1.0 and /v1 route not marked `auth: false`: an OAuth2 bearer token of a
 * service account, or OVH's signed headers (application key, consumer key, timestamp, signature). Sets
 * `request.scope` to the credential's owner, so every query that follows sees only that owner's
 * accounts.
 */
export function installApiAuth(api: FastifyInstance, prefix: string): void {
  const { credentials: store, tokens, clock, config } = api
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
    const now = clock.now()
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
    if (!/^\d{1,12}$/.test(timestamp) || drift > config.authTimeWindowSeconds) {
      throw authError.invalidSignature(
        `X-Ovh-Timestamp is outside the allowed ±${config.authTimeWindowSeconds} s; read the server time from GET /auth/time`,
      )
    }
    const body = request.rawBody ?? ''
    const signed = candidateUrls(header(request, 'host'), request.url, config.publicUrl).some((url) =>
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
