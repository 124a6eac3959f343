import type { Transaction } from 'kysely'
import type { Static } from 'typebox'
import { refund } from '../accounts/credits.js'
import { requireAccount } from '../accounts/service.js'
import type { Config } from '../config.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow, OutgoingRow } from '../db/schema.js'
import type { Clock, Scope } from '../deps.js'
import { badRequest, notFound } from '../errors.js'
import { userNotFound } from '../users/service.js'
import { invalid, parseInternational } from '../validation.js'
import { analyse } from './encoding.js'
import type { SendBatcher } from './group-commit.js'
import { type JobBody, MAX_RECEIVERS, type SmsSendingReport } from './schema.js'

export type SendInput = Static<typeof JobBody>
export type SendingReport = Static<typeof SmsSendingReport>

/** Where a request acts: a user of an account, or the account itself (login null). */
export type Sender = { scope: Scope; serviceName: string; login: string | null }

/** Resolves the account (scoped) and, for user-level routes, checks the user exists. */
export async function resolveTarget(db: Db | Transaction<Database>, target: Sender): Promise<AccountRow> {
  const account = await requireAccount(db as Db, target.scope, target.serviceName)
  if (target.login !== null) {
    const user = await db
      .selectFrom('sms_users')
      .select('login')
      .where('account_id', '=', account.id)
      .where('login', '=', target.login)
      .executeTakeFirst()
    if (!user) throw userNotFound(target.login)
  }
  return account
}

export type Receiver = { number: string; callingCode: string }

/** Valid receivers in E.164 (first occurrence of each), the rest as given. */
export function splitReceivers(raw: readonly string[]): { valid: Receiver[]; invalid: string[] } {
  const valid = new Map<string, Receiver>()
  const invalidOnes: string[] = []
  for (const value of raw) {
    const parsed = parseInternational(value)
    if (parsed) {
      if (!valid.has(parsed.number)) valid.set(parsed.number, parsed)
    } else invalidOnes.push(value)
  }
  return { valid: [...valid.values()], invalid: invalidOnes }
}

export type SendingDeps = { db: Db; clock: Clock; config: Config; batcher: SendBatcher }

/**
 * Sends one message to every valid receiver: the input is checked here, then the request joins the
 * next group commit (group-commit.ts), where the credits for the whole request are spent (user's
 * quota first, else the account) in the same transaction that writes the outgoing rows; not enough
 * credits → 400 and nothing is written. The carrier gets the messages from the sending worker, after
 * commit, never on the request path.
 */
export async function sendMessages(
  deps: SendingDeps,
  target: Sender,
  body: SendInput,
): Promise<SendingReport> {
  if (body.receiversSlotId !== undefined || body.receiversDocumentUrl !== undefined) {
    throw badRequest(
      'Invalid receiversSlotId/receiversDocumentUrl: stored receiver lists are not supported here; send receivers',
    )
  }
  if (!body.receivers || body.receivers.length === 0) throw badRequest('Missing parameter: receivers')
  // The JSON schema bounds REST bodies; http2sms's `to` arrives here unbounded.
  if (body.receivers.length > MAX_RECEIVERS) {
    throw invalid('receivers', `at most ${MAX_RECEIVERS} numbers in one request`)
  }
  const noStopClause = body.noStopClause ?? false
  const analysis = analyse(body.message, { noStopClause })
  if (analysis.parts === 0) throw invalid('message', 'a non-empty text')
  const { valid, invalid: invalidReceivers } = splitReceivers(body.receivers)
  const tag = body.tag ?? ''
  const now = deps.clock.now()
  const sendAt = new Date(now.getTime() + (body.differedPeriod ?? 0) * 60_000)
  const expiresAt = body.validityPeriod ? new Date(sendAt.getTime() + body.validityPeriod * 60_000) : null

  return deps.batcher.submit({
    target,
    body,
    analysis,
    receivers: valid,
    invalidReceivers,
    tag,
    now,
    sendAt,
    expiresAt,
    noStopClause,
  })
}

/** Outgoing rows of a target, one query: the user's own, or the whole account's. */
async function findOutgoing(db: Db, target: Sender, id: number): Promise<OutgoingRow> {
  const account = await resolveTarget(db, target)
  let query = db.selectFrom('outgoing').selectAll().where('account_id', '=', account.id).where('id', '=', id)
  if (target.login !== null) query = query.where('login', '=', target.login)
  const row = await query.executeTakeFirst()
  if (!row) throw notFound(`The requested object (id = ${id}) does not exist`)
  return row
}

export async function getOutgoing(db: Db, target: Sender, id: number, states: readonly string[]) {
  const row = await findOutgoing(db, target, id)
  if (!states.includes(row.state)) throw notFound(`The requested object (id = ${id}) does not exist`)
  return row
}

/** Cancels a pending (deferred) SMS and refunds its credits. */
export async function cancelJob(db: Db, target: Sender, id: number): Promise<void> {
  const account = await resolveTarget(db, target)
  await db.transaction().execute(async (trx) => {
    let query = trx
      .selectFrom('outgoing')
      .selectAll()
      .where('account_id', '=', account.id)
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .forUpdate()
    if (target.login !== null) query = query.where('login', '=', target.login)
    const row = await query.executeTakeFirst()
    if (!row) throw notFound(`The requested object (id = ${id}) does not exist`)
    await trx.updateTable('outgoing').set({ state: 'cancelled' }).where('id', '=', id).execute()
    await refund(trx, {
      accountId: row.account_id,
      login: row.login,
      hundredths: row.credits,
      source: row.spend_source,
      reference: `outgoing:${id}`,
    })
  })
}

/** Removes a sent SMS from history (a pending one is cancelled through …/jobs/{id}). */
export async function deleteOutgoing(db: Db, target: Sender, id: number): Promise<void> {
  const row = await getOutgoing(db, target, id, ['submitted', 'final'])
  await db.deleteFrom('outgoing').where('id', '=', row.id).execute()
}
