import formbody from '@fastify/formbody'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import { accountRoutes } from './accounts/routes.js'
import { accountModels } from './accounts/schema.js'
import { adminRoutes } from './admin/routes.js'
import { AlertDispatcher, sendAlertSmsWith } from './alerts/dispatcher.js'
import { smtpMailSender } from './alerts/mail.js'
import { CredentialStore } from './auth/credentials.js'
import { defaultToJson, installApiAuth, installRawJsonParser, refuseFragments } from './auth/hook.js'
import { announcer, followRevocations } from './auth/invalidation.js'
import { TokenStore } from './auth/oauth.js'
import { authModels, authRoutes } from './auth/routes.js'
import { tokenRoute } from './auth/token-route.js'
import { validationPage } from './auth/validation-page.js'
import { defaultRules, SimulatorCarrier, validateRules } from './carrier/simulator.js'
import { SendingWorker } from './carrier/worker.js'
import type { AppDeps, Scope } from './deps.js'
import { CallbackDispatcher } from './dlr/dispatcher.js'
import { CALLBACK_CHANNEL } from './dlr/outbox.js'
import { PttDetails, PttDurationTypeEnum } from './dlr/ptt.js'
import { pttRoutes } from './dlr/routes.js'
import { createCallbackAgent } from './dlr/ssrf.js'
import { installErrorHandlers, OVH_ERROR_CLASS } from './errors.js'
import { loggerOptions } from './logging.js'
import { Metrics, metricsPlugin } from './metrics.js'
import { openApiOptions } from './openapi.js'
import { Blacklist, blacklistRoutes } from './sending/blacklist-routes.js'
import { estimateModels, estimateRoutes } from './sending/estimate-routes.js'
import { SendBatcher } from './sending/group-commit.js'
import { http2smsRoutes } from './sending/http2sms.js'
import { messageRoutes } from './sending/routes.js'
import { sendingModels } from './sending/schema.js'
import { senderRoutes } from './sending/senders-routes.js'
import { senderModels } from './sending/senders-schema.js'
import type { SendingDeps } from './sending/service.js'
import { userRoutes } from './users/routes.js'
import { userModels } from './users/schema.js'
import { refuseUnstorableValues } from './validation.js'
import { formatSchemaErrors } from './validation-messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Hands due messages to the carrier and applies its status reports. */
    sendingWorker: SendingWorker
    /** Writes accepted sends by group commit. */
    sendBatcher: SendBatcher
    /** Sends limit alerts (mail, SMS) raised by sends. */
    alertDispatcher: AlertDispatcher
    /** Calls callback URLs from the callback_deliveries outbox. */
    callbackDispatcher: CallbackDispatcher
  }
  interface FastifyRequest {
    /** The accounts this request may reach. */
    scope: Scope
  }
}

/** OVH clients call `/1.0/...`; newer ones `/v1/...`. Both serve the same routes. */
export const API_PREFIXES = ['/1.0', '/v1'] as const

export type BuildAppOptions = {
  /** Overrides the logger (tests pass `false`, or a stream to read what was logged). */
  logger?: FastifyServerOptions['logger']
  /** Metrics registry to expose (tests may pass their own). */
  metrics?: Metrics
  /** false: do not run the sending worker in the background (tests call `app.sendingWorker.runOnce()`). */
  worker?: boolean
  /** PEM key and certificate: serve HTTPS (the official OVH Node client only speaks HTTPS). */
  https?: { key: string | Buffer; cert: string | Buffer }
}

