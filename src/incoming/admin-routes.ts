import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import { ALL_OWNERS } from '../auth/scope.js'
import { ref } from '../http/schema.js'
import { receiveIncoming } from './receive.js'
import { Incoming } from './schema.js'
import { toIncoming } from './service.js'

/** /admin/v1 injection of a received SMS, as a carrier would deliver it; registered by the admin plugin. */
export const incomingAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.post(
    '/accounts/:serviceName/incoming',
    {
      schema: {
        tags,
        security,
        summary: 'Inject a received SMS (a reply) into an account, as a carrier would',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          {
            sender: Type.String({
              maxLength: 32,
              description: 'an international number such as +33601020304',
            }),
            message: Type.String({ minLength: 1, maxLength: 5000, description: '1 to 5000 characters' }),
            tag: Type.Optional(Type.String({ maxLength: 20, description: 'at most 20 characters' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(Incoming) },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      const incoming = await receiveIncoming(db, account.id, request.body, app.clock.now(), {
        write: app.sending.write,
        log: (what, detail) => request.log.info(detail, what),
      })
      app.sendingWorker?.nudge()
      app.callbackDispatcher?.nudge()
      return toIncoming(incoming)
    },
  )
}
