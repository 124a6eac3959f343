import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { OwnerId } from '../accounts/admin-routes.js'
import { notFound } from '../errors.js'
import { ref } from '../http/schema.js'
import { OwnerIdentity, RefuseBody, Sender, SenderParams } from './schema.js'
import { enableSender, setSenderValidation } from './service.js'

/** /admin/v1 sender validation; registered inside adminRoutes, whose hook checks ADMIN_TOKEN. */
export const senderAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.post(
    '/accounts/:serviceName/senders/:sender/enable',
    {
      schema: {
        tags,
        security,
        summary:
          'Validate a sender: it becomes enable (from waitingValidation, refused or disable; created first when the account never requested it)',
        params: SenderParams,
        response: { 200: ref(Sender) },
      },
    },
    (request) => enableSender(db, app.clock, request.params.serviceName, request.params.sender),
  )

  app.post(
    '/accounts/:serviceName/senders/:sender/refuse',
    {
      schema: {
        tags,
        security,
        summary: 'Refuse a sender: it becomes refused, with the comment given',
        params: SenderParams,
        body: RefuseBody,
        response: { 200: ref(Sender) },
      },
      // The comment is optional, so is the whole body (curl -X POST with nothing).
      preValidation: async (request) => {
        request.body ??= {}
      },
    },
    (request) =>
      setSenderValidation(db, request.params.serviceName, request.params.sender, {
        status: 'refused',
        comment: request.body.comment ?? null,
      }),
  )

  app.put(
    '/owners/:owner/identity',
    {
      schema: {
        tags,
        security,
        summary:
          "Set an owner's nic handle and domain names: the senders they prove are listed by sendersAvailableForValidation and enabled when requested",
        params: Type.Object({ owner: OwnerId }),
        body: OwnerIdentity,
        response: { 200: OwnerIdentity },
      },
    },
    async (request) => {
      const domains = [...new Set(request.body.domains.map((domain) => domain.toLowerCase()))]
      const updated = await db
        .updateTable('owners')
        .set({ nichandle: request.body.nichandle, domains: domains.join('\n') })
        .where('id', '=', request.params.owner)
        .returning(['nichandle', 'domains'])
        .executeTakeFirst()
      if (!updated) throw notFound(`The owner ${request.params.owner} does not exist`)
      return { nichandle: updated.nichandle, domains }
    },
  )
}
