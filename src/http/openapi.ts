import type { SwaggerOptions } from '@fastify/swagger'
import type { Config } from '../config.js'

export function openApiOptions(config: Config): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sms-mirror',
        version: '1.0',
        description:
          'Self-hosted mirror of the OVHcloud SMS API (/sms/{serviceName}/users and what users need around them). ' +
          'Paths are served under /1.0 (as OVH clients call them) and /v1.',
      },
      servers: [{ url: config.publicUrl ?? '/' }],
      components: {
        securitySchemes: {
          ovhApplication: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Application',
            description: 'application key',
          },
          ovhConsumer: { type: 'apiKey', in: 'header', name: 'X-Ovh-Consumer', description: 'consumer key' },
          ovhTimestamp: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Timestamp',
            description: 'Unix seconds, within AUTH_TIME_WINDOW_S of GET /auth/time',
          },
          ovhSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Ovh-Signature',
            description: '"$1$" + sha1_hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+BODY+"+"+TIMESTAMP)',
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
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, for /admin/v1 only' },
        },
      },
      security: [
        { ovhApplication: [], ovhConsumer: [], ovhTimestamp: [], ovhSignature: [] },
        { oauth2: ['all'] },
      ],
      tags: [
        { name: 'sms', description: 'SMS accounts' },
        { name: 'sms users', description: 'API users of an SMS account' },
        { name: 'auth', description: 'Authentication' },
        { name: 'service', description: 'Operations of sms-mirror itself' },
        { name: 'admin', description: 'Operator API (ADMIN_TOKEN)' },
      ],
    },
    refResolver: {
      // Component names are the OVH model names (sms.User, sms.Account, …), taken from each schema's $id.
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  }
}
