import type { FastifyPluginAsync } from 'fastify'
import { OVH_ERROR_CLASS } from '../errors.js'

/** GET /health: 200 when the database answers, 503 otherwise. */
export const healthRoute: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        security: [],
        summary: 'Liveness: 200 when the database answers, 503 otherwise',
      },
    },
    async (request, reply) => {
      try {
        await app.database.ping()
        return { status: 'ok' }
      } catch (error) {
        request.log.warn({ err: error }, 'health check: database unreachable')
        return reply.code(503).send({ class: OVH_ERROR_CLASS[503], message: 'The database does not answer' })
      }
    },
  )
}
