import { createTransport } from 'nodemailer'

/** One alert e-mail. */
export type AlertMail = { to: string; subject: string; text: string }

/** Sends alert e-mails; a rejection is retried by the dispatcher. */
export type MailSender = {
  send(mail: AlertMail): Promise<void>
  close(): void
}

export type SmtpOptions = {
  /** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  url: string
  /** The From header (ALERT_FROM). */
  from: string
  /** Bounds each step of an SMTP exchange, so an attempt ends well before the dispatcher's lease. */
  timeoutMs?: number
}

/**
 * A nodemailer SMTP transport: one connection per e-mail (alerts are rare). Its errors carry the
 * server's reply, never the credentials of the URL.
 */
export function smtpMailSender(options: SmtpOptions): MailSender {
  const timeout = options.timeoutMs ?? 30_000
  const transport = createTransport({
    url: options.url,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
  })
  return {
    async send(mail) {
      await transport.sendMail({ from: options.from, to: mail.to, subject: mail.subject, text: mail.text })
    },
    close() {
      transport.close()
    },
  }
}
