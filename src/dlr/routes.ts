import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { notFound } from '../errors.js'
import { ref } from '../http/schema.js'
import { PTT_TABLE, PttDetails } from './ptt.js'

export const pttRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/sms/ptts',
    {
      schema: {
        tags: ['sms'],
        summary: 'Explain a ptt code',
        querystring: Type.Object({
          ptt: Type.Integer({
            description: 'the ptt code to explain (an integer)',
            minimum: 0,
            maximum: 2147483647,
          }),
        }),
        response: { 200: ref(PttDetails) },
      },
    },
    async (request) => {
      const details = PTT_TABLE.get(request.query.ptt)
      if (!details) throw notFound(`The requested object (ptt = ${request.query.ptt}) does not exist`)
      return details
    },
  )
}
