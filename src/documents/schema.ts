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
 * OVH's /me document (`nichandle.document.Document`, checked against OVH's /1.0/me.json as copied in
 * UrielCh/api-ovh-node `code/gen/models/ovh-api/me.ts`, "imported from https://eu.api.ovh.com/1.0/me.json";
 * not in the sms schema): every field read-only but `expirationDate`. `getUrl` downloads the file
 * without credentials; `putUrl` takes the file of an uploaded document (empty for exports); `size` is
 * the bytes uploaded (exports: 0 until downloaded in full once); `validationDate` is always null (OVH
 * sets it once its staff checked a document; nothing is checked here).
 */
export const Document = Type.Object(
  {
    creationDate: readOnly(Type.String({ format: 'date-time' })),
    expirationDate: nullable(Type.String({ format: 'date-time' })),
    getUrl: readOnly(Type.String()),
    id: readOnly(Type.String({ format: 'uuid' })),
    name: readOnly(Type.String()),
    putUrl: readOnly(Type.String()),
    size: readOnly(Type.Integer()),
    tags: readOnly(Type.Array(ref(SafeKeyValueString))),
    validationDate: readOnly(nullable(Type.String({ format: 'date-time' }))),
  },
  { $id: 'nichandle.document.Document', additionalProperties: false },
)

const TagInput = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }),
    value: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
  },
  { additionalProperties: false },
)

/** POST /me/document, as OVH: `name` and optional `tags`. */
export const DocumentCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255, description: 'the file name, 1 to 255 characters' }),
    tags: Type.Optional(Type.Array(TagInput, { maxItems: 20, description: 'at most 20 tags, keys unique' })),
  },
  { additionalProperties: false, description: 'the document to create; then PUT its file to putUrl' },
)

/** OVH's sms.SenderDocument: a document that backs a sender's validation request. */
export const SenderDocument = Type.Object(
  {
    createdAt: readOnly(Type.String({ format: 'date-time' })),
    description: nullable(Type.String()),
    documentID: readOnly(Type.String({ format: 'uuid' })),
    getUrl: readOnly(Type.String()),
    name: Type.String(),
    putUrl: readOnly(nullable(Type.String())),
    size: readOnly(Type.Integer()),
  },
  { $id: 'sms.SenderDocument', additionalProperties: false },
)

const DocumentName = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'the document name, 1 to 255 characters',
})
const DocumentDescription = Type.String({ maxLength: 1000, description: 'at most 1000 characters' })

export const SenderDocumentCreate = Type.Object(
  { description: Type.Optional(DocumentDescription), name: DocumentName },
  { additionalProperties: false, description: 'the document to create; then PUT its file to putUrl' },
)

const readOnlyNote = 'read-only: accepted only when equal to the current value'
/** PUT body: sms.SenderDocument with every field optional; read-only fields are checked, not written. */
export const SenderDocumentUpdate = Type.Object(
  {
    createdAt: Type.Optional(Type.String({ format: 'date-time', description: readOnlyNote })),
    description: Type.Optional(nullable(DocumentDescription)),
    documentID: Type.Optional(Type.String({ format: 'uuid', description: readOnlyNote })),
    getUrl: Type.Optional(Type.String({ description: readOnlyNote })),
    name: Type.Optional(DocumentName),
    putUrl: Type.Optional(nullable(Type.String({ description: readOnlyNote }))),
    size: Type.Optional(Type.Integer({ description: readOnlyNote })),
  },
  {
    additionalProperties: false,
    description: 'sms.SenderDocument fields to change (name, description); fields not sent keep their value',
  },
)

export const documentModels = [DocumentWayTypeEnum, SafeKeyValueString, Document, SenderDocument]
