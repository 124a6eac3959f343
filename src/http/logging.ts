import type { FastifyLoggerOptions } from 'fastify'
import type { LoggerOptions as PinoLoggerOptions } from 'pino'
import { stdSerializers } from 'pino'

/** Query parameters whose values never reach a log line (http2sms carries the user's password). */
const SECRET_QUERY_KEYS =
  /^(password|pass|pwd|secret|token|access_token|client_secret|consumerKey|credentialToken)$/i

/**
 * Query parameters and route parameters that carry phone numbers or message texts (http2sms `to`,
 * `from`, `message`; history filters `receiver`, `sender`; blacklist `number`…): personal data, kept
 * out of log lines unless LOG_PERSONAL_DATA=true.
 */
const PERSONAL_QUERY_KEYS = /^(to|from|message|text|receiver|receivers|sender|senders|number|numbers)$/i
const PERSONAL_ROUTE_PARAMS = new Set(['number', 'sender', 'receiver'])

const REDACTED = '[redacted]'

/** A phone number as stored (E.164, maybe URL-encoded) or written 00…, and an e-mail address. */
const PHONE_NUMBER = /(?<![\w+])(?:\+|%2B|00)\d{7,15}(?!\w)/gi
const EMAIL_ADDRESS = /(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])/g

/** Phone numbers and e-mail addresses of a free text (an error message, a log message) masked. */
export function maskPersonalText(text: string): string {
  return text.replace(PHONE_NUMBER, '[number]').replace(EMAIL_ADDRESS, '[email]')
}

const looksPersonal = (value: string) => maskPersonalText(value) !== value

export function redactUrl(url: string): string {
  return logSafeUrl(url, { personalData: true })
}

/**
 * The URL as a log line may show it: secret query values always redacted; unless `personalData`, the
 * values of personal query keys and route parameters too, and any path segment or query value that
 * looks like a phone number or an e-mail address (routes not matched have no parameter names).
 * `route` is the matched route pattern (`/1.0/sms/:serviceName/blacklists/:number`).
 */
export function logSafeUrl(url: string, options: { personalData: boolean; route?: string }): string {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const query = q < 0 ? '' : url.slice(q + 1)
  const safePath = options.personalData ? path : personalPathRedacted(path, options.route)
  if (query === '') return safePath === path ? url : `${safePath}${q < 0 ? '' : '?'}`
  const params = new URLSearchParams(query)
  let changed = false
  for (const key of new Set(params.keys())) {
    const personal =
      !options.personalData &&
      (PERSONAL_QUERY_KEYS.test(key) || params.getAll(key).some((value) => looksPersonal(value)))
    if (SECRET_QUERY_KEYS.test(key) || personal) {
      params.set(key, REDACTED)
      changed = true
    }
  }
  return `${safePath}?${changed ? params.toString() : query}`
}

function personalPathRedacted(path: string, route: string | undefined): string {
  const segments = path.split('/')
  // A wildcard route (/docs/*) has no segment-by-segment names: judged like an unmatched path.
  const pattern = route && !route.includes('*') ? route.split('/') : undefined
  return segments
    .map((segment, i) => {
      const name = pattern?.[i]?.startsWith(':') ? pattern[i]?.slice(1) : undefined
      if (name !== undefined && PERSONAL_ROUTE_PARAMS.has(name)) return REDACTED
      if (pattern) return segment
      return looksPersonal(decoded(segment)) ? REDACTED : segment
    })
    .join('/')
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/**
 * Fields of error objects that echo the values that caused them: PostgreSQL's `detail`
 * (`Key (number)=(+33…) already exists`), `where` and `internalQuery`; the query parameters PGlite
 * attaches (`params`); ajv's `validation` (with
 * `verbose`, each entry holds the invalid data); an HTTP parser's `rawPacket` (the request bytes,
 * query included); WHATWG URL's `input`.
 */
const ECHOING_ERROR_FIELDS = [
  'detail',
  'where',
  'internalQuery',
  'params',
  'parameters',
  'validation',
  'rawPacket',
  'input',
]

type SerializedError = ReturnType<typeof stdSerializers.err>

/** pino's serializer already folds `cause` into `message` and `stack`. */
function withoutPersonalData(serialized: SerializedError): SerializedError {
  const safe: SerializedError = { ...serialized }
  for (const field of ECHOING_ERROR_FIELDS) if (field in safe) safe[field] = REDACTED
  if (typeof safe.message === 'string') safe.message = maskPersonalText(safe.message)
  if (typeof safe.stack === 'string') safe.stack = maskPersonalText(safe.stack)
  return safe
}

type LoggedRequest = { method: string; url: string; ip?: string; routeOptions?: { url?: string } }

/**
 * pino options shared by the server and the CLI: secrets are redacted from every line; phone
 * numbers, message texts and e-mail addresses too unless `personalData` (LOG_PERSONAL_DATA=true).
 * Beyond the request and error serializers, log messages and the text fields of every line are
 * masked as well: lines other libraries build from a URL (Fastify's "Route GET:/… not found"), and
 * error texts of SMTP servers or callback receivers that quote an address. `pretty` (the server sets it
 * when stdout is a terminal) writes readable lines instead of JSON.
 */
export function loggerOptions(
  level: string,
  { personalData = false, pretty = false }: { personalData?: boolean; pretty?: boolean } = {},
): FastifyLoggerOptions & PinoLoggerOptions {
  return {
    level,
    // A person at a terminal reads lines (pino-pretty, in pino's worker thread); anything else (a pipe,
    // a file, a log collector) gets one JSON object a line. Redaction and masking happen before either.
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', destination: 1 },
          },
        }
      : {}),
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
      censor: REDACTED,
    },
    serializers: {
      req(request: LoggedRequest) {
        const route = request.routeOptions?.url
        return {
          method: request.method,
          url: logSafeUrl(request.url, { personalData, ...(route ? { route } : {}) }),
          remoteAddress: request.ip,
        }
      },
      err(error: Error) {
        const serialized = stdSerializers.err(error)
        return personalData ? serialized : withoutPersonalData(serialized)
      },
    },
    ...(personalData
      ? {}
      : {
          hooks: {
            logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
              method.apply(
                this,
                args.map((arg) => (typeof arg === 'string' ? maskLogMessage(arg) : arg)),
              )
            },
          },
          formatters: {
            log(fields: Record<string, unknown>) {
              let masked: Record<string, unknown> | null = null
              for (const [key, value] of Object.entries(fields)) {
                if (typeof value !== 'string') continue
                const safe = maskLogMessage(value)
                if (safe === value) continue
                masked ??= { ...fields }
                masked[key] = safe
              }
              return masked ?? fields
            },
          },
        }),
  }
}

/** URLs inside a message lose their personal query values; numbers and addresses are masked. */
function maskLogMessage(message: string): string {
  const urlsMasked = message.replace(/(\/[^\s"'?]*)\?([^\s"']*)/g, (_, path: string, query: string) =>
    logSafeUrl(`${path}?${query}`, { personalData: false }),
  )
  return maskPersonalText(urlsMasked)
}
