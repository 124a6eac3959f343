import { Type } from 'typebox'
import { nullable } from '../http/schema.js'

export const Blacklist = Type.Object(
  {
    batchID: nullable(Type.String({ format: 'uuid' })),
    dateCreation: Type.String({ format: 'date-time' }),
    number: Type.String(),
    smsOutgoingID: nullable(Type.Integer()),
  },
  { $id: 'sms.Blacklist', additionalProperties: false },
)

export const blacklistModels = [Blacklist]
