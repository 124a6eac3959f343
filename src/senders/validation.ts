import { createHash, randomInt, timingSafeEqual } from 'node:crypto'
import type { Static } from 'typebox'
import { findAccount } from '../accounts/repository.js'
import { requireAccount } from '../accounts/service.js'
import type { Scope } from '../auth/scope.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import { badRequest, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { parseInternational } from '../fields/phone.js'
import { listSenderNames, lockSender, updateSender } from './repository.js'
import { CODE_LENGTH, SENDER_PATTERN, type SenderAvailable } from './schema.js'

type Available = Static<typeof SenderAvailable>
type Referer = Available['referer']

/** How long the code sent to a numeric sender stays valid, and how many wrong codes it takes. */
export const CODE_VALIDITY_MS = 24 * 3600 * 1000
export const MAX_CODE_ATTEMPTS = 5

const SENDER_NAME = new RegExp(SENDER_PATTERN)

/** Letters and digits only, at most 11 (an alphanumeric sender); '' when nothing is left. */
const alphanumeric = (text: string) => text.replace(/[^A-Za-z0-9]/g, '').slice(0, 11)

/**
 * The senders an owner's identity proves, as OVH derives them from the customer's nic handle and
 * domain names: the nic handle without its `-ovh` style suffix (ab12345-ovh → ab12345), and each
 * domain's name without its top-level domain nor a leading www (www.acme-shop.co.uk → acmeshopco,
 * acme-shop.fr → acmeshop), reduced to letters and digits and cut at 11 characters.
 */
export function sendersOfIdentity(identity: { nichandle: string | null; domains: string[] }): Available[] {
  const found = new Map<string, Available>()
  const add = (sender: string, referer: Referer) => {
    if (sender !== '' && SENDER_NAME.test(sender) && !found.has(sender.toLowerCase()))
      found.set(sender.toLowerCase(), { referer, sender })
  }
  if (identity.nichandle) add(alphanumeric(identity.nichandle.split('-')[0] ?? ''), 'nichandle')
  for (const domain of identity.domains) {
    const labels = domain.toLowerCase().split('.')
    if (labels[0] === 'www') labels.shift()
    add(alphanumeric(labels.slice(0, -1).join('')), 'domain')
  }
  return [...found.values()]
}

async function identityOf(db: Db, ownerId: number) {
  const owner = await db
    .selectFrom('owners')
    .select(['nichandle', 'domains'])
    .where('id', '=', ownerId)
    .executeTakeFirstOrThrow()
  return { nichandle: owner.nichandle, domains: owner.domains === '' ? [] : owner.domains.split('\n') }
}

/**
 * sendersAvailableForValidation: the senders the owner's identity proves that the account has not
 * requested yet (any status), optionally only those of one referer.
 */
export async function availableSenders(
  db: Db,
  scope: Scope,
  serviceName: string,
  referer?: Referer,
): Promise<Available[]> {
  const account = await requireAccount(db, scope, serviceName)
  const taken = new Set((await listSenderNames(db, account.id)).map((name) => name.toLowerCase()))
  return sendersOfIdentity(await identityOf(db, account.owner_id)).filter(
    (candidate) =>
      !taken.has(candidate.sender.toLowerCase()) && (referer === undefined || candidate.referer === referer),
  )
}

/** The referer when the owner's identity proves this sender (it is then enabled when requested). */
export async function provenBy(db: Db, ownerId: number, sender: string): Promise<Referer | undefined> {
  return sendersOfIdentity(await identityOf(db, ownerId)).find(
    (candidate) => candidate.sender.toLowerCase() === sender.toLowerCase(),
  )?.referer
}

/** The phone number (E.164) a numeric sender is, when it is one: such a sender is validated by code. */
export function phoneOfSender(sender: string): string | null {
  if (!/^\+?[0-9]+$/.test(sender)) return null
  return (
    (parseInternational(sender) ?? (sender.startsWith('+') ? null : parseInternational(`+${sender}`)))
      ?.number ?? null
  )
}

const hashCode = (accountId: number, sender: string, code: string) =>
  createHash('sha256').update(`${accountId}\u0000${sender}\u0000${code}`).digest('hex')

/** A fresh code for a numeric sender: the code (to send) and what is stored (its hash, its expiry). */
export function newCode(accountId: number, sender: string, now: Date) {
  const code = String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0')
  return {
    code,
    stored: {
      code_hash: hashCode(accountId, sender, code),
      code_attempts: 0,
      code_expires_at: new Date(now.getTime() + CODE_VALIDITY_MS),
    },
  }
}

export const codeMessage = (serviceName: string, code: string) =>
  `Your code to validate this number as a sender of ${serviceName}: ${code}`

/**
 * POST {S}/senders/{sender}/validate: the right code enables a numeric sender waiting for its
 * validation; a wrong one counts (MAX_CODE_ATTEMPTS, then the code is spent). A sender validated
 * another way is a 400 that says how.
 */
export async function validateSender(
  db: Db,
  clock: Clock,
  scope: Scope,
  serviceName: string,
  sender: string,
  code: string,
): Promise<null> {
  const refusal = await db.transaction().execute(async (trx) => {
    const account = await findAccount(trx, scope, serviceName)
    if (!account) throw notFound(SERVICE_NOT_FOUND)
    const row = await lockSender(trx, account.id, sender)
    if (!row) throw notFound(`The requested object (sender = ${sender}) does not exist`)
    if (row.status !== 'waitingValidation')
      return `Invalid sender: "${sender}" is ${row.status}; only a sender waiting for validation takes a code`
    if (row.code_hash === null) {
      return phoneOfSender(sender) === null
        ? `Invalid sender: "${sender}" is not validated with a code: the operator validates it, from the documents you add (POST /sms/${serviceName}/senders/${sender}/documents, then PUT each file to its putUrl)`
        : `Invalid sender: no code is pending for "${sender}" (it was spent by wrong attempts or expired): delete the sender and request it again to get a new code by SMS`
    }
    if (row.code_expires_at && row.code_expires_at <= clock.now()) {
      await updateSender(trx, account.id, sender, { code_hash: null })
      return `Invalid code: the code sent to ${sender} expired; delete the sender and request it again to get a new one`
    }
    const given = Buffer.from(hashCode(account.id, sender, code.trim()))
    const expected = Buffer.from(row.code_hash)
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      await updateSender(trx, account.id, sender, {
        status: 'enable',
        code_hash: null,
        code_expires_at: null,
        validation_media: 'sms',
      })
      return null
    }
    const attempts = row.code_attempts + 1
    const left = MAX_CODE_ATTEMPTS - attempts
    await updateSender(trx, account.id, sender, {
      code_attempts: attempts,
      ...(left <= 0 ? { code_hash: null } : {}),
    })
    return left > 0
      ? `Invalid code: it is not the code sent to ${sender}; ${left} attempt${left === 1 ? '' : 's'} left`
      : `Invalid code: it is not the code sent to ${sender}, and that was the last attempt; delete the sender and request it again to get a new code`
  })
  // Thrown after commit: a wrong attempt must stay counted.
  if (refusal !== null) throw badRequest(refusal)
  return null
}
