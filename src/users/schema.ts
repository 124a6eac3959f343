import { Type } from 'typebox'
import { nullable, ref, ServiceNameParam } from '../http/schema.js'

export const LOGIN_RULE = '6 to 40 letters or digits'
export const PASSWORD_RULE = 'exactly 8 letters or digits'
export const MAX_IP_RESTRICTIONS = 5
export const MAX_URL_LENGTH = 2048

const Login = Type.String({ pattern: '^[A-Za-z0-9]{6,40}$', description: LOGIN_RULE })
const LoginReadOnly = Type.String({ description: 'the login (read-only)', readOnly: true })
const Password = Type.String({ pattern: '^[A-Za-z0-9]{8}$', description: PASSWORD_RULE })
const CallbackUrl = nullable(
  Type.String({
    maxLength: MAX_URL_LENGTH,
    description: `absolute http:// or https:// URL of at most ${MAX_URL_LENGTH} characters; null or empty to clear`,
  }),
)
const IpRestrictions = Type.Array(Type.String({ maxLength: 64, description: 'an IPv4 or IPv6 address' }), {
  maxItems: MAX_IP_RESTRICTIONS,
  description: `at most ${MAX_IP_RESTRICTIONS} distinct IPv4 or IPv6 addresses allowed to use http2sms; empty = no restriction`,
})

export const QuotaStatusEnum = Type.Enum(['active', 'inactive'], {
  $id: 'sms.QuotaStatusUserEnum',
  type: 'string',
  description: 'active or inactive',
})
export const SupportEnum = Type.Enum(['both', 'mail', 'sms'], {
  $id: 'sms.SupportEnum',
  type: 'string',
  description: 'one of both, mail, sms',
})

const QuotaLeft = Type.Number({
  minimum: 0,
  description: 'credits still usable when the quota is active (≥ 0)',
})
const AlertThresholdValue = Type.Integer({
  minimum: -1,
  description: '-1 (alert off) or a number of credits ≥ 0',
})
const AlertEmail = nullable(
  Type.String({ maxLength: 254, description: 'an e-mail address; null or empty to unset' }),
)
const AlertNumber = nullable(
  Type.String({
    maxLength: 32,
    description: 'a phone number in international format (+33…); null or empty to unset',
  }),
)

export const Quota = Type.Object(
  { quotaLeft: QuotaLeft, quotaStatus: ref(QuotaStatusEnum) },
  { $id: 'sms.Quota', additionalProperties: false },
)

export const AlertThreshold = Type.Object(
  {
    alertEmail: Type.String({ description: 'an e-mail address; "" when unset' }),
    alertNumber: Type.String({ description: 'a phone number in international format (+33…); "" when unset' }),
    alertThreshold: AlertThresholdValue,
    support: ref(SupportEnum),
  },
  { $id: 'sms.AlertThreshold', additionalProperties: false },
)

export const User = Type.Object(
  {
    alertThresholdInformations: ref(AlertThreshold),
    callBack: CallbackUrl,
    ipRestrictions: IpRestrictions,
    login: LoginReadOnly,
    password: Password,
    quotaInformations: ref(Quota),
    stopCallBack: CallbackUrl,
  },
  { $id: 'sms.User', additionalProperties: false },
)

/** PUT body: the sms.User model with every field optional, nested objects partial too. */
export const UserUpdate = Type.Object(
  {
    alertThresholdInformations: Type.Optional(
      Type.Object(
        {
          alertEmail: Type.Optional(AlertEmail),
          alertNumber: Type.Optional(AlertNumber),
          alertThreshold: Type.Optional(AlertThresholdValue),
          support: Type.Optional(ref(SupportEnum)),
        },
        { additionalProperties: false },
      ),
    ),
    callBack: Type.Optional(CallbackUrl),
    ipRestrictions: Type.Optional(IpRestrictions),
    login: Type.Optional(
      Type.String({ description: 'read-only: accepted only when equal to the current login' }),
    ),
    password: Type.Optional(Password),
    quotaInformations: Type.Optional(
      Type.Object(
        { quotaLeft: Type.Optional(QuotaLeft), quotaStatus: Type.Optional(ref(QuotaStatusEnum)) },
        { additionalProperties: false },
      ),
    ),
    stopCallBack: Type.Optional(CallbackUrl),
  },
  { additionalProperties: false, description: 'sms.User fields to change; fields not sent keep their value' },
)

export const UserCreate = Type.Object(
  { login: Login, password: Password },
  { additionalProperties: false, description: 'the new API user' },
)

export const UserParams = Type.Object({
  serviceName: ServiceNameParam,
  login: Type.String({ maxLength: 100, description: 'login of the API user' }),
})

export const userModels = [QuotaStatusEnum, SupportEnum, Quota, AlertThreshold, User]
