import fp from 'fastify-plugin'
import { createSendQueue, type Sending } from './service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The send queue (group commit) and the clock every send entry point uses. */
    sending: Sending
  }
}

/**
 * The send queue: every entry point (REST jobs, http2sms, limit alerts, SMPP) queues its checked
 * requests here; `sending.queue.afterWrite` tells the workers that read what it wrote.
 */
export const sendingPlugin = fp(
  async (app) => {
    app.decorate('sending', { queue: createSendQueue(app.db, app.config.rates), clock: app.clock })
  },
  { name: 'sms-mirror-sending', dependencies: ['sms-mirror-context'] },
)
