import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { invalid } from '../errors.js'
import { ref, ServiceNameParam, Void } from '../http/schema.js'
import { hasAtMostTwoDecimals, toHundredths } from './amounts.js'
import { transferCredits } from './ledger.js'
import { AccountUpdate, AccountWithIAM, IamTagsQuery } from './schema.js'
import { getAccount, listAccounts, updateAccountSettings } from './service.js'

export const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['sms']
  const ServiceParams = Type.Object({ serviceName: ServiceNameParam })

  app.get(
    '/sms',
    {
      schema: {
        tags,
        summary: 'Names of the caller’s SMS accounts',
        querystring: IamTagsQuery,
        response: { 200: Type.Array(Type.String()) },
      },
      preValidation: async (request) => {
        const query = request.query as { iamTags?: unknown }
        if (typeof query.iamTags !== 'string') return
        try {
          query.iamTags = JSON.parse(query.iamTags)
        } catch {
          throw invalid('iamTags', 'a JSON object such as {"env":[{"operator":"EQ","value":"prod"}]}')
        }
      },
    },
    (request) => listAccounts(db, request.scope, request.query.iamTags),
  )

  app.get(
    '/sms/:serviceName',
    {
      schema: {
        tags,
        summary: 'Read an SMS account',
        params: ServiceParams,
        response: { 200: ref(AccountWithIAM) },
      },
    },
    (request) => getAccount(db, request.scope, request.params.serviceName),
  )

  app.put(
    '/sms/:serviceName',
    {
      schema: {
        tags,
        summary: 'Change an SMS account (only the fields sent change)',
        params: ServiceParams,
        body: AccountUpdate,
        response: { 200: Void },
      },
    },
    async (request) => {
      await updateAccountSettings(db, request.scope, request.params.serviceName, request.body, {
        allowPrivate: app.config.callbacks.allowPrivate,
      })
      return null
    },
  )

  app.post(
    '/sms/:serviceName/transferCredits',
    {
      schema: {
        tags,
        summary: 'Move credits to another SMS account of the same owner',
        params: ServiceParams,
        body: Type.Object(
          {
            credits: Type.Number({
              exclusiveMinimum: 0,
              description: 'credits to move, > 0 with at most 2 decimals',
            }),
            smsAccountTarget: Type.String({
              minLength: 1,
              maxLength: 100,
              description: 'the receiving SMS account',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Void },
      },
    },
    async (request) => {
      const { credits, smsAccountTarget } = request.body
      if (!hasAtMostTwoDecimals(credits))
        throw invalid('credits', 'credits to move, > 0 with at most 2 decimals')
      await transferCredits(
        db,
        request.scope,
        request.params.serviceName,
        smsAccountTarget,
        toHundredths(credits),
      )
      return null
    },
  )
}
