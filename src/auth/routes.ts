import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { AppDeps } from '../deps.js'

export const authRoutes: FastifyPluginAsyncTypebox<{ deps: AppDeps }> = async (app, { deps }) => {
  app.get(
    '/auth/time',
    {
      schema: {
        tags: ['auth'],
        summary: 'Current server time (Unix seconds), used by clients to sign requests',
        response: { 200: Type.Integer() },
      },
    },
    async () => Math.floor(deps.clock.now().getTime() / 1000),
  )
}
