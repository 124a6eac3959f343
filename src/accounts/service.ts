import type { Static } from 'typebox'
import type { Scope } from '../auth/scope.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import type { AccountRow, AccountUpdate } from '../db/schema.js'
import { badRequest, conflict, invalid, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { type CallbackUrlOptions, callbackUrl } from '../fields/url.js'
import { createSmppCredentials } from '../smpp-server/credentials.js'
import { fromHundredths, hasAtMostTwoDecimals, MAX_CREDITS, toHundredths } from './amounts.js'
import { purchase } from './ledger.js'
import { findAccount, insertAccount, listServiceNames, quotaSummary, updateAccount } from './repository.js'
import {
  type AccountUpdate as AccountUpdateBody,
  type AccountWithIAM,
  SERVICE_NAME_PATTERN,
} from './schema.js'

type ApiAccount = Static<typeof AccountWithIAM>
type Templates = ApiAccount['templates']
type SmsResponse = ApiAccount['smsResponse']

const DEFAULT_SMS_RESPONSE: SmsResponse = {
  cgiUrl: null,
  responseType: 'none',
  text: null,
  trackingDefaultSmsSender: null,
  trackingOptions: null,
}
const DEFAULT_TEMPLATES: Templates = {
  customizedEmailMode: false,
  customizedSmsMode: false,
  emailBody: null,
  emailFrom: null,
  emailSubject: null,
  smsBody: null,
}

/**
 * OVH's iamTags filter: an account matches when, for every tag named, it carries one of the values.
 * Accounts here carry no IAM tags (`iam.tags` is null), so a filter naming any tag matches none.
 */
export async function listAccounts(
  db: Db,
  scope: Scope,
  iamTags?: Record<string, { operator?: 'EQ' | null; value: string }[]>,
): Promise<string[]> {
  if (iamTags && Object.keys(iamTags).length > 0) return []
  return listServiceNames(db, scope)
}

export async function requireAccount(db: Db, scope: Scope, serviceName: string): Promise<AccountRow> {
  const account = await findAccount(db, scope, serviceName)
  if (!account) throw notFound(SERVICE_NOT_FOUND)
  return account
}

export async function getAccount(db: Db, scope: Scope, serviceName: string): Promise<ApiAccount> {
  const account = await requireAccount(db, scope, serviceName)
  return toApiAccount(account, await quotaSummary(db, account.id))
}

function toApiAccount(
  row: AccountRow,
  quota: { heldHundredths: number; usersWithQuota: number },
): ApiAccount {
  return {
    automaticRecreditAmount: row.automatic_recredit_amount as ApiAccount['automaticRecreditAmount'],
    callBack: row.call_back,
    channel: row.channel as ApiAccount['channel'],
    creditThresholdForAutomaticRecredit: fromHundredths(row.credit_threshold_for_automatic_recredit),
    creditsHoldByQuota: fromHundredths(quota.heldHundredths),
    creditsLeft: fromHundredths(row.credits_left),
    description: row.description,
    name: row.service_name,
    smpp: row.service_name.startsWith('smpp-'),
    smsResponse: { ...DEFAULT_SMS_RESPONSE, ...(row.sms_response as Partial<SmsResponse>) },
    status: row.status as ApiAccount['status'],
    stopCallBack: row.stop_call_back,
    templates: { ...DEFAULT_TEMPLATES, ...(row.templates as Partial<Templates>) },
    userQuantityWithQuota: quota.usersWithQuota,
    iam: {
      displayName: row.description || null,
      id: row.iam_id,
      tags: null,
      urn: `urn:v1:eu:resource:sms:${row.service_name}`,
    },
  }
}

/** Read-only identity fields a PUT may repeat (clients PUT back what they GET) but never change. */
const READ_ONLY_CHECKED = ['name', 'channel', 'smpp', 'status'] as const

export async function updateAccountSettings(
  db: Db,
  scope: Scope,
  serviceName: string,
  body: Static<typeof AccountUpdateBody>,
  // The routes pass the server's CALLBACK_ALLOW_PRIVATE; internal callers (benches, seeds) save as given.
  callbacks: CallbackUrlOptions = { allowPrivate: true },
): Promise<void> {
  const account = await requireAccount(db, scope, serviceName)
  const current = toApiAccount(account, { heldHundredths: 0, usersWithQuota: 0 })
  for (const field of READ_ONLY_CHECKED) {
    if (body[field] !== undefined && body[field] !== current[field]) {
      throw badRequest(
        `Invalid ${field}: read-only, it cannot be changed (current value ${JSON.stringify(current[field])})`,
      )
    }
  }
  const patch: AccountUpdate = {}
  if (body.description !== undefined) patch.description = body.description
  if (body.callBack !== undefined) patch.call_back = callbackUrl('callBack', body.callBack, callbacks)
  if (body.stopCallBack !== undefined)
    patch.stop_call_back = callbackUrl('stopCallBack', body.stopCallBack, callbacks)
  if (body.automaticRecreditAmount !== undefined)
    patch.automatic_recredit_amount = body.automaticRecreditAmount
  if (body.creditThresholdForAutomaticRecredit !== undefined) {
    if (!hasAtMostTwoDecimals(body.creditThresholdForAutomaticRecredit)) {
      throw invalid('creditThresholdForAutomaticRecredit', 'a number of credits with at most 2 decimals')
    }
    if (body.creditThresholdForAutomaticRecredit > MAX_CREDITS)
      throw invalid('creditThresholdForAutomaticRecredit', `at most ${MAX_CREDITS} credits`)
    patch.credit_threshold_for_automatic_recredit = toHundredths(body.creditThresholdForAutomaticRecredit)
  }
  if (body.smsResponse !== undefined) {
    const merged = { ...current.smsResponse, ...body.smsResponse }
    if (merged.responseType === 'cgi' && merged.cgiUrl)
      callbackUrl('smsResponse.cgiUrl', merged.cgiUrl, { allowPrivate: true })
    patch.sms_response = JSON.stringify(merged)
  }
  if (body.templates !== undefined)
    patch.templates = JSON.stringify({ ...current.templates, ...body.templates })
  await updateAccount(db, account.id, patch)
}

export type NewAccountInput = {
  ownerId: number
  serviceName: string
  credits?: number
  description?: string
  /** Seals the SMPP password of an smpp- account (required for those). */
  secretBox?: SecretBox
}

/**
 * Creates an SMS account (administration only: there is no public route for it). An smpp- account
 * gets its random system ID and password in the same transaction; the password is answered here
 * only, never again.
 */
export async function createAccount(
  db: Db,
  input: NewAccountInput,
): Promise<AccountRow & { smpp: { systemId: string; password: string } | null }> {
  if (!new RegExp(SERVICE_NAME_PATTERN).test(input.serviceName)) {
    throw invalid(
      'serviceName',
      'sms- or smpp- followed by lowercase letters, digits or dashes (e.g. sms-ab12345-1)',
    )
  }
  const credits = input.credits ?? 0
  if (credits < 0 || !hasAtMostTwoDecimals(credits))
    throw invalid('credits', 'a number ≥ 0 with at most 2 decimals')
  if (credits > MAX_CREDITS) throw invalid('credits', `at most ${MAX_CREDITS} credits`)
  if (await findAccount(db, {}, input.serviceName))
    throw conflict(`The service ${input.serviceName} already exists`)
  const isSmpp = input.serviceName.startsWith('smpp-')
  const box = input.secretBox
  if (isSmpp && !box) throw new Error('createAccount: an smpp- account needs the secret box')
  return db.transaction().execute(async (trx) => {
    const account = await insertAccount(trx, {
      owner_id: input.ownerId,
      service_name: input.serviceName,
      description: input.description ?? '',
      sms_response: JSON.stringify(DEFAULT_SMS_RESPONSE),
      templates: JSON.stringify(DEFAULT_TEMPLATES),
      // OVH: "In case of smpp the channel can not be both".
      channel: isSmpp ? 'transactional' : 'both',
    })
    await purchase(trx, account.id, toHundredths(credits), 'account creation')
    const smpp = isSmpp && box ? await createSmppCredentials(trx, account.id, box) : null
    return { ...account, credits_left: toHundredths(credits), smpp }
  })
}
