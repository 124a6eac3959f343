import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { systemClock } from '../../src/clock.js'
import type { SecretBox } from '../../src/crypto/secret-box.js'
import type { Db } from '../../src/db/index.js'
import { enableSender as validateSenderAsOperator } from '../../src/senders/service.js'
import { createUser, updateUserSettings } from '../../src/users/service.js'

/** Adds `sender` to the account, already validated (status enable), as the admin would. */
export async function enableSender(db: Db, accountId: number, sender = 'ACME'): Promise<void> {
  await db
    .insertInto('senders')
    .values({ account_id: accountId, sender, status: 'enable', type: 'alpha' })
    .execute()
}

/** The id of the account of `serviceName`. */
export async function accountIdOf(db: Db, serviceName: string): Promise<number> {
  const account = await db
    .selectFrom('accounts')
    .select('id')
    .where('service_name', '=', serviceName)
    .executeTakeFirstOrThrow()
  return account.id
}

export type SeedUser = {
  login: string
  password: string
  callBack?: string
  /** An active quota of this many credits. */
  quota?: number
}

/**
 * An owner, an account with credits and a sender created and validated through the senders service,
 * and optionally a user with a password (and callBack, quota) — what a bench or a drill sends with.
 */
export async function seedAccount(
  db: Db,
  box: SecretBox,
  options: { owner: string; serviceName: string; credits: number; sender: string; user?: SeedUser },
): Promise<{ ownerId: number; accountId: number }> {
  const owner = await createOwner(db, options.owner)
  const account = await createAccount(db, {
    ownerId: owner.id,
    serviceName: options.serviceName,
    credits: options.credits,
  })
  const { user } = options
  if (user) {
    await createUser(db, box, ALL_OWNERS, options.serviceName, { login: user.login, password: user.password })
    if (user.callBack !== undefined || user.quota !== undefined)
      await updateUserSettings(db, box, ALL_OWNERS, options.serviceName, user.login, {
        ...(user.callBack === undefined ? {} : { callBack: user.callBack }),
        ...(user.quota === undefined
          ? {}
          : { quotaInformations: { quotaStatus: 'active', quotaLeft: user.quota } }),
      })
  }
  await validateSenderAsOperator(db, systemClock, options.serviceName, options.sender)
  return { ownerId: owner.id, accountId: account.id }
}
