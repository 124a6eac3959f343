import type { FastifyRequest } from 'fastify'
import type { Transaction } from 'kysely'
import { Type } from 'typebox'
import { findAccount } from '../accounts/repository.js'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'
import { ApiError, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { IdParam, ServiceNameParam } from '../http/schema.js'
import { existingLogins, userExists } from '../users/repository.js'
import { userNotFound } from '../users/service.js'

/** Where a request acts: a user of an account, or the account itself (login null). */
export type Target = { scope: Scope; serviceName: string; login: string | null }

/** The target's account (scoped), after checking that the user exists for user-level requests. */
export async function resolveTarget(db: Db | Transaction<Database>, target: Target): Promise<AccountRow> {
  const account = await findAccount(db, target.scope, target.serviceName)
  if (!account) throw notFound(SERVICE_NOT_FOUND)
  if (target.login !== null && !(await userExists(db, account.id, target.login)))
    throw userNotFound(target.login)
  return account
}

/**
 * `resolveTarget` for many targets at once (a batch of sends): each account read once, and the users
 * of each account checked with one query. Answers, in the order of `targets`, the account or the
 * error `resolveTarget` would have thrown.
 */
export async function resolveTargets(
  db: Db | Transaction<Database>,
  targets: readonly Target[],
): Promise<(AccountRow | ApiError)[]> {
  const accounts = new Map<string, AccountRow | ApiError>()
  const accountKey = (target: Target) => `${target.scope.ownerId ?? '*'}\u0000${target.serviceName}`
  for (const target of targets) {
    const key = accountKey(target)
    if (accounts.has(key)) continue
    accounts.set(
      key,
      (await findAccount(db, target.scope, target.serviceName)) ?? notFound(SERVICE_NOT_FOUND),
    )
  }
  const logins = new Map<number, Set<string>>()
  for (const target of targets) {
    const account = accounts.get(accountKey(target))
    if (target.login === null || !account || account instanceof ApiError) continue
    logins.set(account.id, (logins.get(account.id) ?? new Set()).add(target.login))
  }
  const existing = new Set<string>()
  for (const [accountId, wanted] of logins) {
    for (const login of await existingLogins(db, accountId, [...wanted]))
      existing.add(`${accountId}\u0000${login}`)
  }
  return targets.map((target) => {
    const account = accounts.get(accountKey(target)) as AccountRow | ApiError
    if (account instanceof ApiError || target.login === null) return account
    return existing.has(`${account.id}\u0000${target.login}`) ? account : userNotFound(target.login)
  })
}

/**
 * What the routes of one level share — the user's (`/sms/{serviceName}/users/{login}`) or the
 * account's (`/sms/{serviceName}`) jobs, outgoing and incoming messages: their path, parameters,
 * tags, and the target a request acts for.
 */
export function levelRoutes(level: 'user' | 'account') {
  const user = level === 'user'
  const Params = user
    ? Type.Object({ serviceName: ServiceNameParam, login: Type.String({ maxLength: 100 }) })
    : Type.Object({ serviceName: ServiceNameParam })
  return {
    user,
    base: user ? '/sms/:serviceName/users/:login' : '/sms/:serviceName',
    tags: [user ? 'sms users' : 'sms'],
    Params,
    IdParams: Type.Object({ ...Params.properties, id: IdParam }),
    who: user ? 'this user' : 'the account',
    target: (request: FastifyRequest): Target => {
      const params = request.params as { serviceName: string; login?: string }
      return {
        scope: request.scope,
        serviceName: params.serviceName,
        login: user ? (params.login as string) : null,
      }
    },
  }
}
