import { type TProperties, Type } from 'typebox'
import { nullable, nullableRef, readOnly, ref } from '../http/schema.js'

export const SERVICE_NAME_PATTERN = '^(sms|smpp)-[a-z0-9][a-z0-9-]{0,60}$'

export const StatusAccountEnum = Type.Enum(['disable', 'enable'], {
  $id: 'sms.StatusAccountEnum',
  type: 'string',
})
export const ChannelEnum = Type.Enum(['both', 'marketing', 'transactional'], {
  $id: 'sms.ChannelEnum',
  type: 'string',
})
export const ResponseTypeEnum = Type.Enum(['cgi', 'none', 'text'], {
  $id: 'sms.ResponseTypeEnum',
  type: 'string',
  description: 'one of cgi, none, text',
})
export const ResponseTrackingMediaEnum = Type.Enum(['email', 'sms', 'voice'], {
  $id: 'sms.ResponseTrackingMediaEnum',
  type: 'string',
  description: 'one of email, sms, voice',
})
export const AUTOMATIC_RECREDIT_AMOUNTS = [100, 200, 250, 500, 1000, 5000, 10000] as const
export const PackQuantityAutomaticRecreditEnum = Type.Unsafe<(typeof AUTOMATIC_RECREDIT_AMOUNTS)[number]>({
  $id: 'sms.PackQuantityAutomaticRecreditEnum',
  type: 'integer',
  enum: [...AUTOMATIC_RECREDIT_AMOUNTS],
  // the account's field also takes null (no automatic recredit); validation errors quote this text
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
    displayName: readOnly(nullable(Type.String())),
    id: Type.String({ format: 'uuid', readOnly: true }),
    tags: Type.Unsafe<Record<string, string> | null>({
      type: ['object', 'null'],
      additionalProperties: { type: 'string' },
      readOnly: true,
    }),
    urn: Type.String({ readOnly: true }),
  },
  { $id: 'iam.ResourceMetadata', additionalProperties: false },
)

const CallbackUrl = nullable(
  Type.String({ maxLength: 2048, description: 'absolute http:// or https:// URL; null or empty to clear' }),
)
const Credits = (description: string) => Type.Number({ description, readOnly: true })

const accountFields = {
  automaticRecreditAmount: nullableRef(PackQuantityAutomaticRecreditEnum, {
    description: `one of ${AUTOMATIC_RECREDIT_AMOUNTS.join(', ')}, or null`,
  }),
  callBack: CallbackUrl,
  channel: ref(ChannelEnum, { readOnly: true }),
  creditThresholdForAutomaticRecredit: Type.Number({ minimum: 0, description: 'credits, ≥ 0' }),
  creditsHoldByQuota: Credits('credits given to users with an active quota (read-only)'),
  creditsLeft: Credits('credits the account can still spend or give (read-only)'),
  description: Type.String({ maxLength: 255, description: 'at most 255 characters' }),
  name: Type.String({ description: 'service name (read-only)', readOnly: true }),
  smpp: Type.Boolean({ description: 'account usable over SMPP (read-only)', readOnly: true }),
  smsResponse: ref(Response),
  status: ref(StatusAccountEnum, { readOnly: true }),
  stopCallBack: CallbackUrl,
  templates: ref(Templates),
  userQuantityWithQuota: Type.Integer({
    description: 'users with an active quota (read-only)',
    readOnly: true,
  }),
}

export const Account = Type.Object(accountFields, { $id: 'sms.Account', additionalProperties: false })

export const AccountWithIAM = Type.Object(
  { ...accountFields, iam: nullableRef(ResourceMetadata, { readOnly: true }) },
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

export const TagFilterOperatorEnum = Type.Enum(['EQ'], {
  $id: 'iam.resource.TagFilter.OperatorEnum',
  type: 'string',
  description: 'EQ',
})

export const TagFilter = Type.Object(
  {
    operator: Type.Optional(
      nullableRef(TagFilterOperatorEnum, { readOnly: true, description: 'EQ (the default)' }),
    ),
    value: Type.String({ maxLength: 255, readOnly: true, description: 'the tag value to match' }),
  },
  { $id: 'iam.resource.TagFilter', additionalProperties: false },
)

/** GET /sms?iamTags=: tag name → filters, sent JSON-encoded as OVH's clients do. */
export const IamTagsQuery = Type.Object({
  iamTags: Type.Optional(
    Type.Record(Type.String({ maxLength: 255 }), Type.Array(ref(TagFilter), { maxItems: 20 }), {
      maxProperties: 20,
      description:
        'JSON object: tag name → [{"operator":"EQ","value":"…"}]; an account matches when every tag has one of the values',
    }),
  ),
})

export const accountModels = [
  TagFilterOperatorEnum,
  TagFilter,
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
