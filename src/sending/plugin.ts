import fp from 'fastify-plugin'
import { RoutingTable } from '../carrier/router.js'
import { createSendQueue, type Sending } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The send queue (group commit) and the clock every send entry point uses. */
    sending: Sending
  }
}

/**
 * The send queue: every entry point (REST jobs, http2sms, limit alerts, SMPP) queues its checked
 * requests here; `sending.queue.afterWrite` tells the workers that read what it wrote. Receivers no
 * configured carrier takes are refused there, with the routing table the sending worker uses.
 */
export const sendingPlugin = fp(
  async (app) => {
    const { config } = app
    const routes = new RoutingTable(config.carriers)
    app.decorate('sending', {
      queue: createSendQueue(app.db, config.rates, {
        routable: (receiver) => routes.carrierFor(receiver) !== null,
      }),
      clock: app.clock,
    })
  },
  { name: 'sms-mirror-sending', dependencies: ['sms-mirror-context'] },
)
