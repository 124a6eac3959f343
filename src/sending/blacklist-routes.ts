import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import type { AppDeps } from '../deps.js'
import { notFound } from '../errors.js'
import { nullable, ref, ServiceNameParam, Void } from '../schema-helpers.js'
import { parseInternational } from '../validation.js'
import { ovhDateTime } from './schema.js'

export const Blacklist = Type.Object(
  {
    batchID: nullable(Type.String({ format: 'uuid' })),
    dateCreation: Type.String({ format: 'date-time' }),
    number: Type.String(),
    smsOutgoingID: nullable(Type.Integer()),
  },
  { $id: 'sms.Blacklist', additionalProperties: false },
)

/** Numbers written 0033… or with spaces still find their E.164 entry. */
const e164 = (value: string) => parseInternational(value)?.number ?? value

/** GET/DELETE /sms/{serviceName}/blacklists[/{number}]: numbers that answered STOP. */
export const blacklistRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  const { db } = deps.database
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
      let query = db.selectFrom('blacklist').select('number').where('account_id', '=', account.id)
      if (request.query.batchID) query = query.where('batch_id', '=', request.query.batchID)
      if (request.query.smsOutgoingID !== undefined) {
        query = query.where('sms_outgoing_id', '=', request.query.smsOutgoingID)
      }
      return (await query.orderBy('number').execute()).map((r) => r.number)
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
      const row = await db
        .selectFrom('blacklist')
        .selectAll()
        .where('account_id', '=', account.id)
        .where('number', '=', e164(request.params.number))
        .executeTakeFirst()
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
      const deleted = await db
        .deleteFrom('blacklist')
        .where('account_id', '=', account.id)
        .where('number', '=', e164(request.params.number))
        .executeTakeFirst()
      if (deleted.numDeletedRows === 0n) {
        throw notFound(`The requested object (number = ${request.params.number}) does not exist`)
      }
      return null
    },
  )
}
