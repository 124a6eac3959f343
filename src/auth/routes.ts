import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { nullable, Void } from '../http/schema.js'
import { authError } from './credentials.js'

export const AccessRuleSchema = Type.Object(
  {
    method: Type.Enum(['GET', 'POST', 'PUT', 'DELETE'], { description: 'one of GET, POST, PUT, DELETE' }),
    path: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'a path such as /sms/* (* matches the rest)',
    }),
  },
  { $id: 'auth.AccessRule', additionalProperties: false },
)
const AccessRules = Type.Array(
  Type.Unsafe<{ method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }>({ $ref: 'auth.AccessRule#' }),
  {
    minItems: 1,
    maxItems: 100,
    description: 'a non-empty list of access rules',
  },
)

export const authModels = [AccessRuleSchema]

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)

export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const store = app.credentials
  const tags = ['auth']

  app.get(
    '/auth/time',
    {
      config: { auth: false },
      schema: {
        security: [],
        tags,
        summary: 'Current server time (Unix seconds), used by clients to sign requests',
        response: { 200: Type.Integer() },
      },
    },
    async () => Math.floor(app.clock.now().getTime() / 1000),
  )

  app.post(
    '/auth/credential',
    {
      config: { auth: false },
      schema: {
        security: [],
        tags,
        summary: 'Request a consumer key (needs only X-Ovh-Application); an administrator validates it',
        body: Type.Object(
          {
            accessRules: AccessRules,
            redirection: Type.Optional(nullable(Type.String({ maxLength: 2048 }))),
            allowedIPs: Type.Optional(
              Type.Unsafe<string[] | null>({
                type: ['array', 'null'],
                maxItems: 100,
                items: { type: 'string', maxLength: 64 },
                description: 'IP addresses or CIDR blocks the key may be used from',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            consumerKey: Type.String(),
            state: Type.String(),
            validationUrl: Type.String(),
          }),
        },
      },
    },
    async (request) => {
      const applicationKey = header(request.headers['x-ovh-application'])
      if (!applicationKey) throw authError.loginFirst()
      const { consumerKey, validationToken } = await store.createCredential({
        applicationKey,
        accessRules: request.body.accessRules,
        state: 'pendingValidation',
        allowedIPs: request.body.allowedIPs ?? null,
        redirection: request.body.redirection ?? null,
      })
      const base = app.config.publicUrl ?? `${request.protocol}://${request.host}`
      return {
        consumerKey,
        state: 'pendingValidation',
        validationUrl: `${base}/auth/validation?credentialToken=${validationToken}`,
      }
    },
  )

  app.get(
    '/auth/currentCredential',
    {
      config: { ownCredential: true },
      schema: {
        tags,
        summary: 'The credential (consumer key) of this request',
        response: {
          200: Type.Object({
            allowedIPs: Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' } }),
            applicationId: Type.Integer(),
            creation: Type.String({ format: 'date-time' }),
            credentialId: Type.Integer(),
            expiration: nullable(Type.String({ format: 'date-time' })),
            lastUse: nullable(Type.String({ format: 'date-time' })),
            ovhSupport: Type.Boolean(),
            rules: AccessRules,
            status: Type.String(),
          }),
        },
      },
    },
    async (request) => {
      const c = request.credential!
      return {
        allowedIPs: c.allowedIps,
        applicationId: c.applicationId,
        creation: c.createdAt.toISOString(),
        credentialId: c.credentialId,
        expiration: c.expiresAt?.toISOString() ?? null,
        lastUse: c.lastUse?.toISOString() ?? null,
        ovhSupport: false,
        rules: c.rules,
        status: c.state,
      }
    },
  )

  app.post(
    '/auth/logout',
    {
      config: { ownCredential: true },
      schema: { tags, summary: 'Revoke the consumer key of this request', response: { 200: Void } },
    },
    async (request) => {
      await store.revoke(header(request.headers['x-ovh-consumer']) as string)
      return null
    },
  )
}
