import type { Transaction } from 'kysely'
import type { Static } from 'typebox'
import { findAccount } from '../accounts/repository.js'
import { requireAccount } from '../accounts/service.js'
import { ALL_OWNERS, type Scope } from '../auth/scope.js'
import type { Clock } from '../clock.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'
import { ApiError, badRequest, conflict, invalid, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import {
  deleteSender,
  findSender,
  findSenderByServiceName,
  insertSender,
  listSenderNames,
  lockSender,
  oldestEnabledSender,
  type SenderUpdate as SenderPatch,
  type SenderRow,
  updateSender,
} from './repository.js'
import {
  NUMERIC_SENDER,
  SENDER_PATTERN,
  SENDER_RULE,
  type Sender,
  type SenderCreate,
  type SenderUpdate,
} from './schema.js'
import { codeMessage, newCode, phoneOfSender, provenBy } from './validation.js'

type Executor = Db | Transaction<Database>
export type ApiSender = Static<typeof Sender>
type SenderStatus = ApiSender['status']

export const senderNotFound = (sender: string) =>
  notFound(`The requested object (sender = ${sender}) does not exist`)

/** The one mapping from a stored row to the sms.Sender model. */
export function toApiSender(row: SenderRow): ApiSender {
  return {
    comment: row.comment,
    description: row.description,
    referer: row.referer,
    sender: row.sender,
    status: row.status,
    type: row.type,
    validationMedia: row.validation_media,
  }
}

export async function listSenders(db: Db, scope: Scope, serviceName: string): Promise<string[]> {
  const account = await requireAccount(db, scope, serviceName)
  return listSenderNames(db, account.id)
}

/** Sends an SMS (the validation code) to a number, charged to the account as any send. */
export type SendCode = (serviceName: string, number: string, message: string) => Promise<unknown>

/**
 * Requests a sender; answers its name. A sender the owner's identity proves (its nic handle, a
 * domain name: sendersAvailableForValidation) is enabled at once. A number is sent a code by SMS,
 * which POST …/validate takes. Any other sender waits for the operator's validation (documents).
 */
export async function createSender(
  db: Db,
  clock: Clock,
  scope: Scope,
  serviceName: string,
  body: Static<typeof SenderCreate>,
  sendCode: SendCode,
): Promise<string> {
  const account = await requireAccount(db, scope, serviceName)
  const now = clock.now()
  const proven = await provenBy(db, account.owner_id, body.sender)
  const phone = proven ? null : phoneOfSender(body.sender)
  const code = phone ? newCode(account.id, body.sender, now) : null
  const created = await insertSender(db, {
    account_id: account.id,
    sender: body.sender,
    description: body.description ?? '',
    reason: body.reason ?? null,
    status: proven ? 'enable' : 'waitingValidation',
    type: NUMERIC_SENDER.test(body.sender) ? 'numeric' : 'alpha',
    referer: proven === 'nichandle' ? 'nic' : proven === 'domain' ? 'domain' : 'custom',
    validation_media: proven ?? null,
    ...(code ? code.stored : {}),
    created_at: now,
  })
  if (!created) throw conflict(`The sender ${body.sender} already exists on ${serviceName}`)
  if (phone && code) {
    try {
      await sendCode(serviceName, phone, codeMessage(serviceName, code.code))
    } catch (error) {
      // No code went out: the request is undone, so it can be made again once the cause is fixed.
      await deleteSender(db, account.id, body.sender)
      if (error instanceof ApiError && error.statusCode < 500)
        throw badRequest(`The validation code could not be sent to ${body.sender}: ${error.message}`)
      throw error
    }
  }
  return body.sender
}

export async function getSender(db: Db, scope: Scope, serviceName: string, sender: string) {
  const row = await findSenderByServiceName(db, scope, serviceName, sender)
  if (row) return toApiSender(row)
  await requireAccount(db, scope, serviceName) // says which of the two does not exist
  throw senderNotFound(sender)
}

async function lockAccountSender(
  trx: Transaction<Database>,
  scope: Scope,
  serviceName: string,
  sender: string,
): Promise<{ account: AccountRow; row: SenderRow }> {
  const account = await findAccount(trx, scope, serviceName)
  if (!account) throw notFound(SERVICE_NOT_FOUND)
  const row = await lockSender(trx, account.id, sender)
  if (!row) throw senderNotFound(sender)
  return { account, row }
}

const OWNER_SETTABLE: readonly SenderStatus[] = ['enable', 'disable']

/**
 * An owner may switch an enabled sender off and back on; only the operator's validation takes a
 * sender out of waitingValidation or refused.
 */
export function checkOwnerStatusChange(sender: string, current: SenderStatus, wanted: SenderStatus): void {
  if (wanted === current) return
  if (!OWNER_SETTABLE.includes(current)) {
    throw badRequest(
      `Invalid status: the sender "${sender}" is ${current}; it can be enabled or disabled only once the operator has validated it`,
    )
  }
  if (!OWNER_SETTABLE.includes(wanted)) {
    throw badRequest(
      `Invalid status: expected disable or enable; ${wanted} is set by the operator's validation only`,
    )
  }
}

const READ_ONLY_CHECKED = ['comment', 'referer', 'sender', 'type', 'validationMedia'] as const

export async function updateSenderSettings(
  db: Db,
  scope: Scope,
  serviceName: string,
  sender: string,
  body: Static<typeof SenderUpdate>,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const { account, row } = await lockAccountSender(trx, scope, serviceName, sender)
    const current = toApiSender(row)
    for (const field of READ_ONLY_CHECKED) {
      if (body[field] !== undefined && body[field] !== current[field]) {
        throw badRequest(
          `Invalid ${field}: read-only, it cannot be changed (current value ${JSON.stringify(current[field])})`,
        )
      }
    }
    const patch: SenderPatch = {}
    if (body.description !== undefined) patch.description = body.description
    if (body.status !== undefined) {
      checkOwnerStatusChange(sender, current.status, body.status)
      patch.status = body.status
    }
    await updateSender(trx, account.id, sender, patch)
  })
}

