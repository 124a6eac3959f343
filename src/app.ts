import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { accountRoutes } from './accounts/routes.js'
import { accountModels } from './accounts/schema.js'
import { adminPlugin } from './admin/plugin.js'
import { alertsPlugin } from './alerts/plugin.js'
import { installApiAuth } from './auth/hook.js'
import { authPlugin } from './auth/plugin.js'
import { authModels, authRoutes } from './auth/routes.js'
import { tokenRoute } from './auth/token-route.js'
import { validationPage } from './auth/validation-page.js'
import { blacklistRoutes } from './blacklist/routes.js'
import { blacklistModels } from './blacklist/schema.js'
import { carrierPlugin } from './carrier/plugin.js'
import { type AppDeps, contextPlugin } from './context.js'
import { callbacksPlugin } from './dlr/plugin.js'
import { pttModels } from './dlr/ptt.js'
import { pttRoutes } from './dlr/routes.js'
import {
  documentDownloadRoute,
  documentRoutes,
  exportRoutes,
  senderDocumentRoutes,
} from './documents/routes.js'
import { documentModels } from './documents/schema.js'
import { docsPlugin } from './http/docs.js'
import { healthRoute } from './http/health.js'
import { defaultToJson } from './http/json-body.js'
import { loggerOptions } from './http/logging.js'
import { httpPlugin, serverOptions } from './http/plugin.js'
import { http2smsRoutes } from './http2sms/routes.js'
import { incomingRoutes } from './incoming/routes.js'
import { incomingModels } from './incoming/schema.js'
import type { Metrics } from './metrics/metrics.js'
import { metricsPlugin } from './metrics/plugin.js'
import { receiverRoutes } from './receivers/routes.js'
import { receiverModels } from './receivers/schema.js'
import { senderRoutes } from './senders/routes.js'
import { senderModels } from './senders/schema.js'
import { estimateModels, estimateRoutes } from './sending/estimate-routes.js'
import { sendingPlugin } from './sending/plugin.js'
import { messageRoutes } from './sending/routes.js'
import { sendingModels } from './sending/schema.js'
import { smppServerPlugin } from './smpp-server/plugin.js'
import { smppRoutes } from './smpp-server/routes.js'
import { smppModels } from './smpp-server/schema.js'
import { rowCachesPlugin } from './users/cache.js'
import { userRoutes } from './users/routes.js'
import { userModels } from './users/schema.js'

export type { AppDeps } from './context.js'

/** OVH clients call `/1.0/...`; newer ones `/v1/...`. Both serve the same routes. */
export const API_PREFIXES = ['/1.0', '/v1'] as const

/** The models (OVH's names: sms.User, sms.Account…) the routes refer to, registered once at the root. */
const MODELS = [
  ...userModels,
  ...accountModels,
  ...authModels,
  ...pttModels,
  ...estimateModels,
  ...sendingModels,
  ...incomingModels,
  ...senderModels,
  ...blacklistModels,
  ...receiverModels,
  ...smppModels,
  ...documentModels,
]

export type BuildAppOptions = {
  /** Overrides the logger (tests pass `false`, or a stream to read what was logged). */
  logger?: FastifyServerOptions['logger']
  /** Metrics registry to expose (tests may pass their own). */
  metrics?: Metrics
  /**
   * false: no background worker runs (sending worker, callback and alert dispatchers); tests drive
   * them with `app.sendingWorker.runOnce()` and the like. Carriers still start and stop with the app.
   */
  workers?: boolean
  /** PEM key and certificate: serve HTTPS (the official OVH Node client only speaks HTTPS). */
  https?: { key: string | Buffer; cert: string | Buffer }
}

/**
 * The Fastify instance, its plugins and routes, in the order a request meets them. Never listens:
 * src/server.ts does, tests use `inject` or listen themselves.
 */
export async function buildApp(deps: AppDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const workers = options.workers ?? true
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger:
      options.logger ?? loggerOptions(deps.config.logLevel, { personalData: deps.config.logPersonalData }),
    trustProxy: deps.config.trustProxy ?? false,
    ...serverOptions(),
  }).withTypeProvider<TypeBoxTypeProvider>()

  // What every part reads, and what every request meets first.
  await app.register(contextPlugin, deps)
  await app.register(httpPlugin, { models: MODELS })
  await app.register(metricsPlugin, options.metrics ? { metrics: options.metrics } : {})
  // The parts that own a resource or a worker: each starts and stops itself.
  await app.register(authPlugin)
  await app.register(rowCachesPlugin)
  await app.register(callbacksPlugin, { workers })
  await app.register(sendingPlugin)
  await app.register(carrierPlugin, { workers })
  await app.register(alertsPlugin, { workers })
  await app.register(smppServerPlugin, { workers })
  await app.register(docsPlugin)
  await app.register(healthRoute)

  for (const prefix of API_PREFIXES) {
    await app.register(
      async (api) => {
        // The /v1 copies would only repeat the /1.0 operations in the OpenAPI document.
        if (prefix !== '/1.0') {
          api.addHook('onRoute', (route) => {
            route.schema = { ...route.schema, hide: true }
          })
        }
        // Only JSON reaches the OVH routes: the signature covers the raw JSON body, and a form or
        // text body would be read without being signed (415 says to send JSON).
        api.removeContentTypeParser(['application/x-www-form-urlencoded', 'text/plain'])
        defaultToJson(api)
        installApiAuth(api, prefix)
        await api.register(authRoutes)
        await api.register(pttRoutes)
        await api.register(accountRoutes)
        await api.register(userRoutes)
        await api.register(senderRoutes)
        await api.register(blacklistRoutes)
        await api.register(smppRoutes)
        await api.register(estimateRoutes)
        await api.register(documentRoutes)
        await api.register(senderDocumentRoutes)
        for (const level of ['user', 'account'] as const) {
          await api.register(messageRoutes, { level })
          await api.register(incomingRoutes, { level })
          await api.register(receiverRoutes, { level })
          await api.register(exportRoutes, { level })
        }
      },
      { prefix },
    )
  }
  await app.register(adminPlugin, { prefix: '/admin/v1' })
  await app.register(tokenRoute)
  await app.register(http2smsRoutes)
  await app.register(validationPage)
  await app.register(documentDownloadRoute)
  return app
}
