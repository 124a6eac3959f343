import { Type } from 'typebox'

/**
 * The ptt codes of OVH's guide (seed 003, "Tout savoir sur les utilisateurs SMS"), with the English
 * text OVH gives beside the French one. `duration` says whether the state can still change:
 * temporary = the operator keeps trying, permanent = final, indeterminated = unknown.
 */
export const PttDurationTypeEnum = Type.Enum(['indeterminated', 'permanent', 'temporary'], {
  $id: 'sms.PttDurationTypeEnum',
  type: 'string',
})

export const PttDetails = Type.Object(
  {
    comment: Type.String(),
    description: Type.String(),
    duration: Type.Unsafe<'indeterminated' | 'permanent' | 'temporary'>({ $ref: 'sms.PttDurationTypeEnum#' }),
  },
  { $id: 'sms.PttDetails', additionalProperties: false },
)

type Duration = 'indeterminated' | 'permanent' | 'temporary'
type Ptt = { description: string; comment: string; duration: Duration }

const ptt = (duration: Duration, description: string, comment: string): Ptt => ({
  duration,
  description,
  comment,
})

export const PTT_TABLE: ReadonlyMap<number, Ptt> = new Map([
  [
    1,
    ptt(
      'temporary',
      'Intermediate state notification that the message has not yet been delivered due to a phone related problem but is being retried.',
      'Phone-side problem, being retried',
    ),
  ],
  [
    2,
    ptt(
      'temporary',
      'Used to indicate that the message has not yet been delivered due to some operator related problem but is being retried within the network.',
      'Operator-side problem, being retried',
    ),
  ],
  [
    3,
    ptt(
      'temporary',
      'Used to indicate that the message has been accepted by the operator.',
      'Accepted by the operator',
    ),
  ],
  [4, ptt('permanent', 'The message was delivered.', 'Delivered')],
  [
    5,
    ptt(
      'permanent',
      'The message has been confirmed as undelivered but no detailed information related to the failure is known.',
      'Undelivered, no detail',
    ),
  ],
  [
    6,
    ptt(
      'indeterminated',
      'Cannot determine whether this message has been delivered or has failed due to lack of final delivery state information from the operator.',
      'Final state unknown',
    ),
  ],
  [
    8,
    ptt(
      'permanent',
      'Used when a message expired (could not be delivered within the life time of the message) within the operator SMSC but is not associated with a reason for failure.',
      'Expired in the operator SMSC',
    ),
  ],
  [20, ptt('permanent', 'Used when a message in its current form is undeliverable.', 'Undeliverable as is')],
  [
    21,
    ptt(
      'permanent',
      'Only occurs where the operator accepts the message before performing the subscriber credit check. If there is insufficient credit then the operator will retry the message until the subscriber tops up or the message expires. If the message expires and the last failure reason is related to credit then this error code will be used.',
      'Prepaid subscriber out of credit until expiry',
    ),
  ],
  [
    23,
    ptt(
      'permanent',
      'Used when the message is undeliverable due to an incorrect / invalid / blacklisted / permanently barred MSISDN for this operator. This MSISDN should not be used again for message submissions to this operator.',
      'Bad or barred MSISDN, do not retry',
    ),
  ],
  [
    24,
    ptt(
      'temporary',
      'Used when a message is undeliverable because the subscriber is temporarily absent, e.g. their phone is switch off, they cannot be located on the network.',
      'Subscriber absent',
    ),
  ],
  [
    25,
    ptt(
      'temporary',
      'Used when the message has failed due to a temporary condition in the operator network. This could be related to the SS7 layer, SMSC or gateway.',
      'Temporary network fault',
    ),
  ],
  [
    26,
    ptt(
      'temporary',
      'Used when a message has failed due to a temporary phone related error, e.g. SIM card full, SME busy, memory exceeded etc. This does not mean the phone is unable to receive this type of message/content (refer to error code 27).',
      'Temporary handset fault',
    ),
  ],
  [
    27,
    ptt(
      'permanent',
      'Used when a handset is permanently incompatible or unable to receive this type of message.',
      'Handset cannot receive this type of message',
    ),
  ],
  [
    28,
    ptt(
      'permanent',
      'Used if a message fails or is rejected due to suspicion of SPAM on the operator network. This could indicate in some geographies that the operator has no record of the mandatory MO required for an MT.',
      'Rejected as spam',
    ),
  ],
  [
    29,
    ptt(
      'permanent',
      'Used when this specific content is not permitted on the network / shortcode.',
      'Content not allowed',
    ),
  ],
  [
    33,
    ptt(
      'permanent',
      'Used when the subscriber cannot receive adult content because of a parental lock.',
      'Parental lock',
    ),
  ],
  [39, ptt('permanent', 'New operator failure.', 'New operator failure')],
  [
    73,
    ptt(
      'permanent',
      'The message was failed due to the ported combinations being unreachable.',
      'Ported network unreachable',
    ),
  ],
  [74, ptt('temporary', 'The message was failed due to the MSISDN being roaming.', 'MSISDN roaming')],
  [
    76,
    ptt(
      'permanent',
      'The message was failed due to the ported combinations being blocked for client (the client has been blacklisted from the ported destination).',
      'Client blocked on the ported destination',
    ),
  ],
  [
    202,
    ptt(
      'permanent',
      'The message was failed due to the ported combinations being blocked for the client. Please contact Client Support for additional information.',
      'Ported destination blocked, contact support',
    ),
  ],
])

/** DLR ids (`description` in callbacks, `deliveryReceipt` in sms.Outgoing) and their text. */
export const DLR_STATUS: ReadonlyMap<number, string> = new Map([
  [0, 'Creating or pending'],
  [1, 'Success'],
  [2, 'Failed'],
  [4, 'Waiting'],
  [8, 'Buffered'],
  [16, 'Error / not billed'],
])

export const pttModels = [PttDurationTypeEnum, PttDetails]
