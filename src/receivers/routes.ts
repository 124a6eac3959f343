import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { IdParam, ref, ServiceNameParam, Void } from '../http/schema.js'
import { levelRoutes } from '../sending/target.js'
import {
  CleanBody,
  Receiver,
  ReceiverCreate,
  ReceiversAsynchronousCleanReport,
  ReceiverUpdate,
  Task,
  TaskStatusEnum,
} from './schema.js'
import {
  cleanSlot,
  createSlot,
  deleteSlot,
  getSlot,
  getTask,
  listSlots,
  listTasks,
  slotCsv,
  updateSlot,
} from './service.js'

/**
 * OVH's receiver lists at one level — the user's (`{S}/users/{login}/receivers`) or the account's
 * (`{S}/receivers`) — and, at account level, the tasks that clean them (`{S}/task`).
 */
export const receiverRoutes: FastifyPluginAsyncTypebox<{ level: 'user' | 'account' }> = async (
  app,
  { level },
) => {
  const { db } = app
  const { base, tags, Params, who, target, user } = levelRoutes(level)
  const SlotParams = Type.Object({ ...Params.properties, slotId: IdParam })

  app.get(
    `${base}/receivers`,
    {
      schema: {
        tags,
        summary: `Slot ids of ${who}'s receiver lists`,
        params: Params,
        response: { 200: Type.Array(Type.Integer()) },
      },
    },
    (request) => listSlots(db, target(request)),
  )

  app.post(
    `${base}/receivers`,
    {
      schema: {
        tags,
        summary: `Create a receiver list of ${who} from a CSV at csvUrl`,
        params: Params,
        body: ReceiverCreate,
        response: { 200: ref(Receiver) },
      },
    },
    (request) => createSlot(db, app.callbackAgent, target(request), request.body, app.clock.now()),
  )

  app.get(
    `${base}/receivers/:slotId`,
    { schema: { tags, summary: 'One receiver list', params: SlotParams, response: { 200: ref(Receiver) } } },
    (request) => getSlot(db, target(request), request.params.slotId),
  )

  app.put(
    `${base}/receivers/:slotId`,
    {
      schema: {
        tags,
        summary: 'Change a receiver list (description, autoUpdate)',
        params: SlotParams,
        body: ReceiverUpdate,
        response: { 200: Void },
      },
    },
    (request) => updateSlot(db, target(request), request.params.slotId, request.body),
  )

  app.delete(
    `${base}/receivers/:slotId`,
    { schema: { tags, summary: 'Delete a receiver list', params: SlotParams, response: { 200: Void } } },
    (request) => deleteSlot(db, target(request), request.params.slotId),
  )

  app.get(
    `${base}/receivers/:slotId/csv`,
    {
      schema: {
        tags,
        summary: 'The numbers of a receiver list, one a line',
        params: SlotParams,
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      // A bare string answer would go out as text/plain; OVH answers a JSON string.
      const text = await slotCsv(db, target(request), request.params.slotId)
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(text))
    },
  )

  app.post(
    `${base}/receivers/:slotId/clean`,
    {
      schema: {
        tags,
        summary: 'Remove invalid and blacklisted numbers from a receiver list (an sms.Task in {S}/task)',
        params: SlotParams,
        body: CleanBody,
        response: { 200: ref(ReceiversAsynchronousCleanReport) },
      },
    },
    (request) => cleanSlot(db, target(request), request.params.slotId, request.body, app.clock.now()),
  )

  if (user) return
  const AccountParams = Type.Object({ serviceName: ServiceNameParam })
  app.get(
    '/sms/:serviceName/task',
    {
      schema: {
        tags,
        summary: 'Ids of the account’s tasks (receiver list cleanings)',
        params: AccountParams,
        querystring: Type.Object({ status: Type.Optional(ref(TaskStatusEnum)) }),
        response: { 200: Type.Array(Type.Integer()) },
      },
    },
    (request) => listTasks(db, target(request), request.query.status),
  )
  app.get(
    '/sms/:serviceName/task/:taskId',
    {
      schema: {
        tags,
        summary: 'One task',
        params: Type.Object({ serviceName: ServiceNameParam, taskId: IdParam }),
        response: { 200: ref(Task) },
      },
    },
    (request) => getTask(db, target(request), request.params.taskId),
  )
}
