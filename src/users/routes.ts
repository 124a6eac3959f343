import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { sendJsonList } from '../db/json-list.js'
import { ref, ServiceNameParam, Void } from '../http/schema.js'
import { User, UserCreate, UserParams, UserUpdate } from './schema.js'
import { createUser, getUser, listUsers, removeUser, updateUserSettings } from './service.js'

export const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const box = app.secretBox
  const tags = ['sms users']
  const ServiceParams = Type.Object({ serviceName: ServiceNameParam })

  app.get(
    '/sms/:serviceName/users',
    {
      schema: {
        tags,
        summary: 'Logins of the account’s API users',
        params: ServiceParams,
        response: { 200: Type.Array(Type.String()) },
      },
    },
    async (request, reply) =>
      sendJsonList(reply, await listUsers(db, request.scope, request.params.serviceName)),
  )

  app.post(
    '/sms/:serviceName/users',
    {
      schema: {
        tags,
        summary: 'Create an API user',
        params: ServiceParams,
        body: UserCreate,
        response: { 200: Void },
      },
    },
    async (request) => {
      await createUser(db, box, request.scope, request.params.serviceName, request.body)
      return null
    },
  )

  app.get(
    '/sms/:serviceName/users/:login',
    {
      schema: { tags, summary: 'Read an API user', params: UserParams, response: { 200: ref(User) } },
    },
    (request) =>
      getUser(db, box, request.scope, request.params.serviceName, request.params.login, app.userCache),
  )

  app.put(
    '/sms/:serviceName/users/:login',
    {
      schema: {
        tags,
        summary: 'Change an API user (only the fields sent change)',
        params: UserParams,
        body: UserUpdate,
        response: { 200: Void },
      },
    },
    async (request) => {
      const { serviceName, login } = request.params
      await updateUserSettings(db, box, request.scope, serviceName, login, request.body, {
        allowPrivate: app.config.callbacks.allowPrivate,
      })
      return null
    },
  )

  app.delete(
    '/sms/:serviceName/users/:login',
    {
      schema: {
        tags,
        summary: 'Delete an API user (its quota returns to the account)',
        params: UserParams,
        response: { 200: Void },
      },
    },
    async (request) => {
      await removeUser(db, request.scope, request.params.serviceName, request.params.login)
      return null
    },
  )
}
