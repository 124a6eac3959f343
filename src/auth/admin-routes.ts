import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { OwnerId, requireOwner } from '../accounts/admin-routes.js'

const AccessRules = Type.Array(
  Type.Unsafe<{ method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }>({ $ref: 'auth.AccessRule#' }),
  { minItems: 1, maxItems: 100, description: 'a non-empty list of access rules' },
)

/** /admin/v1 applications, consumer keys and OAuth2 service accounts; registered by the admin plugin. */
export const authAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, credentials: store, tokens } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.post(
    '/applications',
    {
      schema: {
        tags,
        security,
        summary: 'Create an API application (application key and secret) for an owner',
        body: Type.Object(
          {
            owner: OwnerId,
            name: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }),
            description: Type.Optional(Type.String({ maxLength: 255 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ applicationKey: Type.String(), applicationSecret: Type.String() }) },
      },
    },
    async (request) => {
      await requireOwner(db, request.body.owner)
      return store.createApplication(request.body.owner, request.body.name, request.body.description)
    },
  )

  app.post(
    '/credentials',
    {
      schema: {
        tags,
        security,
        summary: 'Create a validated consumer key for an application',
        body: Type.Object(
          {
            applicationKey: Type.String({ maxLength: 64 }),
            accessRules: AccessRules,
            expiration: Type.Optional(
              Type.String({ format: 'date-time', description: 'ISO-8601 date-time' }),
            ),
            allowedIPs: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ consumerKey: Type.String(), state: Type.String() }) },
      },
    },
    async (request) => {
      const { applicationKey, accessRules, expiration, allowedIPs } = request.body
      const { consumerKey } = await store.createCredential({
        applicationKey,
        accessRules,
        state: 'validated',
        expiration: expiration ? new Date(expiration) : null,
        allowedIPs: allowedIPs ?? null,
      })
      return { consumerKey, state: 'validated' }
    },
  )

  app.post(
    '/credentials/:consumerKey/validate',
    {
      schema: {
        tags,
        security,
        summary: 'Validate a consumer key requested through POST /auth/credential',
        params: Type.Object({ consumerKey: Type.String({ maxLength: 64 }) }),
        response: { 200: Type.Object({ state: Type.String() }) },
      },
    },
    async (request) => {
      await store.validate(request.params.consumerKey)
      return { state: 'validated' }
    },
  )

  app.post(
    '/service-accounts',
    {
      schema: {
        tags,
        security,
        summary: 'Create an OAuth2 service account (client credentials) for an owner',
        body: Type.Object(
          {
            owner: OwnerId,
            accessRules: AccessRules,
            name: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ clientId: Type.String(), clientSecret: Type.String() }) },
      },
    },
    async (request) => {
      await requireOwner(db, request.body.owner)
      return tokens.createServiceAccount(request.body.owner, request.body.accessRules, request.body.name)
    },
  )

  app.delete(
    '/service-accounts/:clientId',
    {
      schema: {
        tags,
        security,
        summary: 'Revoke a service account and all its tokens',
        params: Type.Object({ clientId: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Null() },
      },
    },
    async (request) => {
      await tokens.revokeServiceAccount(request.params.clientId)
      return null
    },
  )
}
