import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import { notFound } from '../errors.js'
import { normaliseNumber } from '../fields/phone.js'
import { ovhDateTime, ref, ServiceNameParam, Void } from '../http/schema.js'
import { findBlacklisted, listBlacklisted, removeFromBlacklist } from './repository.js'
import { Blacklist } from './schema.js'

/** GET/DELETE /sms/{serviceName}/blacklists[/{number}]: numbers that answered STOP. */
export const blacklistRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['sms']
  const Params = Type.Object({ serviceName: ServiceNameParam })
  const NumberParams = Type.Object({ serviceName: ServiceNameParam, number: Type.String({ maxLength: 32 }) })

  app.get(
    '/sms/:serviceName/blacklists',
    {
      schema: {
        tags,
        summary: 'Numbers that replied STOP (they receive nothing more)',
        params: Params,
        querystring: Type.Object({
          batchID: Type.Optional(Type.String({ format: 'uuid', description: 'a batch UUID' })),
          smsOutgoingID: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: Number.MAX_SAFE_INTEGER,
              description: 'an outgoing SMS id (positive integer)',
            }),
          ),
        }),
        response: { 200: Type.Array(Type.String()) },
      },
    },
    async (request) => {
      const account = await requireAccount(db, request.scope, request.params.serviceName)
      return listBlacklisted(db, account.id, request.query)
    },
  )

  app.get(
    '/sms/:serviceName/blacklists/:number',
    {
      schema: {
        tags,
        summary: 'One blacklisted number',
        params: NumberParams,
        response: { 200: ref(Blacklist) },
      },
    },
    async (request) => {
      const account = await requireAccount(db, request.scope, request.params.serviceName)
      const row = await findBlacklisted(db, account.id, normaliseNumber(request.params.number))
      if (!row) throw notFound(`The requested object (number = ${request.params.number}) does not exist`)
      return {
        batchID: row.batch_id,
        dateCreation: ovhDateTime(row.created_at),
        number: row.number,
        smsOutgoingID: row.sms_outgoing_id,
      }
    },
  )

  app.delete(
    '/sms/:serviceName/blacklists/:number',
    {
      schema: {
        tags,
        summary: 'Let a blacklisted number receive SMS again',
        params: NumberParams,
        response: { 200: Void },
      },
    },
    async (request) => {
      const account = await requireAccount(db, request.scope, request.params.serviceName)
      if (!(await removeFromBlacklist(db, account.id, normaliseNumber(request.params.number)))) {
        throw notFound(`The requested object (number = ${request.params.number}) does not exist`)
      }
      return null
    },
  )
}
