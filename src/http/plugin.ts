import formbody from '@fastify/formbody'
import type { FastifyReply, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import type { TSchema } from 'typebox'
import { installErrorHandlers, OVH_ERROR_CLASS } from '../errors.js'
import { installRawJsonParser } from './json-body.js'
import { refuseFragments } from './request-target.js'
import { sharedSchemaCompilers } from './schema-compilers.js'
import { formatSchemaErrors } from './schema-errors.js'
import { refuseUnstorableValues } from './storable.js'

/**
 * The Fastify options every instance of ours is built with (the app, and tests that register one
 * plugin): schema errors in OVH's words, OVH's error body for errors met before routing, the router.
 */
export function serverOptions(): FastifyServerOptions {
  return {
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { verbose: true, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
    schemaController: sharedSchemaCompilers,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // Errors Fastify meets before routing (a percent-escape that is not UTF-8): OVH's body too.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send({
        class: OVH_ERROR_CLASS[400],
        message:
          error.code === 'FST_ERR_BAD_URL'
            ? 'Invalid URL: a percent-escape does not decode to UTF-8 text; encode the path in UTF-8'
            : error.message,
      })
    },
  }
}

/**
 * What every route shares before its own code runs, in the order a request meets it: a target with a
 * fragment refused, JSON bodies kept raw (signatures) and bounded in depth, form bodies (OAuth2,
 * http2sms), values PostgreSQL cannot store refused with a 400, OVH-shaped errors; and the models
 * (`sms.User`…) every route refers to, registered once at the root.
 */
export const httpPlugin = fp<{ models: readonly TSchema[] }>(
  async (app, { models }) => {
    installErrorHandlers(app)
    refuseFragments(app)
    refuseUnstorableValues(app)
    installRawJsonParser(app)
    await app.register(formbody, { bodyLimit: 64 * 1024 })
    for (const model of models) app.addSchema(model)
  },
  { name: 'sms-mirror-http' },
)
