import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ALL_OWNERS } from '../auth/scope.js'
import { ref, ServiceNameParam, Void } from '../http/schema.js'
import { sendMessages } from '../sending/service.js'
import {
  Sender,
  SenderAvailable,
  SenderCreate,
  SenderParams,
  SenderRefererEnum,
  SenderUpdate,
  ValidateBody,
} from './schema.js'
import { createSender, getSender, listSenders, removeSender, updateSenderSettings } from './service.js'
import { availableSenders, validateSender } from './validation.js'

export const senderRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['sms senders']
  const ServiceParams = Type.Object({ serviceName: ServiceNameParam })

  app.get(
    '/sms/:serviceName/senders',
    {
      schema: {
        tags,
        summary: 'Sender names of the account',
        params: ServiceParams,
        response: { 200: Type.Array(Type.String()) },
      },
    },
    (request) => listSenders(db, request.scope, request.params.serviceName),
  )

  app.post(
    '/sms/:serviceName/senders',
    {
      schema: {
        tags,
        summary: 'Request a new sender (waits for validation)',
        params: ServiceParams,
        body: SenderCreate,
        response: { 200: Type.String({ description: 'the name of the requested sender' }) },
      },
    },
    async (request, reply) => {
      const name = await createSender(
        db,
        app.clock,
        request.scope,
        request.params.serviceName,
        request.body,
        // The code goes out like any SMS of the account (priced, charged, through the carrier),
        // from its default sender or else a short code (senderForResponse), without STOP mention.
        (serviceName, number, message) =>
          sendMessages(
            app.sending,
            { scope: ALL_OWNERS, serviceName, login: null },
            {
              message,
              receivers: [number],
              noStopClause: true,
              senderForResponse: true,
              tag: 'senderValidation',
            },
          ),
      )
      // Fastify sends a string payload as is: serialise it so clients get a JSON string.
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(name))
    },
  )

  app.get(
    '/sms/:serviceName/senders/:sender',
    {
      schema: { tags, summary: 'Read a sender', params: SenderParams, response: { 200: ref(Sender) } },
    },
    (request) => getSender(db, request.scope, request.params.serviceName, request.params.sender),
  )

  app.put(
    '/sms/:serviceName/senders/:sender',
    {
      schema: {
        tags,
        summary: 'Change a sender’s description, or disable/re-enable it (only the fields sent change)',
        params: SenderParams,
        body: SenderUpdate,
        response: { 200: Void },
      },
    },
    async (request) => {
      const { serviceName, sender } = request.params
      await updateSenderSettings(db, request.scope, serviceName, sender, request.body)
      return null
    },
  )

  app.post(
    '/sms/:serviceName/senders/:sender/validate',
    {
      schema: {
        tags,
        summary: 'Validate a numeric sender with the code it was sent by SMS when it was requested',
        params: SenderParams,
        body: ValidateBody,
        response: { 200: Void },
      },
    },
    (request) =>
      validateSender(
        db,
        app.clock,
        request.scope,
        request.params.serviceName,
        request.params.sender,
        request.body.code,
      ),
  )

  app.get(
    '/sms/:serviceName/sendersAvailableForValidation',
    {
      schema: {
        tags,
        summary:
          'Senders your nic handle and domain names prove, not requested yet: requested, they are enabled at once',
        params: ServiceParams,
        querystring: Type.Object({
          referer: Type.Optional(ref(SenderRefererEnum, { description: 'domain or nichandle' })),
        }),
        response: { 200: Type.Array(ref(SenderAvailable)) },
      },
    },
    (request) => availableSenders(db, request.scope, request.params.serviceName, request.query.referer),
  )

  app.delete(
    '/sms/:serviceName/senders/:sender',
    {
      schema: { tags, summary: 'Delete a sender', params: SenderParams, response: { 200: Void } },
    },
    async (request) => {
      await removeSender(db, request.scope, request.params.serviceName, request.params.sender)
      return null
    },
  )
}
