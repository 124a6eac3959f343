import type { FastifyRequest } from 'fastify'
import type { Transaction } from 'kysely'
import { Type } from 'typebox'
import { findAccount } from '../accounts/repository.js'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'
import { notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { IdParam, ServiceNameParam } from '../http/schema.js'
import { userExists } from '../users/repository.js'
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
