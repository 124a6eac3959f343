import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { sendJsonList } from '../db/json-list.js'
import { DateTimeFilter, ref, TextFilter, Void } from '../http/schema.js'
import { levelRoutes } from '../sending/target.js'
import { Incoming } from './schema.js'
import { deleteIncoming, getIncoming, listIncomingIds, toIncoming } from './service.js'

const userIncomingFilters = { sender: TextFilter('sender number'), tag: TextFilter('tag') }
const accountIncomingFilters = {
  ...userIncomingFilters,
  'creationDatetime.from': DateTimeFilter('ISO-8601 date-time'),
  'creationDatetime.to': DateTimeFilter('ISO-8601 date-time'),
}

/** Received SMS (replies) at one level: the user's own, or the whole account's. */
export const incomingRoutes: FastifyPluginAsyncTypebox<{ level: 'user' | 'account' }> = async (
  app,
  { level },
) => {
  const { db } = app
  const { base, tags, Params, IdParams, who, target, user } = levelRoutes(level)

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
