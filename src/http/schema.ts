import { type Static, type TSchema, type TUnsafe, Type } from 'typebox'

/** A reference to a model registered with `app.addSchema`, typed as the model itself. */
export function ref<T extends TSchema & { $id?: string }>(
  schema: T,
  options: { readOnly?: boolean; description?: string } = {},
): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('ref() needs a schema with $id')
  const target = { $ref: `${schema.$id}#` }
  // @fastify/swagger drops the keywords beside a $ref (OpenAPI 3.0's rule): annotations go around it.
  const wrapped = Object.keys(options).length > 0 ? { allOf: [target], ...options } : target
  return Type.Unsafe<Static<T>>(wrapped as unknown as TSchema)
}

/** A reference to a model, or null (OVH's `canBeNull` on a model- or enum-typed property). */
export function nullableRef<T extends TSchema & { $id?: string }>(
  schema: T,
  options: { readOnly?: boolean; description?: string } = {},
): TUnsafe<Static<T> | null> {
  if (!schema.$id) throw new Error('nullableRef() needs a schema with $id')
  return Type.Unsafe<Static<T> | null>({
    anyOf: [{ $ref: `${schema.$id}#` }, { type: 'null' }],
    ...options,
  } as unknown as TSchema)
}

/**
 * OVH's `readOnly`: the server owns the field (generated clients leave it out of what they send). Only
 * an annotation: PUT routes still accept the current value, as OVH's clients send the whole model back.
 */
export function readOnly<T extends TSchema>(schema: T): TUnsafe<Static<T>> {
  return Type.Unsafe<Static<T>>({ ...schema, readOnly: true } as unknown as TSchema)
}

/** `type: [T, "null"]` rather than anyOf, so serialisation stays on fast-json-stringify's fast path. */
export function nullable<T extends TSchema>(schema: T): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as unknown as { type: string }
  if (typeof type !== 'string') throw new Error('nullable() takes a schema with a single primitive type')
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] } as unknown as TSchema)
}

/** OVH's `void` answer: HTTP 200 with a JSON `null` body. */
export const Void = Type.Null({ description: 'void' })

export const ServiceNameParam = Type.String({
  description: 'SMS account name, e.g. sms-ab12345-1',
  maxLength: 100,
})

/** OVH's datetime: ISO-8601 with an offset and no fraction, e.g. 2026-11-26T12:00:00+00:00. */
export const ovhDateTime = (date: Date): string => `${date.toISOString().slice(0, 19)}+00:00`

/** A path id (positive integer within JavaScript's exact range). */
export const IdParam = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: 'an id (positive integer)',
})

/** A filter on an integer (int4) column: a value out of its range could only fail the query. */
export const IntFilter = (description: string) =>
  Type.Optional(
    Type.Integer({
      minimum: -2147483648,
      maximum: 2147483647,
      description: `${description}, from -2147483648 to 2147483647`,
    }),
  )

export const TextFilter = (description: string) => Type.Optional(Type.String({ maxLength: 100, description }))

export const DateTimeFilter = (description: string) =>
  Type.Optional(Type.String({ format: 'date-time', description }))
