import fp from 'fastify-plugin'
import { Metrics } from './metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus metrics this app exposes on GET /metrics. */
    metrics: Metrics
  }
}

/**
 * Records every request into the HTTP metrics (route pattern, never the raw URL) and serves
 * GET /metrics. Registered on the root before the routes so its onResponse hook reaches all of them.
 */
export const metricsPlugin = fp<{ metrics?: Metrics }>(
  async (app, options) => {
    const metrics = options.metrics ?? new Metrics({ defaultMetrics: true })
    app.decorate('metrics', metrics)
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeHttp(
        request.method,
        request.routeOptions.url,
        reply.statusCode,
        reply.elapsedTime / 1000,
      )
    })
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['service'],
          security: [],
          summary: 'Prometheus metrics (text exposition format)',
        },
      },
      async (_request, reply) => {
        const body = await metrics.scrape()
        return reply.type(metrics.contentType).send(body)
      },
    )
  },
  { name: 'sms-mirror-metrics' },
)
