import { Type } from 'typebox'

const DateTime = Type.String({ format: 'date-time', readOnly: true })

export const Incoming = Type.Object(
  {
    creationDatetime: DateTime,
    credits: Type.Number({ readOnly: true }),
    id: Type.Integer({ readOnly: true }),
    message: Type.String({ readOnly: true }),
    sender: Type.String({ readOnly: true }),
    tag: Type.String({ readOnly: true }),
  },
  { $id: 'sms.Incoming', additionalProperties: false },
)

export const incomingModels = [Incoming]