export async function removeSender(db: Db, scope: Scope, serviceName: string, sender: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const { account } = await lockAccountSender(trx, scope, serviceName, sender)
    await deleteSender(trx, account.id, sender)
    // Its validation documents go with it (they live in src/documents/, kind 'sender').
    await trx
      .deleteFrom('documents')
      .where('kind', '=', 'sender')
      .where('account_id', '=', account.id)
      .where('sender', '=', sender)
      .execute()
  })
}

/** Operator decision on a sender (administration only): from any status. */
export async function setSenderValidation(
  db: Db,
  serviceName: string,
  sender: string,
  decision: { status: 'enable' } | { status: 'refused'; comment: string | null },
): Promise<ApiSender> {
  return db.transaction().execute(async (trx) => {
    const { account } = await lockAccountSender(trx, ALL_OWNERS, serviceName, sender)
    // A refusal's comment says why; once enabled it no longer applies.
    const comment = decision.status === 'refused' ? decision.comment : null
    const updated = await updateSender(trx, account.id, sender, {
      status: decision.status,
      comment,
      code_hash: null,
    })
    if (!updated) throw senderNotFound(sender)
    return toApiSender(updated)
  })
}

const SENDER_NAME = new RegExp(SENDER_PATTERN)

/**
 * The operator enables a sender, creating it first when the account never requested it (so that
 * `sms-mirror admin sender-enable` is one step, not a request then a validation).
 */
export async function enableSender(
  db: Db,
  clock: Clock,
  serviceName: string,
  sender: string,
): Promise<ApiSender> {
  const account = await requireAccount(db, ALL_OWNERS, serviceName)
  if (!SENDER_NAME.test(sender)) throw invalid('sender', SENDER_RULE)
  await insertSender(db, {
    account_id: account.id,
    sender,
    description: '',
    reason: null,
    status: 'enable',
    type: NUMERIC_SENDER.test(sender) ? 'numeric' : 'alpha',
    referer: 'custom',
    created_at: clock.now(),
  })
  return setSenderValidation(db, serviceName, sender, { status: 'enable' })
}

/** For the sending path: the sender must exist on the account and be enabled. */
/** A send refused for its sender (http2sms answers it with its own status, 241). */
export class SenderRefused extends ApiError {
  constructor(message: string) {
    super(400, message)
  }
}

export async function requireEnabledSender(db: Executor, accountId: number, sender: string): Promise<void> {
  const row = await findSender(db, accountId, sender)
  if (row?.status === 'enable') return
  const why = row ? `status ${row.status}` : 'it does not exist'
  throw new SenderRefused(`Invalid sender: "${sender}" is not an enabled sender of this account (${why})`)
}

/** No sender given → the account's default = its oldest enabled sender; null when it has none. */
export async function defaultSender(db: Executor, accountId: number): Promise<string | null> {
  return (await oldestEnabledSender(db, accountId)) ?? null
}
