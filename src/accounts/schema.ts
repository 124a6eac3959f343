import { type TProperties, Type } from 'typebox'
import { nullable, ref } from '../http/schema.js'

export const SERVICE_NAME_PATTERN = '^(sms|smpp)-[a-z0-9][a-z0-9-]{0,60}$'

export const StatusAccountEnum = Type.Enum(['disable', 'enable'], { $id: 'sms.StatusAccountEnum' })
export const ChannelEnum = Type.Enum(['both', 'marketing', 'transactional'], { $id: 'sms.ChannelEnum' })
export const ResponseTypeEnum = Type.Enum(['cgi', 'none', 'text'], {
  $id: 'sms.ResponseTypeEnum',
  description: 'one of cgi, none, text',
})
export const ResponseTrackingMediaEnum = Type.Enum(['email', 'sms', 'voice'], {
  $id: 'sms.ResponseTrackingMediaEnum',
  description: 'one of email, sms, voice',
})
export const AUTOMATIC_RECREDIT_AMOUNTS = [100, 200, 250, 500, 1000, 5000, 10000] as const
export const PackQuantityAutomaticRecreditEnum = Type.Unsafe<
  (typeof AUTOMATIC_RECREDIT_AMOUNTS)[number] | null
>({
  $id: 'sms.PackQuantityAutomaticRecreditEnum',
  type: ['integer', 'null'],
  enum: [...AUTOMATIC_RECREDIT_AMOUNTS, null],
  description: `one of ${AUTOMATIC_RECREDIT_AMOUNTS.join(', ')}, or null`,
})

const Text = (description: string) => nullable(Type.String({ maxLength: 4096, description }))

export const ResponseTrackingOptions = Type.Object(
  {
    media: ref(ResponseTrackingMediaEnum),
    sender: Type.String({ maxLength: 64 }),
    target: Type.String({ maxLength: 255 }),
  },
  { $id: 'sms.ResponseTrackingOptions', additionalProperties: false },
)

const responseFields = {
  cgiUrl: Text('URL called with replies when responseType is cgi'),
  responseType: ref(ResponseTypeEnum),
  text: Text('automatic text reply when responseType is text'),
  trackingDefaultSmsSender: Text('default sender for tracking SMS'),
  trackingOptions: Type.Unsafe<{ media: 'email' | 'sms' | 'voice'; sender: string; target: string }[] | null>(
    {
      type: ['array', 'null'],
      maxItems: 20,
      items: { $ref: 'sms.ResponseTrackingOptions#' },
    },
  ),
}
export const Response = Type.Object(responseFields, { $id: 'sms.Response', additionalProperties: false })

const templatesFields = {
  customizedEmailMode: Type.Boolean(),
  customizedSmsMode: Type.Boolean(),
  emailBody: Text('e-mail body'),
  emailFrom: Text('e-mail sender'),
  emailSubject: Text('e-mail subject'),
  smsBody: Text('SMS body'),
}
export const Templates = Type.Object(templatesFields, { $id: 'sms.Templates', additionalProperties: false })

export const ResourceMetadata = Type.Object(
  {
    displayName: nullable(Type.String()),
    id: Type.String({ format: 'uuid' }),
    tags: Type.Unsafe<Record<string, string> | null>({
      type: ['object', 'null'],
      additionalProperties: { type: 'string' },
    }),
    urn: Type.String(),
  },
  { $id: 'iam.ResourceMetadata', additionalProperties: false },
)

const CallbackUrl = nullable(
  Type.String({ maxLength: 2048, description: 'absolute http:// or https:// URL; null or empty to clear' }),
)
const Credits = (description: string) => Type.Number({ description })

const accountFields = {
  automaticRecreditAmount: PackQuantityAutomaticRecreditEnum,
  callBack: CallbackUrl,
  channel: ref(ChannelEnum),
  creditThresholdForAutomaticRecredit: Type.Number({ minimum: 0, description: 'credits, ≥ 0' }),
  creditsHoldByQuota: Credits('credits given to users with an active quota (read-only)'),
  creditsLeft: Credits('credits the account can still spend or give (read-only)'),
  description: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
  name: Type.String({ description: 'service name (read-only)' }),
  smpp: Type.Boolean({ description: 'account usable over SMPP (read-only)' }),
  smsResponse: ref(Response),
  status: ref(StatusAccountEnum),
  stopCallBack: CallbackUrl,
  templates: ref(Templates),
  userQuantityWithQuota: Type.Integer({ description: 'users with an active quota (read-only)' }),
}

export const Account = Type.Object(accountFields, { $id: 'sms.Account', additionalProperties: false })

export const AccountWithIAM = Type.Object(
  { ...accountFields, iam: ref(ResourceMetadata) },
  { $id: 'sms.AccountWithIAM', additionalProperties: false },
)

/**
 * PUT body: sms.Account with every field optional; read-only fields are checked, not written.
 * Type.Partial drops the options of the object it copies, so `additionalProperties: false` is given
 * to Partial itself: unknown keys are then removed by validation instead of stored in the JSON columns.
 */
const closedPartial = <T extends TProperties>(fields: T) =>
  Type.Partial(Type.Object(fields), { additionalProperties: false })

export const AccountUpdate = closedPartial({
  ...accountFields,
  smsResponse: closedPartial(responseFields),
  templates: closedPartial(templatesFields),
})

export const accountModels = [
  StatusAccountEnum,
  ChannelEnum,
  ResponseTypeEnum,
  ResponseTrackingMediaEnum,
  PackQuantityAutomaticRecreditEnum,
  ResponseTrackingOptions,
  Response,
  Templates,
  ResourceMetadata,
  Account,
  AccountWithIAM,
]
