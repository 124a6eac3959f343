import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

/**
 * Fastify's own schema compilers (ajv for validation, fast-json-stringify for answers), shared by every
 * Fastify instance of this process and run when a route first needs them rather than when it is
 * registered. Compiling the ~500 route schemas (two prefixes, many statuses) was about a quarter of
 * building the app, at every start and in every test file, for routes most processes never call. The
 * functions are the ones Fastify would have compiled: same compilers, same options, same shared models.
 *
 * - Validation: `@fastify/ajv-compiler` keeps one Ajv per (shared models, options) in a pool, and Ajv
 *   caches what it compiled per schema object; the pool is now per process instead of per instance.
 * - Answers: fast-json-stringify has no cache; compiled functions are kept per (shared models, options)
 *   and per response-schema object (the routes' schemas are module constants, the same objects in
 *   every instance and under both prefixes).
 *
 * A schema that cannot compile fails the first request of its route (a 500) instead of the start: every
 * route is called by the tests (test/fuzz, test/openapi*), which is where such a mistake shows.
 */
const require = createRequire(import.meta.url)

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type Route = { schema: object; httpPart?: string }
type Validate = ((data: unknown) => unknown) & { errors?: unknown }
type Serialize = (data: unknown) => string
type Compile<F> = (route: Route) => F

const fastifyValidators = (
  require('@fastify/ajv-compiler') as () => (e: unknown, o: unknown) => Compile<Validate>
)()
const fastifySerializers = (
  require('@fastify/fast-json-stringify-compiler') as () => (e: unknown, o: unknown) => Compile<Serialize>
)()

/** A validator compiled at its first call; Fastify reads `.errors` after a call that returned false. */
function lazyValidator(compile: () => Validate): Validate {
  let compiled: Validate | undefined
  const validate: Validate = (data) => {
    compiled ??= compile()
    const valid = compiled(data)
    validate.errors = compiled.errors
    return valid
  }
  return validate
}

const buildValidator = ((externalSchemas: unknown, options: unknown) => {
  const compile = fastifyValidators(externalSchemas, options)
  return (route: Route) => lazyValidator(() => compile(route))
}) as unknown as Factories['buildValidator']

const serializerPools = new Map<string, WeakMap<object, Serialize>>()

const buildSerializer = ((externalSchemas: unknown, options: unknown) => {
  const key = `${JSON.stringify(externalSchemas)}${JSON.stringify(options ?? {})}`
  let pool = serializerPools.get(key)
  if (!pool) {
    pool = new WeakMap()
    serializerPools.set(key, pool)
  }
  const compiled = pool
  const compile = fastifySerializers(externalSchemas, options)
  return (route: Route): Serialize => {
    const known = compiled.get(route.schema)
    if (known) return known
    let serialize: Serialize | undefined
    const lazy: Serialize = (data) => {
      serialize ??= compile(route)
      return serialize(data)
    }
    compiled.set(route.schema, lazy)
    return lazy
  }
}) as unknown as Factories['buildSerializer']

/** The `schemaController` option of every Fastify instance of ours (see serverOptions). */
export const sharedSchemaCompilers = { compilersFactory: { buildValidator, buildSerializer } }
