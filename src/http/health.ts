import type { FastifyPluginAsync } from 'fastify'
import { OVH_ERROR_CLASS } from '../errors.js'

/**
 * GET /health: 503 when the database does not answer, or when no carrier can take messages; 200
 * otherwise, `degraded` (with the carriers that are not up) while some carrier is away and another
 * works, `ok` when every carrier is up. Sends are accepted and wait in either case.
 */
export const healthRoute: FastifyPluginAsync = async (app) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        security: [],
        summary: 'Liveness: 200 ok or degraded (a carrier away), 503 when the database or every carrier is',
      },
    },
    async (request, reply) => {
      try {
        await app.database.ping()
      } catch (error) {
        request.log.warn({ err: error }, 'health check: database unreachable')
        return reply.code(503).send({ class: OVH_ERROR_CLASS[503], message: 'The database does not answer' })
      }
      // The SMPP listener, once src/server.ts started it: where it listens.
      const smpp = app.smppServer.listening
        ? {
            smpp: {
              listening: true,
              addresses: app.smppServer.addresses().map((a) => `${a.host}:${a.port}`),
            },
          }
        : {}
      const routed = new Set(app.config.carriers.map((c) => c.name))
      const states = app.carriers
        .carriers()
        .filter((c) => routed.has(c.name))
        .map((c) => c.state())
      const away = states
        .filter((s) => s.status !== 'up')
        .map((s) => ({ name: s.name, status: s.status, lastError: s.detail }))
      if (away.length === 0) return { status: 'ok', ...smpp }
      if (away.length === states.length) {
        return reply.code(503).send({
          class: OVH_ERROR_CLASS[503],
          message: 'No carrier can take messages (they wait until one is back)',
          status: 'down',
          carriers: away,
          ...smpp,
        })
      }
      return { status: 'degraded', carriers: away, ...smpp }
    },
  )
}
