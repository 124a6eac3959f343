import { Type } from 'typebox'

const DateTime = Type.String({ format: 'date-time' })

export const Incoming = Type.Object(
  {
    creationDatetime: DateTime,
    credits: Type.Number(),
    id: Type.Integer(),
    message: Type.String(),
    sender: Type.String(),
    tag: Type.String(),
  },
  { $id: 'sms.Incoming', additionalProperties: false },
)

export const incomingModels = [Incoming]
