import type { SwaggerOptions } from '@fastify/swagger'
import type { Config } from '../config.js'
import { OVH_ERROR_CLASS } from '../errors.js'
import { OVH_SECRET_SCHEME } from './docs-signing.js'
import { withOvhDescriptions } from './ovh-descriptions.js'

type Operation = {
  requestBody?: unknown
  security?: unknown[]
  parameters?: { in?: string }[]
  responses?: Record<string, { description?: string; content?: unknown }>
}
/** Its methods' operations (and `servers`, once withServers ran). */
type PathItem = Record<string, Operation>
type OpenApiDocument = {
  openapiObject?: OpenApiDocument
  security?: unknown[]
  servers?: { url: string; description?: string }[]
  paths?: Record<string, PathItem>
  components?: { schemas?: Record<string, unknown> }
}

/** The body of every error answer (src/errors.ts), one component so generated clients type `error`. */
export const ERROR_SCHEMA_NAME = 'ovh.Error'
const ERROR_SCHEMA = {
  type: 'object',
  description: 'An error answer, as OVH sends it: the class names the HTTP status, the message what to fix',
  required: ['class', 'message'],
  properties: {
    class: {
      type: 'string',
      enum: [...new Set(Object.values(OVH_ERROR_CLASS))],
      description: 'e.g. Client::BadRequest',
    },
    message: { type: 'string', description: 'what went wrong and what to fix' },
    errorCode: { type: 'string', description: 'a stable code, on some errors' },
    httpCode: { type: 'string', description: 'the HTTP status line, on some errors (e.g. "409 Conflict")' },
  },
}

const ERROR_DESCRIPTIONS: Record<string, string> = {
  400: 'Invalid input: the message names the field and what it expects',
  401: 'Missing or invalid credentials (signature, consumer key, bearer token)',
  403: 'The credentials do not grant this call (access rules, IP restrictions)',
  404: 'The service or object does not exist (or is not yours)',
  409: 'The object already exists, or conflicts with the current state',
  415: 'The body is not application/json',
  503: 'The database does not answer, retry later',
}

/**
 * Every operation documents its error answers with the one error schema: 400 and 503 always; 401 and
 * 403 when it needs credentials; 404 when a path parameter names something; 409 on POST and PUT; 415
 * when it takes a body. The 200s without a description get "OK" instead of Fastify's "Default Response".
 */
function withErrorResponses(document: OpenApiDocument): OpenApiDocument {
  document.components ??= {}
  document.components.schemas ??= {}
  document.components.schemas[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
  const error = (status: string) => ({
    description: ERROR_DESCRIPTIONS[status] as string,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA_NAME}` } } },
  })
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'delete', 'patch'].includes(method)) continue
      operation.responses ??= {}
      const ok = operation.responses['200']
      if (ok && (ok.description === undefined || ok.description === 'Default Response')) ok.description = 'OK'
      const security = operation.security ?? document.security ?? []
      const secured = security.length > 0
      const statuses = ['400']
      if (secured) statuses.push('401', '403')
      if (path.includes('{')) statuses.push('404')
      if (method === 'post' || method === 'put') statuses.push('409')
      if (operation.requestBody) statuses.push('415')
      statuses.push('503')
      for (const status of statuses) operation.responses[status] ??= error(status)
    }
  }
  return document
}

/** The prefix every OVH route is served under twice (src/app.ts API_PREFIXES): the document's servers. */
const DOCUMENTED_PREFIX = '/1.0'

/**
 * Both `/1.0` and `/v1` as the document's servers, the OVH paths written without them (as OVH's own
 * schema does); our paths outside them (/health, /admin/v1…, /auth/oauth2/token, /cgi-bin…) keep their
 * full path under a path-level server of their own, the service's root.
 */
function withServers(document: OpenApiDocument, publicUrl: string | null): OpenApiDocument {
  const base = publicUrl ?? ''
  document.servers = [
    { url: `${base}/1.0`, description: 'the OVH API, as OVH clients call it (endpoint ovh-eu: …/1.0)' },
    { url: `${base}/v1`, description: 'the same operations under /v1' },
  ]
  const root = [{ url: publicUrl ?? '/', description: 'the service itself (not under /1.0 or /v1)' }]
  const paths: Record<string, PathItem> = {}
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    if (path.startsWith(`${DOCUMENTED_PREFIX}/`)) paths[path.slice(DOCUMENTED_PREFIX.length)] = item
    else paths[path] = { servers: root, ...item } as unknown as PathItem
  }
  document.paths = paths
  return document
}

export function openApiOptions(config: Config): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sms-mirror',
        version: '1.0',
        license: { name: 'MIT', identifier: 'MIT' },
        description:
          'Self-hosted mirror of the OVHcloud SMS API (/sms/{serviceName}/users and what users need around them). ' +
          'The OVH operations are served under both servers, /1.0 (as OVH clients call them) and /v1; their ' +
          'summaries and descriptions are OVH’s own (from OVH’s schema), what sms-mirror adds follows them. ' +
          'The service’s own paths (/health, /admin/v1, /auth/oauth2/token, /cgi-bin/sms/http2sms.cgi) are ' +
          'under the root.',
      },
      components: {
        securitySchemes: {
          ovhApplication: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Application',
            description:
              'OVH application key (AK). Signed requests also carry X-Ovh-Consumer, X-Ovh-Timestamp (Unix seconds, ' +
              'within AUTH_TIME_WINDOW_S of GET /auth/time) and X-Ovh-Signature (see ovhApplicationSecret).',
          },
          ovhConsumer: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Consumer',
            description: 'OVH consumer key (CK), validated, of the same application',
          },
          [OVH_SECRET_SCHEME]: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Signature',
            description:
              'OVH application secret (AS). It is never sent: it signs each request as X-Ovh-Signature = ' +
              '"$1$" + sha1_hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+BODY+"+"+TIMESTAMP), with X-Ovh-Timestamp taken ' +
              'from the server time (GET /auth/time). In /docs the page computes both headers in the browser ' +
              'for every call once the application key, this secret and the consumer key are authorized.',
          },
          oauth2: {
            type: 'oauth2',
            description: 'Service account (client credentials); the token goes in Authorization: Bearer',
            flows: {
              clientCredentials: {
                tokenUrl: '/auth/oauth2/token',
                scopes: { all: 'every call the account is granted' },
              },
            },
          },
          bearerToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'An access token of a service account (POST /auth/oauth2/token), pasted as is',
          },
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, for /admin/v1 only' },
        },
      },
      security: [{ ovhApplication: [], ovhConsumer: [] }, { oauth2: ['all'] }, { bearerToken: [] }],
      tags: [
        { name: 'sms', description: 'SMS accounts' },
        { name: 'sms users', description: 'API users of an SMS account' },
        { name: 'auth', description: 'Authentication' },
        { name: 'service', description: 'Operations of sms-mirror itself' },
        { name: 'admin', description: 'Operator API (ADMIN_TOKEN)' },
      ],
    },
    // The paths are ours to rewrite (servers), hence no base path stripped by @fastify/swagger.
    stripBasePath: false,
    transformObject: (input) => {
      const built = input as OpenApiDocument
      // A copy: the schemas share objects with the routes' (and with each other: callBack, stopCallBack).
      const document = structuredClone(built.openapiObject ?? built)
      return withOvhDescriptions(withServers(withErrorResponses(document), config.publicUrl)) as never
    },
    refResolver: {
      // Component names are the OVH model names (sms.User, sms.Account, …), taken from each schema's $id.
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  }
}
