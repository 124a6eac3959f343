import { Type } from 'typebox'
import { nullable, readOnly, ref } from '../http/schema.js'

export const DocumentWayTypeEnum = Type.Enum(['incoming', 'outgoing'], {
  $id: 'sms.DocumentWayTypeEnum',
  type: 'string',
  description: 'one of incoming, outgoing',
})

/** complex.SafeKeyValue<string>: the tags of a /me document. */
export const SafeKeyValueString = Type.Object(
  { key: readOnly(Type.String()), value: readOnly(Type.String()) },
  { $id: 'complex.SafeKeyValue_string', additionalProperties: false },
)

/**
 * OVH's /me document (`nichandle.document.Document`, from OVH's /1.0/me.json, not in the sms
 * schema): every field read-only. `getUrl` downloads the file without credentials; `putUrl` is
 * empty (documents are not uploaded here); `size` is 0 until the file was downloaded in full once
 * (it is generated while it is downloaded).
 */
export const Document = Type.Object(
  {
    creationDate: readOnly(Type.String({ format: 'date-time' })),
    expirationDate: readOnly(nullable(Type.String({ format: 'date-time' }))),
    getUrl: readOnly(Type.String()),
    id: readOnly(Type.String()),
    name: readOnly(Type.String()),
    putUrl: readOnly(Type.String()),
    size: readOnly(Type.Integer()),
    tags: readOnly(Type.Array(ref(SafeKeyValueString))),
    validity: readOnly(nullable(Type.String({ format: 'date-time' }))),
  },
  { $id: 'nichandle.document.Document', additionalProperties: false },
)

export const documentModels = [DocumentWayTypeEnum, SafeKeyValueString, Document]
