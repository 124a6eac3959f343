import fp from 'fastify-plugin'
import { ConfigError } from '../config.js'
import { receiveFromCarrier } from '../incoming/receive.js'
import { carrierEvents } from './events.js'
import { CarrierRouter } from './router.js'
import { SimulatorCarrier } from './simulator.js'
import { defaultRules, type SimulatorRule, simulatorRulesProblem } from './simulator-rules.js'
import { SendingWorker } from './worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The carriers and which one takes each message. */
    carriers: CarrierRouter
    /** The built-in carrier. */
    simulator: SimulatorCarrier
    /** Hands due messages to their carrier; lets in-process peers report; expires overdue ones. */
    sendingWorker: SendingWorker
  }
}

/**
 * The carriers (today the simulator), their events (reports through the status path, incoming
 * messages), and the sending worker. Carriers start at ready and stop at close whatever `workers`
 * says; with `workers` the worker also runs in the background, woken after each batch of sends.
 */
export const carrierPlugin = fp<{ workers: boolean }>(
  async (app, { workers }) => {
    const { config } = app
    let rules: SimulatorRule[] = defaultRules(config.simulatorDelayMs)
    if (config.simulatorRules) {
      const problem = simulatorRulesProblem(config.simulatorRules)
      if (problem) throw new ConfigError('SIMULATOR_RULES', problem)
      rules = config.simulatorRules as SimulatorRule[]
    }
    const simulator = new SimulatorCarrier(app.db, app.clock, rules)
    const router = new CarrierRouter([], simulator)
    const worker = new SendingWorker({
      db: app.db,
      router,
      clock: app.clock,
      log: app.log,
      pollMs: config.sendingPollMs,
      onProgress: () => app.callbackDispatcher.nudge(),
    })
    const events = carrierEvents({
      db: app.db,
      clock: app.clock,
      onChange: () => app.callbackDispatcher.nudge(),
      receiveIncoming: async (carrier, messages) => {
        const { unattributed } = await receiveFromCarrier(app.db, messages, app.clock.now())
        if (unattributed > 0) {
          app.log.warn(
            { carrier, unattributed },
            'incoming messages from numbers no account wrote to were dropped',
          )
        }
      },
    })
    app.decorate('carriers', router)
    app.decorate('simulator', simulator)
    app.decorate('sendingWorker', worker)
    app.addHook('onReady', async () => {
      for (const carrier of router.carriers()) await carrier.start(events)
      if (workers) worker.start()
    })
    if (workers) app.sending.queue.afterWrite(() => worker.nudge())
    app.addHook('preClose', async () => {
      await worker.stop()
      for (const carrier of router.carriers()) await carrier.stop()
    })
  },
  {
    name: 'sms-mirror-carrier',
    dependencies: ['sms-mirror-context', 'sms-mirror-sending', 'sms-mirror-callbacks'],
  },
)