export async function buildApp(deps: AppDeps, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    logger: options.logger ?? loggerOptions(deps.config.logLevel),
    trustProxy: deps.config.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { verbose: true, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // Errors Fastify meets before routing (a percent-escape that is not UTF-8): OVH's body too.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send({
        class: OVH_ERROR_CLASS[400],
        message:
          error.code === 'FST_ERR_BAD_URL'
            ? 'Invalid URL: a percent-escape does not decode to UTF-8 text; encode the path in UTF-8'
            : error.message,
      })
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  installErrorHandlers(app)
  refuseFragments(app)
  refuseUnstorableValues(app)
  installRawJsonParser(app)
  const metrics = options.metrics ?? new Metrics({ defaultMetrics: true })
  await app.register(metricsPlugin, { metrics })
  const models = [
    ...userModels,
    ...accountModels,
    ...authModels,
    PttDurationTypeEnum,
    PttDetails,
    ...estimateModels,
    ...sendingModels,
    ...senderModels,
    Blacklist,
  ]
  for (const model of models) {
    app.addSchema(model)
  }
  await app.register(formbody, { bodyLimit: 64 * 1024 })
  const announce = announcer(deps.database, app.log)
  const store = new CredentialStore(deps.database.db, deps.secretBox, deps.clock, announce)
  const tokens = new TokenStore(deps.database.db, deps.clock, deps.config.oauthTokenTtlSeconds, announce)
  const stopFollowing = await followRevocations(deps.database, store, tokens, app.log)
  app.addHook('onClose', stopFollowing)

  const simulator = new SimulatorCarrier(
    deps.config.simulatorRules
      ? validateRules(deps.config.simulatorRules, 'SIMULATOR_RULES')
      : defaultRules(deps.config.simulatorDelayMs),
  )
  const callbackAgent = createCallbackAgent({
    allowPrivate: deps.config.callbacks.allowPrivate,
    connectTimeoutMs: deps.config.callbacks.timeoutMs,
    requestTimeoutMs: deps.config.callbacks.timeoutMs,
  })
  const callbacks = new CallbackDispatcher(
    deps.database.db,
    callbackAgent,
    deps.clock,
    app.log,
    {
      concurrency: deps.config.callbacks.concurrency,
      scheduleMs: deps.config.callbacks.scheduleMs,
      timeoutMs: deps.config.callbacks.timeoutMs,
      pollMs: deps.database.listen ? 5000 : 250,
      openSecret: (sealed) => deps.secretBox.open(sealed),
    },
    (outcome, seconds) => {
      metrics.countCallbackDelivery(outcome)
      metrics.observeCallbackAttempt(seconds)
    },
  )
  metrics.setQueueStats(() => callbacks.queueStats())
  app.decorate('callbackDispatcher', callbacks)
  if (options.worker !== false && deps.config.callbacks.dispatcherEnabled) {
    app.addHook('onReady', async () => {
      callbacks.start()
      if (deps.database.listen) {
        const stopListening = await deps.database.listen(
          CALLBACK_CHANNEL,
          () => callbacks.nudge(),
          () => callbacks.nudge(),
        )
        app.addHook('preClose', stopListening)
      }
    })
    app.addHook('preClose', () => callbacks.stop())
  }
  app.addHook('onClose', async () => callbackAgent.close())

  const worker = new SendingWorker(
    deps.database.db,
    simulator,
    deps.clock,
    app.log,
    deps.config.sendingPollMs,
    () => callbacks.nudge(),
  )
  app.decorate('sendingWorker', worker)
  if (options.worker !== false) {
    app.addHook('onReady', async () => worker.start())
    app.addHook('preClose', () => worker.stop())
  }
  const sending: SendingDeps = {
    db: deps.database.db,
    clock: deps.clock,
    config: deps.config,
    batcher: new SendBatcher(deps.database.db, deps.config, () => {
      worker.nudge()
      alertDispatcher.nudge()
    }),
  }
  app.decorate('sendBatcher', sending.batcher)
  const mail = deps.config.alerts.smtpUrl
    ? smtpMailSender({ url: deps.config.alerts.smtpUrl, from: deps.config.alerts.from })
    : null
  const alertDispatcher = new AlertDispatcher({
    db: deps.database.db,
    clock: deps.clock,
    log: app.log,
    mail,
    sendSms: sendAlertSmsWith(sending),
    options: { pollMs: deps.config.sendingPollMs, retrySchedule: deps.config.alerts.retryScheduleMs },
  })
  app.decorate('alertDispatcher', alertDispatcher)
  if (options.worker !== false) {
    app.addHook('onReady', async () => alertDispatcher.start())
    app.addHook('preClose', () => alertDispatcher.stop())
  }
  app.addHook('onClose', async () => mail?.close())

  await app.register(swagger, openApiOptions(deps.config))
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())

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
        await deps.database.ping()
        return { status: 'ok' }
      } catch (error) {
        request.log.warn({ err: error }, 'health check: database unreachable')
        return reply.code(503).send({ class: OVH_ERROR_CLASS[503], message: 'The database does not answer' })
      }
    },
  )

  app.decorateRequest('scope', null as unknown as Scope)
  app.decorateRequest('rawBody', undefined)
  app.decorateRequest('credential', undefined)

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
        installApiAuth(api, deps, store, tokens, prefix)
        await api.register(authRoutes, { deps, store })
        await api.register(pttRoutes)
        await api.register(accountRoutes, { deps })
        await api.register(userRoutes, { deps })
        await api.register(senderRoutes, { deps })
        await api.register(blacklistRoutes, { deps })
        await api.register(estimateRoutes)
        await api.register(messageRoutes, { deps, sending, level: 'user' })
        await api.register(messageRoutes, { deps, sending, level: 'account' })
      },
      { prefix },
    )
  }
  await app.register(adminRoutes, { prefix: '/admin/v1', deps, store, tokens, simulator, callbacks })
  await app.register(tokenRoute, { tokens })
  await app.register(http2smsRoutes, { deps, sending })
  await app.register(validationPage, { db: deps.database.db })
  return app
}
