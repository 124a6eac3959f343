import { Type } from 'typebox'
import { ref } from '../http/schema.js'

// OVH's SMPP models (ovh-sms-schema.json: sms.Settings, sms.SettingsEndpoints, sms.AllowedIPs…).

export const SettingsStatusEnum = Type.Enum(
  ['DELETED', 'ERROR', 'SUCCESS', 'UNKNOWN', 'UPDATING_IP', 'WAITING_IP'],
  {
    $id: 'sms.SettingsStatusEnum',
    type: 'string',
    description: 'WAITING_IP while no IP is allowed, SUCCESS when the account can bind',
  },
)

export const SettingsEndpoints = Type.Object(
  {
    secured: Type.Optional(
      Type.String({ readOnly: true, description: 'address of the TLS endpoint: domain:port' }),
    ),
    unsecured: Type.Optional(
      Type.String({ readOnly: true, description: 'address of the non-TLS endpoint: domain:port' }),
    ),
  },
  { $id: 'sms.SettingsEndpoints', additionalProperties: false },
)

export const Settings = Type.Object(
  {
    endpoints: Type.Array(ref(SettingsEndpoints), {
      readOnly: true,
      description: 'Addresses of the TLS and non-TLS endpoints',
    }),
    status: ref(SettingsStatusEnum, { readOnly: true }),
    systemID: Type.String({ readOnly: true, description: 'Username used to connect to the SMSC' }),
    throughput: Type.Integer({ readOnly: true, description: 'Number of messages allowed per seconds' }),
    windowing: Type.Integer({ readOnly: true, description: 'Number of messages treated simultaneously' }),
  },
  { $id: 'sms.Settings', additionalProperties: false },
)

export const AllowedIPsActionEnum = Type.Enum(['add', 'remove'], {
  $id: 'sms.AllowedIPsActionEnum',
  type: 'string',
  description: 'one of add, remove',
})

/** IPv4 or IPv6 addresses, or CIDR blocks of either. */
export const MAX_ALLOWED_IPS = 256

export const AllowedIPs = Type.Object(
  {
    action: ref(AllowedIPsActionEnum),
    ips: Type.Array(Type.String({ maxLength: 64 }), {
      maxItems: MAX_ALLOWED_IPS,
      description: 'IPv4/IPv6 addresses or CIDR blocks (e.g. 192.0.2.10, 198.51.100.0/24, 2001:db8::/48)',
    }),
  },
  { $id: 'sms.AllowedIPs', additionalProperties: false },
)

export const smppModels = [SettingsStatusEnum, SettingsEndpoints, Settings, AllowedIPsActionEnum, AllowedIPs]
