import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { openApiOptions } from './openapi.js'

/** The OpenAPI document (built from the routes' schemas) at /openapi.json, and Swagger UI at /docs. */
export const docsPlugin = fp(
  async (app) => {
    await app.register(swagger, openApiOptions(app.config))
    await app.register(swaggerUi, { routePrefix: '/docs' })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: 'sms-mirror-docs', dependencies: ['sms-mirror-context'] },
)
