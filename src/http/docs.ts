import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { browserCode, SIGNING_SCRIPT } from './docs-signing.js'
import { openApiOptions } from './openapi.js'

/**
 * The OpenAPI document (built from the routes' schemas) at /openapi.json, and Swagger UI at /docs,
 * whose page signs OVH-keys requests itself (src/http/docs-signing.ts).
 */
export const docsPlugin = fp(
  async (app) => {
    await app.register(swagger, openApiOptions(app.config))
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      theme: { js: [{ filename: 'ovh-signing.js', content: SIGNING_SCRIPT }] },
      uiConfig: {
        // Replaces Swagger UI's default plugin list, hence DownloadUrl (which loads the document) again.
        plugins: [
          browserCode('function (system) { return SwaggerUIBundle.plugins.DownloadUrl(system) }'),
          browserCode('function (system) { return window.smsMirrorDocs.plugin(system) }'),
        ],
        requestInterceptor: browserCode('function (request) { return window.smsMirrorDocs.sign(request) }'),
      } as never,
    })
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  },
  { name: 'sms-mirror-docs', dependencies: ['sms-mirror-context'] },
)
