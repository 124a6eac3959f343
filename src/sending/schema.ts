import { Type } from 'typebox'
import { nullable, readOnly, ref } from '../http/schema.js'

export const MAX_MESSAGE_LENGTH = 5000
export const MAX_RECEIVERS = 1000
export const MAX_TAG_LENGTH = 20

export const ClassEnum = Type.Enum(['flash', 'phoneDisplay', 'sim', 'toolkit'], {
  $id: 'sms.ClassEnum',
  type: 'string',
  description: 'one of flash, phoneDisplay, sim, toolkit',
})
export const CodingEnum = Type.Enum(['7bit', '8bit'], {
  $id: 'sms.CodingEnum',
  type: 'string',
  description: 'one of 7bit, 8bit',
})
export const CharsetEnum = Type.Enum(['UTF-8'], {
  $id: 'sms.CharsetEnum',
  type: 'string',
  description: 'UTF-8',
})
export const PriorityEnum = Type.Enum(['high', 'low', 'medium', 'veryLow'], {
  $id: 'sms.PriorityEnum',
  type: 'string',
  description: 'one of high, low, medium, veryLow',
})

/** Body of POST …/jobs (user and account level alike). */
export const JobBody = Type.Object(
  {
    charset: Type.Optional(ref(CharsetEnum)),
    class: Type.Optional(ref(ClassEnum)),
    coding: Type.Optional(ref(CodingEnum)),
    differedPeriod: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 525600,
        description: 'minutes to wait before sending, 0 to 525600',
      }),
    ),
    message: Type.String({
      minLength: 1,
      maxLength: MAX_MESSAGE_LENGTH,
      description: `the text to send, 1 to ${MAX_MESSAGE_LENGTH} characters`,
    }),
    noStopClause: Type.Optional(Type.Boolean({ description: 'true or false' })),
    priority: Type.Optional(ref(PriorityEnum)),
    receivers: Type.Optional(
      Type.Array(Type.String({ maxLength: 32, description: 'an international number (+33… or 0033…)' }), {
        maxItems: MAX_RECEIVERS,
        description: `1 to ${MAX_RECEIVERS} international numbers (+33… or 0033…)`,
      }),
    ),
    receiversDocumentUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    receiversSlotId: Type.Optional(Type.String({ maxLength: 64 })),
    sender: Type.Optional(Type.String({ maxLength: 64, description: 'an enabled sender of the account' })),
    senderForResponse: Type.Optional(Type.Boolean({ description: 'true or false' })),
    tag: Type.Optional(
      Type.String({ maxLength: MAX_TAG_LENGTH, description: `at most ${MAX_TAG_LENGTH} characters` }),
    ),
    validityPeriod: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 4320, description: 'minutes the carrier may try, 1 to 4320' }),
    ),
  },
  { additionalProperties: false },
)

export const SmsSendingReport = Type.Object(
  {
    ids: Type.Array(Type.Integer()),
    invalidReceivers: Type.Array(Type.String()),
    tag: Type.String(),
    totalCreditsRemoved: Type.Number(),
    validReceivers: Type.Array(Type.String()),
  },
  { $id: 'sms.SmsSendingReport', additionalProperties: false },
)

const DateTime = Type.String({ format: 'date-time', readOnly: true })

const jobFields = {
  creationDatetime: DateTime,
  credits: Type.Number({ readOnly: true }),
  deliveredAt: readOnly(nullable(DateTime)),
  deliveryReceipt: Type.Integer({ readOnly: true }),
  differedDelivery: Type.Integer({ readOnly: true }),
  id: Type.Integer({ readOnly: true }),
  message: Type.String({ readOnly: true }),
  messageLength: Type.Integer({ readOnly: true }),
  numberOfSms: Type.Integer({ readOnly: true }),
  ptt: Type.Integer({ readOnly: true }),
  receiver: Type.String({ readOnly: true }),
  sender: Type.String({ readOnly: true }),
  sentAt: readOnly(nullable(DateTime)),
}

export const Job = Type.Object(jobFields, { $id: 'sms.Job', additionalProperties: false })

export const Outgoing = Type.Object(
  {
    ...jobFields,
    batchID: readOnly(nullable(Type.String({ format: 'uuid' }))),
    messageID: readOnly(nullable(Type.String({ format: 'uuid' }))),
    tag: Type.String({ readOnly: true }),
    tariffCode: Type.String({ readOnly: true }),
  },
  { $id: 'sms.Outgoing', additionalProperties: false },
)

export const Hlr = Type.Object(
  {
    country: Type.String({ readOnly: true }),
    countryCode: Type.String({ readOnly: true }),
    network: Type.String({ readOnly: true }),
    operator: Type.String({ readOnly: true }),
    region: Type.String({ readOnly: true }),
  },
  { $id: 'sms.Hlr', additionalProperties: false },
)

export const sendingModels = [
  ClassEnum,
  CodingEnum,
  CharsetEnum,
  PriorityEnum,
  SmsSendingReport,
  Job,
  Outgoing,
  Hlr,
]
