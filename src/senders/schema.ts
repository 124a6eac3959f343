import { Type } from 'typebox'
import { nullable, readOnly, ref, ServiceNameParam } from '../http/schema.js'

export const SENDER_RULE =
  '1 to 11 letters or digits (alphanumeric sender), or a number of up to 15 digits with an optional leading +'
export const SENDER_PATTERN = '^(?:[A-Za-z0-9]{1,11}|\\+?[0-9]{1,15})$'
export const NUMERIC_SENDER = /^\+?[0-9]+$/
export const MAX_DESCRIPTION_LENGTH = 255
export const MAX_REASON_LENGTH = 1000

export const StatusSenderEnum = Type.Enum(['disable', 'enable', 'refused', 'waitingValidation'], {
  $id: 'sms.StatusSenderEnum',
  type: 'string',
  description: 'one of disable, enable, refused, waitingValidation',
})
export const RefererSenderEnum = Type.Enum(['custom', 'domain', 'line', 'nic', 'owner', 'virtual'], {
  $id: 'sms.RefererSenderEnum',
  type: 'string',
  description: 'one of custom, domain, line, nic, owner, virtual',
})

type SenderType = 'alpha' | 'numeric' | 'shortcode' | 'virtual'
const NullableSenderType = Type.Unsafe<SenderType | null>({
  anyOf: [{ $ref: 'sms.TypeSenderEnum#' }, { type: 'null' }],
  description: 'one of alpha, numeric, shortcode, virtual, or null (read-only)',
  readOnly: true,
})

const SenderName = Type.String({ pattern: SENDER_PATTERN, description: SENDER_RULE })
const Description = Type.String({
  maxLength: MAX_DESCRIPTION_LENGTH,
  description: `at most ${MAX_DESCRIPTION_LENGTH} characters`,
})
const Comment = readOnly(nullable(Type.String({ description: 'operator comment (read-only)' })))
const ValidationMedia = readOnly(
  nullable(Type.String({ description: 'how the sender was validated (read-only)' })),
)

export const Sender = Type.Object(
  {
    comment: Comment,
    description: Description,
    referer: ref(RefererSenderEnum, { readOnly: true }),
    sender: Type.String({ description: 'the sender name (read-only)', readOnly: true }),
    status: ref(StatusSenderEnum),
    type: NullableSenderType,
    validationMedia: ValidationMedia,
  },
  { $id: 'sms.Sender', additionalProperties: false },
)

const readOnlyNote = (what: string) => `read-only: accepted only when equal to the current ${what}`

/** PUT body: sms.Sender with every field optional; read-only fields are checked, not written. */
export const SenderUpdate = Type.Object(
  {
    comment: Type.Optional(nullable(Type.String({ description: readOnlyNote('comment') }))),
    description: Type.Optional(Description),
    referer: Type.Optional(ref(RefererSenderEnum)),
    sender: Type.Optional(Type.String({ description: readOnlyNote('sender') })),
    status: Type.Optional(ref(StatusSenderEnum)),
    type: Type.Optional(NullableSenderType),
    validationMedia: Type.Optional(nullable(Type.String({ description: readOnlyNote('validationMedia') }))),
  },
  {
    additionalProperties: false,
    description:
      'sms.Sender fields to change (description; status disable/enable); fields not sent keep their value',
  },
)

export const SenderCreate = Type.Object(
  {
    sender: SenderName,
    description: Type.Optional(Description),
    reason: Type.Optional(
      Type.String({
        maxLength: MAX_REASON_LENGTH,
        description: `why you need this sender, at most ${MAX_REASON_LENGTH} characters`,
      }),
    ),
  },
  { additionalProperties: false, description: 'the sender to request (moderated)' },
)

export const RefuseBody = Type.Object(
  {
    comment: Type.Optional(
      Type.String({ maxLength: MAX_REASON_LENGTH, description: `at most ${MAX_REASON_LENGTH} characters` }),
    ),
  },
  { additionalProperties: false, description: 'why the sender is refused (shown as its comment)' },
)

export const SenderParams = Type.Object({
  serviceName: ServiceNameParam,
  sender: Type.String({ maxLength: 100, description: 'the sender name' }),
})

/** Where a sender available for validation comes from (the owner's nic handle or a domain name). */
export const SenderRefererEnum = Type.Enum(['domain', 'nichandle'], {
  $id: 'sms.SenderRefererEnum',
  type: 'string',
  description: 'one of domain, nichandle',
})

export const SenderAvailable = Type.Object(
  { referer: ref(SenderRefererEnum), sender: Type.String() },
  { $id: 'sms.SenderAvailable', additionalProperties: false },
)

export const CODE_LENGTH = 6
export const ValidateBody = Type.Object(
  {
    code: Type.String({
      maxLength: 100,
      description: `the ${CODE_LENGTH}-digit code sent by SMS to the numeric sender when it was requested`,
    }),
  },
  { additionalProperties: false, description: 'the validation code' },
)

/** The owner's identity (admin): what senders can be validated from at once. */
export const NICHANDLE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9-]{0,39}$'
export const DOMAIN_PATTERN =
  '^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$'
export const MAX_DOMAINS = 100
export const OwnerIdentity = Type.Object(
  {
    nichandle: nullable(
      Type.String({
        pattern: NICHANDLE_PATTERN,
        description: 'the owner’s nic handle (e.g. ab12345-ovh), null for none',
      }),
    ),
    domains: Type.Array(
      Type.String({ pattern: DOMAIN_PATTERN, description: 'a domain name such as acme-shop.fr' }),
      { maxItems: MAX_DOMAINS, description: `the owner’s domain names, at most ${MAX_DOMAINS}` },
    ),
  },
  { additionalProperties: false },
)

/** sms.TypeSenderEnum is registered with the estimate models (src/sending/estimate-routes.ts). */
export const senderModels = [StatusSenderEnum, RefererSenderEnum, Sender, SenderRefererEnum, SenderAvailable]
