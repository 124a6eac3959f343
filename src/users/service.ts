import type { Transaction } from 'kysely'
import type { Static } from 'typebox'
import { fromHundredths, hasAtMostTwoDecimals, MAX_CREDITS } from '../accounts/amounts.js'
import { releaseQuota, setQuota } from '../accounts/ledger.js'
import { lockAccount } from '../accounts/repository.js'
import { requireAccount } from '../accounts/service.js'
import type { Scope } from '../auth/scope.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Database, Db } from '../db/index.js'
import type { JsonList } from '../db/json-list.js'
import type { AccountRow, SmsUserRow, SmsUserUpdate } from '../db/schema.js'
import { badRequest, conflict, invalid, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { emailAddress } from '../fields/email.js'
import { ipAddressList } from '../fields/ip.js'
import { internationalPhoneNumber } from '../fields/phone.js'
import { type CallbackUrlOptions, callbackUrl } from '../fields/url.js'
import type { UserCache } from './cache.js'
import {
  deleteUser,
  findUserByServiceName,
  insertUser,
  listLogins,
  lockUser,
  updateUser,
} from './repository.js'
import { MAX_IP_RESTRICTIONS, type User, type UserCreate, type UserUpdate } from './schema.js'

export type ApiUser = Static<typeof User>

export const userNotFound = (login: string) =>
  notFound(`The requested object (login = ${login}) does not exist`)

/** The one mapping from a stored row to the sms.User model. */
export function toApiUser(row: SmsUserRow, box: SecretBox): ApiUser {
  return {
    alertThresholdInformations: {
      // OVH's sms.AlertThreshold never holds null (canBeNull false): unset reads back as "".
      alertEmail: row.alert_email ?? '',
      alertNumber: row.alert_number ?? '',
      alertThreshold: row.alert_threshold,
      support: row.alert_support as ApiUser['alertThresholdInformations']['support'],
    },
    callBack: row.call_back,
    ipRestrictions: row.ip_restrictions,
    login: row.login,
    password: box.open(row.password_enc),
    quotaInformations: {
      quotaLeft: fromHundredths(row.quota_left),
      quotaStatus: row.quota_status as ApiUser['quotaInformations']['quotaStatus'],
    },
    stopCallBack: row.stop_call_back,
  }
}

export async function listUsers(db: Db, scope: Scope, serviceName: string): Promise<JsonList> {
  const account = await requireAccount(db, scope, serviceName)
  return listLogins(db, account.id)
}

/** The hot read: served from the process's user cache (see ./cache.ts) when it holds the row. */
export async function getUser(
  db: Db,
  box: SecretBox,
  scope: Scope,
  serviceName: string,
  login: string,
  cache?: UserCache,
) {
  const row = cache
    ? await cache.find(db, scope, serviceName, login)
    : await findUserByServiceName(db, scope, serviceName, login)
  if (row) return toApiUser(row, box)
  await requireAccount(db, scope, serviceName) // says which of the two does not exist
  throw userNotFound(login)
}

export async function createUser(
  db: Db,
  box: SecretBox,
  scope: Scope,
  serviceName: string,
  body: Static<typeof UserCreate>,
): Promise<void> {
  const account = await requireAccount(db, scope, serviceName)
  const created = await insertUser(db, {
    account_id: account.id,
    login: body.login,
    password_enc: box.seal(body.password),
  })
  if (!created) throw conflict(`The user ${body.login} already exists on ${serviceName}`)
}

/** Locks account then user (always in that order, so concurrent changes cannot deadlock). */
async function lockAccountAndUser(
  trx: Transaction<Database>,
  scope: Scope,
  serviceName: string,
  login: string,
): Promise<{ account: AccountRow; user: SmsUserRow }> {
  const account = await lockAccount(trx, scope, serviceName)
  if (!account) throw notFound(SERVICE_NOT_FOUND)
  const user = await lockUser(trx, account.id, login)
  if (!user) throw userNotFound(login)
  return { account, user }
}

export async function updateUserSettings(
  db: Db,
  box: SecretBox,
  scope: Scope,
  serviceName: string,
  login: string,
  body: Static<typeof UserUpdate>,
  // The routes pass the server's CALLBACK_ALLOW_PRIVATE; internal callers (benches, seeds) save as given.
  callbacks: CallbackUrlOptions = { allowPrivate: true },
): Promise<void> {
  if (body.login !== undefined && body.login !== login) {
    throw badRequest(`Invalid login: read-only, it cannot be changed (current value "${login}")`)
  }
  const patch: SmsUserUpdate = {}
  if (body.password !== undefined) patch.password_enc = box.seal(body.password)
  if (body.callBack !== undefined) patch.call_back = callbackUrl('callBack', body.callBack, callbacks)
  if (body.stopCallBack !== undefined)
    patch.stop_call_back = callbackUrl('stopCallBack', body.stopCallBack, callbacks)
  if (body.ipRestrictions !== undefined) {
    patch.ip_restrictions = ipAddressList('ipRestrictions', body.ipRestrictions, MAX_IP_RESTRICTIONS)
  }
  const alert = body.alertThresholdInformations
  if (alert?.alertEmail !== undefined) {
    patch.alert_email = emailAddress('alertThresholdInformations.alertEmail', alert.alertEmail)
  }
  if (alert?.alertNumber !== undefined) {
    patch.alert_number = internationalPhoneNumber('alertThresholdInformations.alertNumber', alert.alertNumber)
  }
  if (alert?.alertThreshold !== undefined) {
    if (alert.alertThreshold > MAX_CREDITS)
      throw invalid('alertThresholdInformations.alertThreshold', `at most ${MAX_CREDITS} credits`)
    patch.alert_threshold = alert.alertThreshold
  }
  if (alert?.support !== undefined) patch.alert_support = alert.support
  const quota = body.quotaInformations
  if (quota?.quotaLeft !== undefined && !hasAtMostTwoDecimals(quota.quotaLeft)) {
    throw invalid('quotaInformations.quotaLeft', 'a number of credits ≥ 0 with at most 2 decimals')
  }

  await db.transaction().execute(async (trx) => {
    const { account, user } = await lockAccountAndUser(trx, scope, serviceName, login)
    if (quota && (quota.quotaStatus !== undefined || quota.quotaLeft !== undefined)) {
      Object.assign(patch, await setQuota(trx, account, user, quota))
    }
    await updateUser(trx, account.id, login, patch)
  })
}

export async function removeUser(db: Db, scope: Scope, serviceName: string, login: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const { account } = await lockAccountAndUser(trx, scope, serviceName, login)
    const removed = await deleteUser(trx, account.id, login)
    if (removed?.quota_status === 'active') await releaseQuota(trx, account.id, login, removed.quota_left)
  })
}
