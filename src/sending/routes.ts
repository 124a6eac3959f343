import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { sendJsonList } from '../db/json-list.js'
import { DateTimeFilter, IntFilter, ref, TextFilter, Void } from '../http/schema.js'
import { numbersOfCsv } from '../receivers/csv.js'
import { fetchCsv, slotNumbers } from '../receivers/service.js'
import { toHlr, toJob, toOutgoing } from './history.js'
import { Hlr, Job, JobBody, Outgoing, SmsSendingReport } from './schema.js'
import { cancelJob, deleteOutgoing, getOutgoing, listOutgoing, sendMessages } from './service.js'
import { levelRoutes } from './target.js'

/** Filters of GET {S}/users/{login}/outgoing; the account-level list has more (mirroring OVH). */
const userOutgoingFilters = {
  deliveryReceipt: IntFilter('DLR id'),
  differedDelivery: IntFilter('deferral in minutes'),
  ptt: IntFilter('ptt code'),
  receiver: TextFilter('receiver number'),
  sender: TextFilter('sender'),
  tag: TextFilter('tag'),
}
const accountOutgoingFilters = {
  ...userOutgoingFilters,
  batchID: Type.Optional(Type.String({ format: 'uuid', description: 'a batch UUID' })),
  messageID: Type.Optional(Type.String({ format: 'uuid', description: 'a message UUID' })),
  'creationDatetime.from': DateTimeFilter('ISO-8601 date-time'),
  'creationDatetime.to': DateTimeFilter('ISO-8601 date-time'),
}

/**
 * Jobs (send, pending list, cancel) and outgoing history, at one level: a user
 * (`/sms/{serviceName}/users/{login}`) or the account (`/sms/{serviceName}`). A user sees only its
 * own messages.
 */
export const messageRoutes: FastifyPluginAsyncTypebox<{ level: 'user' | 'account' }> = async (
  app,
  { level },
) => {
  const { db } = app
  const { base, tags, Params, IdParams, who, target, user } = levelRoutes(level)

  app.post(
    `${base}/jobs`,
    {
      schema: {
        tags,
        summary: `Send an SMS as ${who} (one message per receiver)`,
        params: Params,
        body: JobBody,
        response: { 200: ref(SmsSendingReport) },
      },
    },
    async (request) => {
      const { receiversSlotId, receiversDocumentUrl, ...body } = request.body
      if (receiversSlotId === undefined && receiversDocumentUrl === undefined) {
        return sendMessages(app.sending, target(request), body)
      }
      // A stored list (receiversSlotId) or a CSV to fetch (receiversDocumentUrl), with any receivers given.
      const listed = [
        ...(receiversSlotId === undefined
          ? []
          : await slotNumbers(db, app.callbackAgent, target(request), receiversSlotId)),
        ...(receiversDocumentUrl === undefined
          ? []
          : numbersOfCsv(await fetchCsv(app.callbackAgent, receiversDocumentUrl, 'receiversDocumentUrl'))),
      ]
      return sendMessages(app.sending, target(request), {
        ...body,
        receivers: [...(body.receivers ?? []), ...listed],
      })
    },
  )

  app.get(
    `${base}/jobs`,
    {
      schema: {
        tags,
        summary: `Ids of ${who}'s pending (deferred, not yet sent) SMS`,
        params: Params,
        response: { 200: Type.Array(Type.Integer()) },
      },
    },
    async (request, reply) => sendJsonList(reply, await listOutgoing(db, target(request), ['pending'])),
  )

  app.get(
    `${base}/jobs/:id`,
    { schema: { tags, summary: 'One pending SMS', params: IdParams, response: { 200: ref(Job) } } },
    async (request) => toJob(await getOutgoing(db, target(request), request.params.id, ['pending'])),
  )

  app.delete(
    `${base}/jobs/:id`,
    {
      schema: {
        tags,
        summary: 'Cancel a pending SMS (its credits are refunded)',
        params: IdParams,
        response: { 200: Void },
      },
    },
    async (request) => {
      await cancelJob(db, app.clock, target(request), request.params.id)
      return null
    },
  )

  app.get(
    `${base}/outgoing`,
    {
      schema: {
        tags,
        summary: `Ids of SMS sent by ${who}`,
        params: Params,
        querystring: Type.Object(user ? userOutgoingFilters : accountOutgoingFilters),
        response: { 200: Type.Array(Type.Integer()) },
      },
    },
    async (request, reply) =>
      sendJsonList(reply, await listOutgoing(db, target(request), ['submitted', 'final'], request.query)),
  )

  app.get(
    `${base}/outgoing/:id`,
    { schema: { tags, summary: 'One sent SMS', params: IdParams, response: { 200: ref(Outgoing) } } },
    async (request) =>
      toOutgoing(await getOutgoing(db, target(request), request.params.id, ['submitted', 'final'])),
  )

  app.delete(
    `${base}/outgoing/:id`,
    {
      schema: { tags, summary: 'Remove a sent SMS from history', params: IdParams, response: { 200: Void } },
    },
    async (request) => {
      await deleteOutgoing(db, target(request), request.params.id)
      return null
    },
  )

  app.get(
    `${base}/outgoing/:id/hlr`,
    {
      schema: {
        tags,
        summary: 'Country and line type of a sent SMS receiver',
        params: IdParams,
        response: { 200: ref(Hlr) },
      },
    },
    async (request) =>
      toHlr(await getOutgoing(db, target(request), request.params.id, ['submitted', 'final'])),
  )
}
