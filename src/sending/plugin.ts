import fp from 'fastify-plugin'
import { RoutingTable } from '../carrier/router.js'
import { SendReadCache } from './read-cache.js'
import type { WriteSends } from './send-steps.js'
import { writeSends } from './send-steps.js'
import { createSendQueue, type Sending } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The send queue (group commit) and the clock every send entry point uses; `write` runs the same
     * send steps inside a caller's transaction (an automatic reply written with the message it answers).
     */
    sending: Sending & { write: WriteSends; readCache: SendReadCache }
  }
}

/**
 * The send queue: every entry point (REST jobs, http2sms, limit alerts, SMPP) queues its checked
 * requests here; `sending.queue.afterWrite` tells the workers that read what it wrote. Receivers no
 * configured carrier takes are refused there, with the routing table the sending worker uses. What
 * batches read about their accounts is kept between batches (SendReadCache), from ready to close.
 */
export const sendingPlugin = fp(
  async (app) => {
    const { config } = app
    const routes = new RoutingTable(config.carriers)
    const routable = (receiver: string) => routes.carrierFor(receiver) !== null
    const cache = await SendReadCache.follow(app.database, app.log)
    app.addHook('onClose', () => cache.stop())
    app.decorate('sending', {
      queue: createSendQueue(app.db, config.rates, { routable, cache }),
      readCache: cache,
      clock: app.clock,
      write: (trx, batch) => writeSends(trx, batch, config.rates, routable),
    })
  },
  { name: 'sms-mirror-sending', dependencies: ['sms-mirror-context'] },
)
