import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { OAuthError } from './oauth.js'

/** RFC 6749 §2.3.1: client credentials by HTTP Basic (URL-encoded parts) or in the form body. */
function clientCredentials(authorization: string | undefined, body: Record<string, string | undefined>) {
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) throw new OAuthError(401, 'invalid_client', 'Malformed Basic credentials')
    const decode = (part: string) => {
      try {
        return decodeURIComponent(part.replace(/\+/g, ' '))
      } catch {
        return part
      }
    }
    return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) }
  }
  if (body.client_id && body.client_secret)
    return { clientId: body.client_id, clientSecret: body.client_secret }
  throw new OAuthError(
    401,
    'invalid_client',
    'Send client_id and client_secret by HTTP Basic or in the form body',
  )
}

export const tokenRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { tokens } = app
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof OAuthError) {
      if (error.statusCode === 401) reply.header('www-authenticate', 'Basic realm="sms-mirror"')
      return reply.code(error.statusCode).send({ error: error.error, error_description: error.description })
    }
    const status = (error as { statusCode?: number }).statusCode
    if (status && status < 500) {
      return reply.code(400).send({ error: 'invalid_request', error_description: (error as Error).message })
    }
    throw error
  })

  app.post(
    '/auth/oauth2/token',
    {
      schema: {
        tags: ['auth'],
        security: [],
        summary: 'OAuth2 client-credentials token for a service account',
        consumes: ['application/x-www-form-urlencoded'],
        body: Type.Object({
          grant_type: Type.String({ description: 'client_credentials' }),
          scope: Type.Optional(Type.String({ maxLength: 200, description: 'all (the default)' })),
          client_id: Type.Optional(Type.String({ maxLength: 200 })),
          client_secret: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: {
          200: Type.Object({
            access_token: Type.String(),
            token_type: Type.String(),
            expires_in: Type.Integer(),
            scope: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      if (request.body.grant_type !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Only grant_type=client_credentials is supported')
      }
      const { clientId, clientSecret } = clientCredentials(request.headers.authorization, request.body)
      reply.header('cache-control', 'no-store')
      return tokens.issueToken(clientId, clientSecret, request.body.scope?.trim() || 'all')
    },
  )
}
