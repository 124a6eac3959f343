import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ALL_OWNERS } from '../auth/scope.js'
import { ref } from '../http/schema.js'
import { Settings } from './schema.js'
import { requireSmppAccount, smppSettings } from './service.js'

/** /admin/v1: the operator changes an smpp- account's limits (they apply from the next bind). */
export const smppAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  app.put(
    '/accounts/:serviceName/smpp',
    {
      schema: {
        tags: ['admin'],
        security: [{ adminToken: [] }],
        summary: "Change an smpp- account's window and throughput (sessions bound later get them)",
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          {
            windowing: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 10_000,
                description: 'unanswered submits per session, 1 to 10000',
              }),
            ),
            throughput: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 100_000,
                description: 'submits per second per session, 1 to 100000',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(Settings) },
      },
    },
    async (request) => {
      const { account } = await requireSmppAccount(db, ALL_OWNERS, request.params.serviceName)
      const { windowing, throughput } = request.body
      if (windowing !== undefined || throughput !== undefined) {
        await db
          .updateTable('smpp_accounts')
          .set({
            ...(windowing === undefined ? {} : { windowing }),
            ...(throughput === undefined ? {} : { throughput }),
          })
          .where('account_id', '=', account.id)
          .execute()
      }
      const { smpp } = await requireSmppAccount(db, ALL_OWNERS, request.params.serviceName)
      return smppSettings(smpp, app.config.smpp)
    },
  )
}
