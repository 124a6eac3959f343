import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

/**
 * Fastify's own schema compilers (ajv for validation, fast-json-stringify for answers), shared by every
 * Fastify instance of this process instead of built anew for each. Compiling the routes' schemas is
 * about a quarter of building the app; a process that builds it more than once (a test file with
 * several apps, two replicas in one test) compiles each schema once. The answers are the same
 * functions Fastify would have compiled: same compilers, same options, same shared models.
 *
 * - Validation: `@fastify/ajv-compiler` already keeps one Ajv per (shared models, options) in a pool,
 *   and Ajv caches what it compiled per schema object; the pool was just per instance.
 * - Answers: fast-json-stringify has no cache; compiled functions are kept per (shared models, options)
 *   and per response-schema object (the routes' schemas are module constants, the same objects in
 *   every instance).
 */
const require = createRequire(import.meta.url)

type ValidatorFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildValidator']
type SerializerFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>['buildSerializer']
type SerializerRoute = {
  schema: object
  method: string
  url: string
  httpStatus: string
  contentType?: string
}
type Serialize = (data: unknown) => string

const buildValidator: ValidatorFactory = (require('@fastify/ajv-compiler') as () => ValidatorFactory)()
const fastifySerializers = (require('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)()

const serializerPools = new Map<string, WeakMap<object, Serialize>>()

const buildSerializer: SerializerFactory = (externalSchemas: unknown, options: unknown) => {
  const key = `${JSON.stringify(externalSchemas)}${JSON.stringify(options ?? {})}`
  let pool = serializerPools.get(key)
  if (!pool) {
    pool = new WeakMap()
    serializerPools.set(key, pool)
  }
  const compile = (fastifySerializers as (e: unknown, o: unknown) => (route: SerializerRoute) => Serialize)(
    externalSchemas,
    options,
  )
  const compiled = pool
  return ((route: SerializerRoute) => {
    let serialize = compiled.get(route.schema)
    if (!serialize) {
      serialize = compile(route)
      compiled.set(route.schema, serialize)
    }
    return serialize
  }) as ReturnType<NonNullable<SerializerFactory>>
}

/** The `schemaController` option of every Fastify instance of ours (see serverOptions). */
export const sharedSchemaCompilers = { compilersFactory: { buildValidator, buildSerializer } }
