import fp from 'fastify-plugin'
import type { Agent } from 'undici'
import { CallbackDispatcher } from './dispatcher.js'
import { CALLBACK_CHANNEL } from './outbox.js'
import { createCallbackAgent } from './ssrf.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Calls callback URLs from the callback_deliveries outbox. */
    callbackDispatcher: CallbackDispatcher
    /** The SSRF-guarded undici agent of the callbacks, also used to fetch receiver lists (csvUrl). */
    callbackAgent: Agent
  }
}

/**
 * The DLR callback dispatcher with its SSRF-guarded undici agent. With `workers`, it runs in the
 * background from ready (woken by NOTIFY on PostgreSQL, a short poll on PGlite) until close; without,
 * tests drive it with `app.callbackDispatcher.runOnce()`.
 */
export const callbacksPlugin = fp<{ workers: boolean }>(
  async (app, { workers }) => {
    const { config, database, metrics } = app
    const agent = createCallbackAgent({
      allowPrivate: config.callbacks.allowPrivate,
      connectTimeoutMs: config.callbacks.timeoutMs,
      requestTimeoutMs: config.callbacks.timeoutMs,
    })
    const dispatcher = new CallbackDispatcher({
      db: app.db,
      agent,
      clock: app.clock,
      log: app.log,
      concurrency: config.callbacks.concurrency,
      scheduleMs: config.callbacks.scheduleMs,
      timeoutMs: config.callbacks.timeoutMs,
      pollMs: database.listen ? 5000 : 250,
      openSecret: (sealed) => app.secretBox.open(sealed),
      onOutcome: (outcome, seconds) => {
        metrics.countCallbackDelivery(outcome)
        metrics.observeCallbackAttempt(seconds)
      },
    })
    metrics.setQueueStats(() => dispatcher.queueStats())
    app.decorate('callbackDispatcher', dispatcher)
    app.decorate('callbackAgent', agent)
    if (workers && config.callbacks.dispatcherEnabled) {
      let stopListening = async () => {}
      app.addHook('onReady', async () => {
        dispatcher.start()
        if (database.listen) {
          stopListening = await database.listen(
            CALLBACK_CHANNEL,
            () => dispatcher.nudge(),
            () => dispatcher.nudge(),
          )
        }
      })
      app.addHook('preClose', async () => {
        await stopListening()
        await dispatcher.stop()
      })
    }
    app.addHook('onClose', async () => agent.close())
  },
  { name: 'sms-mirror-callbacks', dependencies: ['sms-mirror-context', 'sms-mirror-metrics'] },
)
