import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { unstorableValueAt } from '../http/storable.js'
import type { SendInput } from '../sending/request.js'
import { CONTENT_TYPES, type ContentType, type Outcome } from './render.js'

/**
 * The parameters of http2sms, as OVH's guide names them (query string, or form body for POST). One
 * schema documents them and checks them; a refusal is an http2sms status in the body (201 missing,
 * 202 invalid), never an HTTP error, as clients expect.
 */
export const Http2smsParams = Type.Object(
  {
    account: Type.Optional(
      Type.String({ maxLength: 100, description: 'the SMS account, e.g. sms-ab12345-1' }),
    ),
    smsAccount: Type.Optional(Type.String({ maxLength: 100, description: 'an alias of account' })),
    login: Type.Optional(Type.String({ maxLength: 100, description: 'the SMS user' })),
    password: Type.Optional(Type.String({ maxLength: 100, description: "the SMS user's password" })),
    from: Type.Optional(Type.String({ maxLength: 64, description: 'an enabled sender of the account' })),
    to: Type.Optional(
      Type.String({
        maxLength: 40_000,
        description: 'receivers in international format, separated by commas',
      }),
    ),
    message: Type.Optional(
      Type.String({ maxLength: 5000, description: 'the text, at most 5000 characters' }),
    ),
    deferred: Type.Optional(
      Type.String({ pattern: '^\\d{12}$', description: 'the send time as hhmmddMMYYYY, Paris time' }),
    ),
    class: Type.Optional(Type.Enum(['0', '1', '2', '3'], { description: '0, 1, 2 or 3' })),
    noStop: Type.Optional(Type.Enum(['0', '1'], { description: '0 or 1' })),
    tag: Type.Optional(Type.String({ maxLength: 20, description: 'at most 20 characters' })),
    contentType: Type.Optional(
      Type.Enum([...CONTENT_TYPES], { description: `one of ${CONTENT_TYPES.join(', ')}` }),
    ),
    smsCoding: Type.Optional(Type.Enum(['1', '2'], { description: '1 (7-bit) or 2 (Unicode)' })),
    SMSencoding: Type.Optional(Type.Enum(['1', '2'], { description: 'an alias of smsCoding' })),
    senderForResponse: Type.Optional(
      Type.Enum(['0', '1'], { description: '1 to send from a number replies can reach' }),
    ),
  },
  { additionalProperties: true },
)
type Params = Static<typeof Http2smsParams>
/** Compiled once: checking a valid request costs a few property tests (Value.Errors walked the schema each time). */
const paramsValidator = Compile(Http2smsParams)

const CLASSES = ['flash', 'phoneDisplay', 'sim', 'toolkit'] as const

/** What a valid request asks for. */
export type Http2smsRequest = {
  contentType: ContentType
  serviceName: string
  login: string
  password: string
  job: SendInput
  /** hhmmddMMYYYY, Paris time; null: send now. */
  deferred: string | null
}

/** The first value of each parameter (a repeated query parameter counts once, as PHP and Perl read it). */
function firstValues(raw: Record<string, unknown>): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw))
    values[key] = Array.isArray(value) ? String(value[0] ?? '') : value
  return values
}

/** The request, or the status that answers it, with a message saying what to fix. */
export function readParams(
  raw: Record<string, unknown>,
): { ok: true; request: Http2smsRequest } | { ok: false; contentType: ContentType; outcome: Outcome } {
  const values = firstValues(raw)
  const requested = typeof values.contentType === 'string' ? values.contentType : 'text/plain'
  const contentType = (CONTENT_TYPES as readonly string[]).includes(requested)
    ? (requested as ContentType)
    : 'text/plain'
  const refuse = (status: number, message: string) => ({
    ok: false as const,
    contentType,
    outcome: { status, message },
  })
  if (contentType !== requested) {
    return refuse(202, `Invalid contentType: expected one of ${CONTENT_TYPES.join(', ')}`)
  }
  const unstorable = unstorableValueAt(values)
  if (unstorable) return refuse(202, `Invalid ${unstorable.path}: expected ${unstorable.expected}`)
  const params = values as Params
  const serviceName = params.account || params.smsAccount
  for (const [name, given] of [
    ['account', serviceName],
    ['login', params.login],
    ['password', params.password],
    ['to', params.to],
    ['message', params.message],
  ] as const) {
    if (!given) return refuse(201, `Missing ${name}`)
  }
  const senderForResponse = params.senderForResponse === '1'
  if (!params.from && !senderForResponse) return refuse(201, 'Missing from')
  const first = paramsValidator.Check(values) ? undefined : paramsValidator.Errors(values)[0]
  if (first) {
    const field = first.instancePath.replace(/^\//, '')
    const described = (Http2smsParams.properties as Record<string, { description?: string }>)[field]
      ?.description
    if (field === 'tag') return refuse(202, 'Invalid tag: is too long (20 characters at most)')
    if (field === 'deferred') return refuse(202, 'Invalid deferred time: expected hhmmddMMYYYY')
    return refuse(202, `Invalid ${field}: expected ${described ?? 'a valid value'}`)
  }
  const smsClass = params.class === undefined ? undefined : CLASSES[Number(params.class)]
  return {
    ok: true,
    request: {
      contentType,
      serviceName: serviceName as string,
      login: params.login as string,
      password: params.password as string,
      deferred: params.deferred ?? null,
      job: {
        message: (params.message as string).replace(/\r\n/g, '\n'),
        receivers: (params.to as string)
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean),
        ...(params.from ? { sender: params.from } : {}),
        senderForResponse,
        noStopClause: params.noStop === '1',
        tag: params.tag ?? '',
        ...(smsClass ? { class: smsClass } : {}),
      },
    },
  }
}
