import type { SwaggerOptions } from '@fastify/swagger'
import type { Config } from './config.js'

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
      tags: [
        { name: 'sms', description: 'SMS accounts' },
        { name: 'sms users', description: 'API users of an SMS account' },
        { name: 'auth', description: 'Authentication' },
        { name: 'service', description: 'Operations of sms-mirror itself' },
      ],
    },
    refResolver: {
      // Component names are the OVH model names (sms.User, sms.Account, …), taken from each schema's $id.
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  }
}
