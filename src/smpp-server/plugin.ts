import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import { SmppServer } from './server.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The SMPP server of smpp- accounts; src/server.ts makes it listen (tests call listen({port: 0})). */
    smppServer: SmppServer
  }
}

/**
 * The SMPP server: built here, listening only when asked (like the HTTP server, buildApp never
 * listens), unbound and closed before the app closes its database.
 */
export const smppServerPlugin = fp(
  async (app) => {
    const { config, metrics } = app
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
      },
    })
    metrics.setSmppSessions(() => server.sessionCounts())
    app.decorate('smppServer', server)
    app.addHook('preClose', () => server.close())
  },
  {
    name: 'sms-mirror-smpp-server',
    dependencies: ['sms-mirror-context', 'sms-mirror-sending', 'sms-mirror-metrics'],
  },
)
