import type { FastifyServerOptions } from 'fastify'

/** Query parameters whose values never reach a log line (http2sms carries the user's password). */
const SECRET_QUERY_KEYS = /^(password|pass|pwd|secret|token|access_token|client_secret|consumerKey|credentialToken)$/i

export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return url
  const params = new URLSearchParams(url.slice(q + 1))
  let changed = false
  for (const key of new Set(params.keys())) {
    if (SECRET_QUERY_KEYS.test(key)) {
      params.set(key, '[redacted]')
      changed = true
    }
  }
  return changed ? `${url.slice(0, q)}?${params.toString()}` : url
}

/** pino options shared by the server and the CLI: secrets are redacted from every line. */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-ovh-signature"]',
        'req.headers["x-ovh-consumer"]',
        '*.password',
        '*.secret',
        '*.applicationSecret',
        '*.clientSecret',
        '*.consumerKey',
        '*.access_token',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req(request: { method: string; url: string; ip?: string }) {
        return { method: request.method, url: redactUrl(request.url), remoteAddress: request.ip }
      },
    },
  }
}
