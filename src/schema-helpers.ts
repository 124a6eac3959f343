import { type Static, type TSchema, type TUnsafe, Type } from 'typebox'

/** A reference to a model registered with `app.addSchema`, typed as the model itself. */
export function ref<T extends TSchema & { $id?: string }>(schema: T): TUnsafe<Static<T>> {
  if (!schema.$id) throw new Error('ref() needs a schema with $id')
  return Type.Unsafe<Static<T>>({ $ref: `${schema.$id}#` } as unknown as TSchema)
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
