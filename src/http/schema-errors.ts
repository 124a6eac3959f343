import type { FastifySchemaValidationError, SchemaErrorDataVar } from 'fastify/types/schema.js'
import { ApiError } from '../errors.js'

type AjvError = FastifySchemaValidationError & { parentSchema?: { description?: string } }

/**
 * Turns the first schema violation into a 400 that names the field and the rule, e.g.
 * `Invalid login: expected 6 to 40 letters or digits`. The rule text is the schema's description,
 * so the OpenAPI document and the error messages say the same thing.
 */
export function formatSchemaErrors(
  errors: FastifySchemaValidationError[],
  dataVar: SchemaErrorDataVar,
): Error {
  const error = errors[0] as AjvError | undefined
  if (!error) return new ApiError(400, `Invalid ${dataVar}`)
  const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.')
  const where = dataVar === 'body' ? '' : `${dataVar} `
  const params = error.params as Record<string, unknown>
  let message: string
  switch (error.keyword) {
    case 'required':
      message = `Missing ${where}parameter: ${path ? `${path}.` : ''}${String(params.missingProperty)}`
      break
    case 'additionalProperties':
      message = `Invalid ${where}parameter: ${path ? `${path}.` : ''}${String(params.additionalProperty)} is not a known field`
      break
    case 'type': {
      const field = path || dataVar
      const expected = String(params.type).replace(',', ' or ')
      message =
        dataVar === 'body' && !path
          ? `Invalid body: expected a JSON ${expected}`
          : `Invalid ${where}${field}: expected ${expected === 'integer' ? 'an integer' : `a ${expected}`}`
      break
    }
    default: {
      const rule = error.parentSchema?.description ?? error.message ?? 'a valid value'
      message = `Invalid ${where}${path || dataVar}: expected ${rule}`
    }
  }
  return new ApiError(400, message)
}
