import type { FastifyError, FastifyInstance } from 'fastify'

/** The error classes OVH's API answers with, keyed by HTTP status. */
export const OVH_ERROR_CLASS = {
  400: 'Client::BadRequest',
  401: 'Client::Unauthorized',
  403: 'Client::Forbidden',
  404: 'Client::NotFound',
  405: 'Client::MethodNotAllowed',
  409: 'Client::Conflict',
  413: 'Client::RequestEntityTooLarge',
  415: 'Client::UnsupportedMediaType',
  429: 'Client::TooManyRequests',
  500: 'Server::InternalServerError',
  503: 'Server::ServiceUnavailable',
} as const

export type HttpStatus = keyof typeof OVH_ERROR_CLASS

/** The JSON body of every error answer, as OVH clients read it. */
export type OvhErrorBody = {
  class: string
  message: string
  errorCode?: string
  httpCode?: string
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

/** An error a client caused (or a known server condition), answered with its real message. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: HttpStatus,
    message: string,
    readonly errorCode?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }

  body(): OvhErrorBody {
    const body: OvhErrorBody = { class: OVH_ERROR_CLASS[this.statusCode], message: this.message }
    if (this.errorCode) {
      body.errorCode = this.errorCode
      body.httpCode = `${this.statusCode} ${REASON[this.statusCode]}`
    }
    return body
  }
}

export const badRequest = (message: string) => new ApiError(400, message)
export const notFound = (message: string) => new ApiError(404, message)
export const conflict = (message: string) => new ApiError(409, message)

/** A rule JSON Schema cannot express, broken: a 400 naming the field and the rule, as schema errors do. */
export const invalid = (field: string, rule: string) => badRequest(`Invalid ${field}: expected ${rule}`)

export const SERVICE_NOT_FOUND = 'This service does not exist'

function statusClass(status: number): string {
  return (
    (OVH_ERROR_CLASS as Record<number, string>)[status] ?? (status < 500 ? 'Client::Error' : 'Server::Error')
  )
}

const CLIENT_ERROR_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY:
    'Invalid body: empty while Content-Type is application/json; send a JSON value',
  FST_ERR_CTP_INVALID_MEDIA_TYPE:
    'Unsupported Content-Type: send the body as JSON with Content-Type: application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'Invalid body: larger than the 1 MiB this API accepts',
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large, validation) keep their status. */
function fromFastifyError(error: FastifyError): (OvhErrorBody & { status: number }) | null {
  if (error.validation) {
    return { status: 400, class: statusClass(400), message: error.message }
  }
  const status = error.statusCode
  if (status && status >= 400 && status < 500) {
    const message = CLIENT_ERROR_MESSAGES[error.code] ?? error.message
    return { status, class: statusClass(status), message }
  }
  return null
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'])
const CONNECTION_ERROR_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error',
  'timeout exceeded when trying to connect',
  // pg's connect timeout and statement timeout (see DbTimeouts): a server that stopped answering.
  'timeout expired',
  'Query read timeout',
  // What the ROLLBACK of a transaction whose statement timed out meets (its connection was closed).
  'Client was closed and is not queryable',
]

/**
 * The database cannot be reached (down, restarting, shutting down, connection lost): a condition to
 * answer 503 for, not a bug. SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, not
 * accepting connections yet), 53300 (too many connections); socket errors; pg's own connection errors.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') {
    if (code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true
    if (CONNECTION_ERROR_CODES.has(code)) return true
  }
  return CONNECTION_ERROR_MESSAGES.some((prefix) => error.message.startsWith(prefix))
}

/** Installs the OVH-shaped error and not-found handlers. 5xx answers never carry internals. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, 'server error')
      return reply.code(error.statusCode).send(error.body())
    }
    const client = fromFastifyError(error as FastifyError)
    if (client) {
      const { status, ...body } = client
      return reply.code(status).send(body)
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable')
      return reply
        .code(503)
        .send({ class: OVH_ERROR_CLASS[503], message: 'The database does not answer, retry later' })
    }
    request.log.error({ err: error }, 'unhandled error')
    return reply
      .code(500)
      .send({ class: OVH_ERROR_CLASS[500], message: 'Internal server error, the incident has been logged' })
  })

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      class: OVH_ERROR_CLASS[404],
      message: `Got an invalid (or empty) URL: ${request.method} ${request.url.split('?')[0]} is not a route of this API`,
    })
  })
}
