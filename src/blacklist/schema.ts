import { Type } from 'typebox'
import { nullable, readOnly } from '../http/schema.js'

export const Blacklist = Type.Object(
  {
    batchID: readOnly(nullable(Type.String({ format: 'uuid' }))),
    dateCreation: Type.String({ format: 'date-time', readOnly: true }),
    number: Type.String({ readOnly: true }),
    smsOutgoingID: readOnly(nullable(Type.Integer())),
  },
  { $id: 'sms.Blacklist', additionalProperties: false },
)

export const blacklistModels = [Blacklist]
