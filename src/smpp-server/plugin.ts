import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import { SmppDeliveryWorker } from './deliveries.js'
import { SMPP_DELIVERY_CHANNEL } from './outbox.js'
import { SmppServer } from './server.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SMPP server of smpp- accounts; src/server.ts makes it listen (tests call listen({port: 0})). */
    smppServer: SmppServer
    /** Sends receipts and MO to bound ESMEs (tests call runOnce with workers off). */
    smppDeliveries: SmppDeliveryWorker
  }
}

/**
 * The SMPP server: built here, listening only when asked (like the HTTP server, buildApp never
 * listens), unbound and closed before the app closes its database.
 */
export const smppServerPlugin = fp<{ workers: boolean }>(
  async (app, { workers }) => {
    const { config, metrics, database } = app
    const tls = config.tls
      ? { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile) }
      : null
    const server = new SmppServer({
      db: app.db,
      box: app.secretBox,
      clock: app.clock,
      log: app.log.child({ component: 'smpp-server' }),
      queue: app.sending.queue,
      settings: config.smpp,
      tls,
      events: {
        onBindRefused: (reason) => metrics.smppBindsRefused.inc({ reason }),
        onSubmit: (status) => metrics.countSmppSubmit(status),
        onReceiverBound: () => deliveries.nudge(),
      },
    })
    const deliveries = new SmppDeliveryWorker({
      db: app.db,
      clock: app.clock,
      log: app.log,
      server,
      options: {
        pollMs: database.listen ? 5000 : 250,
        retryMs: config.smpp.deliveryRetryMs,
        ttlMs: config.smpp.deliveryTtlMs,
      },
      onOutcome: (kind, outcome) => metrics.smppDeliveries.inc({ kind, outcome }),
      onQueue: (queued, oldest) => {
        metrics.smppQueued.set(queued)
        metrics.smppOldestQueuedAge.set(oldest)
      },
    })
    metrics.setSmppSessions(() => server.sessionCounts())
    app.decorate('smppServer', server)
    app.decorate('smppDeliveries', deliveries)
    if (workers) {
      let stopListening = async () => {}
      app.addHook('onReady', async () => {
        deliveries.start()
        if (database.listen) {
          stopListening = await database.listen(
            SMPP_DELIVERY_CHANNEL,
            () => deliveries.nudge(),
            () => deliveries.nudge(),
          )
        }
      })
      app.addHook('preClose', async () => {
        await stopListening()
        await deliveries.stop()
      })
    }
    app.addHook('preClose', () => server.close())
  },
  {
    name: 'sms-mirror-smpp-server',
    dependencies: ['sms-mirror-context', 'sms-mirror-sending', 'sms-mirror-metrics'],
  },
)
