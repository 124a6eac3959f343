import fp from 'fastify-plugin'
import { AlertDispatcher, sendAlertSmsWith } from './dispatcher.js'
import { smtpMailSender } from './mail.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Sends limit alerts (mail, SMS) raised by sends. */
    alertDispatcher: AlertDispatcher
  }
}

/**
 * The limit-alert dispatcher and its SMTP transport (when SMTP_URL is set). SMS alerts go through the
 * send queue like any send. With `workers`, it runs in the background, woken after each batch of sends.
 */
export const alertsPlugin = fp<{ workers: boolean }>(
  async (app, { workers }) => {
    const { config } = app
    const mail = config.alerts.smtpUrl
      ? smtpMailSender({ url: config.alerts.smtpUrl, from: config.alerts.from })
      : null
    const dispatcher = new AlertDispatcher({
      db: app.db,
      clock: app.clock,
      log: app.log,
      mail,
      sendSms: sendAlertSmsWith(app.sending),
      openSecret: (sealed) => app.secretBox.open(sealed),
      options: { pollMs: config.sendingPollMs, retrySchedule: config.alerts.retryScheduleMs },
    })
    app.decorate('alertDispatcher', dispatcher)
    if (workers) {
      app.sending.queue.afterWrite(() => dispatcher.nudge())
      app.addHook('onReady', async () => dispatcher.start())
      app.addHook('preClose', () => dispatcher.stop())
    }
    app.addHook('onClose', async () => mail?.close())
  },
  { name: 'sms-mirror-alerts', dependencies: ['sms-mirror-context', 'sms-mirror-sending'] },
)
