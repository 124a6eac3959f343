import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { sendJsonList } from '../db/json-list.js'
import type { AppDeps } from '../deps.js'
import { ref, ServiceNameParam, Void } from '../schema-helpers.js'
import {
  deleteIncoming,
  getIncoming,
  listIncomingIds,
  listOutgoingIds,
  toHlr,
  toIncoming,
  toJob,
  toOutgoing,
} from './history.js'
import { Hlr, Incoming, Job, JobBody, Outgoing, SmsSendingReport } from './schema.js'
import {
  cancelJob,
  deleteOutgoing,
  getOutgoing,
  type Sender,
  type SendingDeps,
  sendMessages,
} from './service.js'

const Id = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'an id (positive integer)',
})
/** Filters on integer (int4) columns: a value out of their range could only fail the query. */
const Long = (description: string) =>
  Type.Optional(
    Type.Integer({
      minimum: -2147483648,
      maximum: 2147483647,
      description: `${description}, from -2147483648 to 2147483647`,
    }),
  )
const Text = (description: string) => Type.Optional(Type.String({ maxLength: 100, description }))
const DateTimeFilter = (description: string) =>
  Type.Optional(Type.String({ format: 'date-time', description }))

/** Filters of GET {S}/users/{login}/outgoing; the account-level list has more (mirroring OVH). */
const userOutgoingFilters = {
  deliveryReceipt: Long('DLR id'),
  differedDelivery: Long('deferral in minutes'),
  ptt: Long('ptt code'),
  receiver: Text('receiver number'),
  sender: Text('sender'),
  tag: Text('tag'),
}
const accountOutgoingFilters = {
  ...userOutgoingFilters,
  batchID: Type.Optional(Type.String({ format: 'uuid', description: 'a batch UUID' })),
  messageID: Type.Optional(Type.String({ format: 'uuid', description: 'a message UUID' })),
  'creationDatetime.from': DateTimeFilter('ISO-8601 date-time'),
  'creationDatetime.to': DateTimeFilter('ISO-8601 date-time'),
}
const userIncomingFilters = { sender: Text('sender number'), tag: Text('tag') }
const accountIncomingFilters = {
  ...userIncomingFilters,
  'creationDatetime.from': DateTimeFilter('ISO-8601 date-time'),
  'creationDatetime.to': DateTimeFilter('ISO-8601 date-time'),
}

/**
 * Jobs (send, pending list, cancel), outgoing and incoming history, at one level: a user
 * (`/sms/{serviceName}/users/{login}`) or the account (`/sms/{serviceName}`). A user sees only its
 * own messages.
 */
export const messageRoutes: FastifyPluginAsyncTypebox<{
  deps: AppDeps
  sending: SendingDeps
  level: 'user' | 'account'
}> = async (app, { deps, sending, level }) => {
  const { db } = deps.database
  const user = level === 'user'
  const base = user ? '/sms/:serviceName/users/:login' : '/sms/:serviceName'
  const tags = [user ? 'sms users' : 'sms']
  const Params = user
    ? Type.Object({ serviceName: ServiceNameParam, login: Type.String({ maxLength: 100 }) })
    : Type.Object({ serviceName: ServiceNameParam })
  const IdParams = Type.Object({ ...Params.properties, id: Id })
  const who = user ? 'this user' : 'the account'

  const target = (request: FastifyRequest): Sender => {
    const params = request.params as { serviceName: string; login?: string }
    return {
      scope: request.scope,
      serviceName: params.serviceName,
      login: user ? (params.login as string) : null,
    }
  }

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
    (request) => sendMessages(sending, target(request), request.body),
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
    async (request, reply) => sendJsonList(reply, await listOutgoingIds(db, target(request), ['pending'])),
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
      await cancelJob(db, target(request), request.params.id)
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
      sendJsonList(reply, await listOutgoingIds(db, target(request), ['submitted', 'final'], request.query)),
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

  app.get(
    `${base}/incoming`,
    {
      schema: {
        tags,
        summary: `Ids of SMS received for ${who}`,
        params: Params,
        querystring: Type.Object(user ? userIncomingFilters : accountIncomingFilters),
        response: { 200: Type.Array(Type.Integer()) },
      },
    },
    async (request, reply) => sendJsonList(reply, await listIncomingIds(db, target(request), request.query)),
  )

  app.get(
    `${base}/incoming/:id`,
    { schema: { tags, summary: 'One received SMS', params: IdParams, response: { 200: ref(Incoming) } } },
    async (request) => toIncoming(await getIncoming(db, target(request), request.params.id)),
  )

  app.delete(
    `${base}/incoming/:id`,
    { schema: { tags, summary: 'Remove a received SMS', params: IdParams, response: { 200: Void } } },
    async (request) => {
      await deleteIncoming(db, target(request), request.params.id)
      return null
    },
  )
}
