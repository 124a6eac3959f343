import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import { ALL_OWNERS } from '../auth/scope.js'
import { ref } from '../http/schema.js'
import { findSender } from '../senders/repository.js'
import { SenderParams } from '../senders/schema.js'
import { senderNotFound } from '../senders/service.js'
import { urlsOf } from './routes.js'
import { SenderDocument } from './schema.js'
import { listSenderDocuments, toSenderDocument } from './service.js'

/** /admin/v1: the documents a sender's validation request comes with, for the operator to read. */
export const documentAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/accounts/:serviceName/senders/:sender/documents',
    {
      schema: {
        tags: ['admin'],
        security: [{ adminToken: [] }],
        summary:
          "A sender's validation documents (their getUrl downloads each file), before enable or refuse",
        params: SenderParams,
        response: { 200: Type.Array(ref(SenderDocument)) },
      },
    },
    async (request) => {
      const account = await requireAccount(app.db, ALL_OWNERS, request.params.serviceName)
      const sender = await findSender(app.db, account.id, request.params.sender)
      if (!sender) throw senderNotFound(request.params.sender)
      const rows = await listSenderDocuments(app.db, account.id, sender.sender)
      return rows.map((row) => toSenderDocument(row, urlsOf(request, app, row)))
    },
  )
}
