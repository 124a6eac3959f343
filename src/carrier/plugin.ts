import fp from 'fastify-plugin'
import { ConfigError } from '../config.js'
import { receiveFromCarrier } from '../incoming/receive.js'
import { DEFAULT_STOP_MENTION, stopMentionProblem } from '../sending/encoding.js'
import type { Carrier, CarrierObserver } from './carrier.js'
import { carrierEvents } from './events.js'
import { CarrierRouter, RoutingTable } from './router.js'
import { SimulatorCarrier } from './simulator.js'
import { defaultRules, type SimulatorRule, simulatorRulesProblem } from './simulator-rules.js'
import { SmppCarrier } from './smpp-carrier.js'
import { SendingWorker } from './worker.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The carriers and which one takes each message. */
    carriers: CarrierRouter
    /** The built-in carrier (routed when CARRIERS says so, or when no carrier is configured). */
    simulator: SimulatorCarrier
    /** Hands due messages to their carrier; lets in-process peers report; expires overdue ones. */
    sendingWorker: SendingWorker
  }
}

/**
 * The carriers of the configuration (CARRIERS / CARRIER_URL: SMPP upstreams, the simulator), their
 * events (reports through the status path, incoming messages), and the sending worker. The simulator
 * always exists — unrouted, it still reports what it accepted before — and takes every receiver when
 * no carrier is configured. Carriers start (and bind) at ready and stop at close whatever `workers`
 * says; with `workers` the worker also runs in the background, woken after each batch of sends.
 */
export const carrierPlugin = fp<{ workers: boolean }>(
  async (app, { workers }) => {
    const { config, metrics } = app
    let rules: SimulatorRule[] = defaultRules(config.simulatorDelayMs)
    if (config.simulatorRules) {
      const problem = simulatorRulesProblem(config.simulatorRules)
      if (problem) throw new ConfigError('SIMULATOR_RULES', problem)
      rules = config.simulatorRules as SimulatorRule[]
    }
    const stopMention = config.stopMention ?? DEFAULT_STOP_MENTION
    const mentionProblem = stopMentionProblem(stopMention)
    if (mentionProblem) throw new ConfigError('STOP_MENTION', mentionProblem)

    const observer: CarrierObserver = {
      submitted: (carrier, outcome) => metrics.carrierSubmits.inc({ carrier, outcome }),
      delivered: (carrier, kind) => metrics.carrierDeliveries.inc({ carrier, kind }),
      bound: (carrier, ok) => metrics.carrierBinds.inc({ carrier, outcome: ok ? 'ok' : 'failed' }),
    }
    const simulatorSettings = config.carriers.find((c) => c.kind === 'simulator')
    const simulator = new SimulatorCarrier({
      db: app.db,
      clock: app.clock,
      rules,
      name: simulatorSettings?.name,
      leaseMs: config.handoverLeaseMs,
    })
    const carriers: Carrier[] = [simulator]
    for (const settings of config.carriers) {
      if (settings.kind === 'smpp') {
        carriers.push(new SmppCarrier({ settings, log: app.log, clock: app.clock, observer }))
      }
    }
    const router = new CarrierRouter(new RoutingTable(config.carriers), carriers)
    metrics.setCarrierStates(() =>
      router.carriers().map((carrier) => {
        const state = carrier.state()
        return {
          name: state.name,
          up: state.status === 'up',
          boundSessions: state.sessions.filter((s) => s.state === 'bound').length,
          inFlight: state.inFlight,
          queued: state.queued,
        }
      }),
    )
    const worker = new SendingWorker({
      db: app.db,
      router,
      clock: app.clock,
      log: app.log,
      pollMs: config.sendingPollMs,
      leaseMs: config.handoverLeaseMs,
      stopMention,
      onProgress: () => app.callbackDispatcher.nudge(),
    })
    const events = carrierEvents({
      db: app.db,
      clock: app.clock,
      onChange: () => app.callbackDispatcher.nudge(),
      receiveIncoming: async (carrier, messages) => {
        const { unattributed } = await receiveFromCarrier(app.db, carrier, messages, app.clock.now(), {
          write: app.sending.write,
          log: (what, detail) => app.log.info({ carrier, ...detail }, what),
        })
        // automatic text replies were written with the messages: the workers pick them up now
        worker.nudge()
        app.callbackDispatcher.nudge()
        if (unattributed > 0) {
          app.log.warn(
            { carrier, unattributed },
            'incoming messages no account could be found for were dropped',
          )
        }
      },
    })
    app.decorate('carriers', router)
    app.decorate('simulator', simulator)
    app.decorate('sendingWorker', worker)
    app.addHook('onReady', async () => {
      await Promise.all(router.carriers().map((carrier) => carrier.start(events)))
      if (workers) worker.start()
    })
    if (workers) app.sending.queue.afterWrite(() => worker.nudge())
    app.addHook('preClose', async () => {
      await worker.stop()
      await Promise.all(router.carriers().map((carrier) => carrier.stop()))
    })
  },
  {
    name: 'sms-mirror-carrier',
    dependencies: ['sms-mirror-context', 'sms-mirror-sending', 'sms-mirror-callbacks', 'sms-mirror-metrics'],
  },
)
