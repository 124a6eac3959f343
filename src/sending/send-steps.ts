import { randomUUID } from 'node:crypto'
import { sql, type Transaction } from 'kysely'
import { fromHundredths } from '../accounts/amounts.js'
import { type SpendSource, spendForPayers, UnknownPayer } from '../accounts/ledger.js'
import { type QuotaDrop, raiseAlerts } from '../alerts/raise.js'
import type { Config } from '../config.js'
import type { Outcome } from '../db/group-commit.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'
import { type ApiError, badRequest, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { SenderRefused } from '../senders/service.js'
import { userNotFound } from '../users/service.js'
import { insertOutgoing } from './outgoing-repository.js'
import type { Receiver, SendingReport, SendRequest } from './request.js'

type Trx = Transaction<Database>
/** A transaction, or the database itself for a statement that commits alone. */
type Executor = Trx | Db

/**
 * The write of a batch of send requests, in one transaction, as the steps a reader can follow:
 *
 *   check routes → resolve targets and drop blacklisted → price → charge → insert outgoing → raise alerts
 *
 * Each step works on the whole batch (one query per account, per payer, per table, not per
 * request) and leaves the requests it refuses (unknown user, sender not enabled, not enough
 * credits) with their refusal, which fails that request alone. Every entry point — POST …/jobs,
 * http2sms, limit-alert SMS, SMPP submit_sm — builds a `SendRequest` and queues it; this is the only
 * place sends are written.
 */
export async function writeSends(
  trx: Trx,
  batch: readonly SendRequest[],
  rates: Config['rates'],
  routable: Routable = () => true,
): Promise<Outcome<SendingReport>[]> {
  const sends = batch.map((request): Send => ({ request, refusal: null, receivers: request.receivers }))
  refuseUnroutable(sends, routable)
  await resolveTargets(trx, sends)
  price(sends, rates)
  let drops: QuotaDrop[] = []
  if (!(await chargeAndInsertAtOnce(trx, sends))) {
    drops = await charge(trx, sends)
    await insertOutgoingRows(trx, sends)
  }
  await raiseAlerts(trx, drops, batch[0]?.now ?? new Date())
  return sends.map(
    (send): Outcome<SendingReport> =>
      send.refusal ? { ok: false, error: send.refusal } : { ok: true, value: report(send) },
  )
}

/**
 * writeSends without a transaction, for group commit's fast path: a batch whose requests are all
 * sent from one account (login null: SMPP submits, account jobs) is read in one statement and written
 * in one (chargeAndInsertAtOnce: spend, ledger and outgoing rows, atomic on its own), two round trips
 * instead of the six of BEGIN … COMMIT. Answers null, having written nothing, when the batch does not
 * qualify or its sum cannot be paid at once: writeSends then writes it in a transaction.
 */
export async function writeSendsAtOnce(
  db: Db,
  batch: readonly SendRequest[],
  rates: Config['rates'],
  routable: Routable = () => true,
): Promise<Outcome<SendingReport>[] | null> {
  const firstTarget = batch[0]?.target
  if (!firstTarget) return null
  const sameAccount = (target: SendRequest['target']) =>
    target.login === null &&
    target.serviceName === firstTarget.serviceName &&
    target.scope.ownerId === firstTarget.scope.ownerId
  if (!batch.every((request) => sameAccount(request.target))) return null
  const sends = batch.map((request): Send => ({ request, refusal: null, receivers: request.receivers }))
  refuseUnroutable(sends, routable)
  await resolveTargets(db, sends)
  price(sends, rates)
  if (!(await chargeAndInsertAtOnce(db, sends))) return null
  return sends.map(
    (send): Outcome<SendingReport> =>
      send.refusal ? { ok: false, error: send.refusal } : { ok: true, value: report(send) },
  )
}

/** writeSends with the process's rates and routing: what a caller holding a transaction uses. */
export type WriteSends = (trx: Trx, batch: readonly SendRequest[]) => Promise<Outcome<SendingReport>[]>

/** One request as it goes through the steps. */
type Send = {
  request: SendRequest
  /** Set by the step that refuses it; the later steps pass it by. */
  refusal: ApiError | null
  account?: AccountRow
  sender?: string
  batchId?: string
  /** The receivers still to send to (blacklisted ones are dropped). */
  receivers: Receiver[]
  /** Blacklisted receivers, reported with the invalid ones. */
  blacklisted?: string[]
  rows?: { receiver: string; credits: number; tariffCode: string }[]
  total?: number
  source?: SpendSource
  /** What its payer (quota or account) has left right after this request's spend, in hundredths. */
  left?: number
  ids?: number[]
}

const live = (sends: Send[]) => sends.filter((send) => send.refusal === null)

/** Whether a configured carrier takes this receiver (E.164); see src/carrier/router.ts. */
export type Routable = (receiver: string) => boolean

/**
 * 0. A request with a receiver no carrier takes is refused (400) before anything is read or spent:
 * no CARRIERS prefix matches it and no carrier is the default.
 */
function refuseUnroutable(sends: Send[], routable: Routable): void {
  for (const send of sends) {
    const unroutable = send.receivers.filter((r) => !routable(r.number))
    if (unroutable.length === 0) continue
    const shown = unroutable
      .slice(0, 3)
      .map((r) => r.number)
      .join(', ')
    send.refusal = badRequest(
      `Invalid receivers: no carrier is configured for ${shown}${unroutable.length > 3 ? ` and ${unroutable.length - 3} more` : ''} ` +
        '(no carrier prefix matches and no carrier is the default); remove them or ask the operator to route them',
    )
  }
}

/**
 * What a batch reads about one account, in one statement: the account (scoped), which of the batch's
 * logins are its users, the status of each sender the batch names, its default sender (when a request
 * names none), and which of the batch's receivers are on its blacklist. One round trip per account
 * per batch instead of four (account, users, sender, blacklist); arrays as parameters, so its text is
 * the same for any batch.
 */
type AccountReads = {
  account: AccountRow
  logins: Set<string>
  senders: Map<string, string>
  defaultSender: string | null
  blacklisted: Set<string>
}

async function readAccount(
  trx: Executor,
  target: Send['request']['target'],
  wanted: { logins: string[]; senders: string[]; needsDefault: boolean; numbers: string[] },
): Promise<AccountReads | undefined> {
  let query = trx
    .selectFrom('accounts as a')
    .selectAll('a')
    .select([
      sql<string[]>`coalesce((select json_agg(u.login) from sms_users as u
        where u.account_id = a.id and u.login = any(${wanted.logins}::text[])), '[]'::json)`.as(
        'batch_logins',
      ),
      sql<
        [string, string][]
      >`coalesce((select json_agg(json_build_array(s.sender, s.status)) from senders as s
        where s.account_id = a.id and s.sender = any(${wanted.senders}::text[])), '[]'::json)`.as(
        'batch_senders',
      ),
      sql<string | null>`case when ${wanted.needsDefault}::bool then (select s.sender from senders as s
        where s.account_id = a.id and s.status = 'enable' order by s.created_at, s.sender limit 1) end`.as(
        'batch_default_sender',
      ),
      sql<string[]>`coalesce((select json_agg(b.number) from blacklist as b
        where b.account_id = a.id and b.number = any(${wanted.numbers}::text[])), '[]'::json)`.as(
        'batch_blacklisted',
      ),
    ])
    .where('a.service_name', '=', target.serviceName)
  if (target.scope.ownerId !== undefined) query = query.where('a.owner_id', '=', target.scope.ownerId)
  const row = await query.executeTakeFirst()
  if (!row) return undefined
  const { batch_logins, batch_senders, batch_default_sender, batch_blacklisted, ...account } = row
  return {
    account: account as AccountRow,
    logins: new Set(batch_logins),
    senders: new Map(batch_senders),
    defaultSender: batch_default_sender,
    blacklisted: new Set(batch_blacklisted),
  }
}

/**
 * 1. Each request's account (scoped), user and sender, and 2. its blacklisted receivers dropped
 * (they replied STOP): one statement per account of the batch (readAccount).
 */
async function resolveTargets(trx: Executor, sends: Send[]): Promise<void> {
  const byAccount = new Map<string, Send[]>()
  const accountKey = (send: Send) =>
    `${send.request.target.scope.ownerId ?? '*'}\u0000${send.request.target.serviceName}`
  for (const send of sends) {
    if (send.refusal) continue
    const key = accountKey(send)
    const group = byAccount.get(key)
    if (group) group.push(send)
    else byAccount.set(key, [send])
  }
  for (const group of byAccount.values()) {
    const logins = new Set<string>()
    const senders = new Set<string>()
    const numbers = new Set<string>()
    let needsDefault = false
    for (const send of group) {
      if (send.request.target.login !== null) logins.add(send.request.target.login)
      if (send.request.sender) senders.add(send.request.sender)
      else needsDefault = true
      for (const receiver of send.receivers) numbers.add(receiver.number)
    }
    const reads = await readAccount(trx, (group[0] as Send).request.target, {
      logins: [...logins],
      senders: [...senders],
      needsDefault,
      numbers: [...numbers],
    })
    for (const send of group) {
      if (!reads) {
        send.refusal = notFound(SERVICE_NOT_FOUND)
        continue
      }
      const { login } = send.request.target
      if (login !== null && !reads.logins.has(login)) {
        send.refusal = userNotFound(login)
        continue
      }
      const given = send.request.sender
      let sender: string
      if (given) {
        const status = reads.senders.get(given)
        if (status !== 'enable') {
          const why = status ? `status ${status}` : 'it does not exist'
          send.refusal = new SenderRefused(
            `Invalid sender: "${given}" is not an enabled sender of this account (${why})`,
          )
          continue
        }
        sender = given
      } else {
        sender = reads.defaultSender ?? ''
      }
      if (sender === '' && !send.request.senderForResponse) {
        send.refusal = new SenderRefused(
          'Missing parameter: sender (the account has no enabled sender to use by default)',
        )
        continue
      }
      send.account = reads.account
      send.sender = sender
      send.batchId = randomUUID()
      if (reads.blacklisted.size === 0) continue
      const blacklisted = send.receivers.filter((r) => reads.blacklisted.has(r.number)).map((r) => r.number)
      if (blacklisted.length === 0) continue
      send.blacklisted = blacklisted
      send.receivers = send.receivers.filter((r) => !reads.blacklisted.has(r.number))
    }
  }
}

/** 3. What each SMS costs: its parts × its receiver's country rate. */
function price(sends: Send[], rates: Config['rates']): void {
  for (const send of live(sends)) {
    send.rows = send.receivers.map((r) => {
      const rate = rates.byCallingCode[r.callingCode] ?? rates.default
      return {
        receiver: r.number,
        credits: send.request.analysis.parts * rate,
        tariffCode: `${r.callingCode}:${rate}`,
      }
    })
    send.total = send.rows.reduce((sum, row) => sum + row.credits, 0)
  }
}

/**
 * 4. Credits: each payer (a user's active quota, else its account) spent once for all its requests,
 * in a fixed order (no two batches lock the same rows in opposite orders). Answers the quota drops
 * the alert step looks at.
 */
async function charge(trx: Trx, sends: Send[]): Promise<QuotaDrop[]> {
  const payers = new Map<string, Send[]>()
  for (const send of live(sends)) {
    if (send.receivers.length === 0) continue
    const key = `${String((send.account as AccountRow).id).padStart(12, '0')}\u0000${send.request.target.login ?? ''}`
    payers.set(key, [...(payers.get(key) ?? []), send])
  }
  const groups = [...payers.keys()].sort().map((key) => payers.get(key) as Send[])
  // Every payer of the batch at once: one UPDATE for the users' quotas that pay (see spendForPayers).
  const spent = await spendForPayers(
    trx,
    groups.map((group) => ({
      accountId: ((group[0] as Send).account as AccountRow).id,
      login: (group[0] as Send).request.target.login,
      items: group.map((send) => ({ hundredths: send.total as number, reference: `batch:${send.batchId}` })),
    })),
  )
  const drops: QuotaDrop[] = []
  for (const [g, group] of groups.entries()) {
    const first = group[0] as Send
    const accountId = (first.account as AccountRow).id
    const login = first.request.target.login
    // The quota before the first of these spends and after the last (they are spent as one).
    let before: number | null = null
    let drop: QuotaDrop | undefined
    for (const [i, send] of group.entries()) {
      const outcome = spent[g]?.[i]
      if (!outcome?.ok) {
        const error = outcome?.error
        send.refusal =
          error instanceof UnknownPayer ? userNotFound(error.login) : badRequest(String(error?.message))
        continue
      }
      send.source = outcome.source
      send.left = outcome.left
      if (login !== null && outcome.alert) {
        before ??= outcome.left + (send.total as number)
        drop = { accountId, login, before, after: outcome.left, alert: outcome.alert }
      }
    }
    if (drop) drops.push(drop)
  }
  return drops
}

/**
 * 4 + 5 in one statement, when the whole batch has one payer and it is an account (login null: SMPP
 * submits, account jobs): the conditional spend of the batch's sum, its ledger rows and the outgoing
 * rows, the inserts joined to the spend's RETURNING, so that when the sum cannot be paid nothing is
 * written. Rows and ledger entries go as one JSON parameter each, so the statement's text is the same
 * for any batch. Answers false (nothing written, nothing set) when the batch does not qualify or the
 * sum could not be paid: charge and insertOutgoingRows then do it step by step (each request on its
 * own when the sum does not fit). Two round trips fewer per batch than those steps; true at once when
 * no request has anything to pay.
 */
async function chargeAndInsertAtOnce(trx: Executor, sends: Send[]): Promise<boolean> {
  const paying = live(sends).filter((send) => send.receivers.length > 0)
  const first = paying[0]
  // Nothing to pay (every request refused, or every receiver blacklisted): nothing to write either.
  if (!first) return true
  const accountId = (first.account as AccountRow).id
  if (
    paying.some((send) => send.request.target.login !== null || (send.account as AccountRow).id !== accountId)
  ) {
    return false
  }
  const total = paying.reduce((sum, send) => sum + (send.total as number), 0)
  if (paying.some((send) => !Number.isInteger(send.total) || (send.total as number) <= 0)) return false
  const rowsJson = JSON.stringify(outgoingRows(paying, () => 'account'))
  const ledgerJson = JSON.stringify(
    paying.map((send) => ({ hundredths: send.total, reference: `batch:${send.batchId}` })),
  )
  // jsonb refuses NUL and lone surrogates, which a text parameter takes (as U+FFFD for the latter):
  // such a batch goes the step-by-step way, so that the same input gives the same answer.
  if (UNSAFE_IN_JSONB.test(rowsJson) || UNSAFE_IN_JSONB.test(ledgerJson)) return false
  const { rows } = await sql<{ left: number | string | null; ids: number[] | null }>`
    with paid as (
      update accounts set credits_left = credits_left - ${total}::int8
       where id = ${accountId} and credits_left >= ${total}::int8
      returning credits_left
    ), ledger as (
      insert into credit_ledger (account_id, kind, login, account_delta, quota_delta, counterparty, reference)
      select ${accountId}, 'spend', null, -e.hundredths, 0, null, e.reference
        from paid, jsonb_to_recordset(${ledgerJson}::jsonb) as e(hundredths int8, reference text)
    ), inserted as (
      insert into outgoing (${sql.join(OUTGOING_COLUMNS.map((c) => sql.ref(c)))})
      select ${sql.join(OUTGOING_COLUMNS.map((c) => sql.ref(`r.${c}`)))}
        from paid, jsonb_populate_recordset(null::outgoing, ${rowsJson}::jsonb) with ordinality as r
       order by r.ordinality
      returning id
    )
    select (select credits_left from paid) as left, (select json_agg(id order by id) from inserted) as ids`.execute(
    trx,
  )
  const answer = rows[0]
  if (!answer || answer.left === null) return false
  let left = Number(answer.left) + total
  const ids = answer.ids ?? []
  let next = 0
  for (const send of paying) {
    left -= send.total as number
    send.source = 'account'
    send.left = left
    send.ids = ids.slice(next, next + send.receivers.length).map(Number)
    next += send.receivers.length
  }
  return true
}

const UNSAFE_IN_JSONB = /\\u(0000|d[89a-f])/i

/** The columns insertOutgoingRows and chargeAndInsertAtOnce write (every other one has its default). */
const OUTGOING_COLUMNS = [
  'account_id',
  'login',
  'batch_id',
  'message_id',
  'smpp_receipt',
  'sender',
  'receiver',
  'message',
  'message_length',
  'number_of_sms',
  'coding',
  'credits',
  'spend_source',
  'tag',
  'class',
  'priority',
  'no_stop_clause',
  'sender_for_response',
  'differed_delivery',
  'send_at',
  'expires_at',
  'tariff_code',
  'created_at',
] as const

/** The outgoing rows of these (paid) requests, in their order, one per receiver. */
function outgoingRows(paid: Send[], sourceOf: (send: Send) => SpendSource) {
  return paid.flatMap((send) => {
    const { request } = send
    return (send.rows ?? []).map((row) => ({
      account_id: (send.account as AccountRow).id,
      login: request.target.login,
      batch_id: send.batchId as string,
      message_id: request.messageId,
      smpp_receipt: request.smppReceipt ?? null,
      sender: send.sender as string,
      receiver: row.receiver,
      message: request.message,
      message_length: request.analysis.characters,
      number_of_sms: request.analysis.parts,
      coding: request.analysis.encoding,
      credits: row.credits,
      spend_source: sourceOf(send),
      tag: request.tag,
      class: request.smsClass,
      priority: request.priority,
      no_stop_clause: request.noStopClause,
      sender_for_response: request.senderForResponse,
      differed_delivery: request.differedPeriod,
      send_at: request.sendAt,
      expires_at: request.expiresAt,
      tariff_code: row.tariffCode,
      created_at: request.now,
    }))
  })
}

/** 5. The outgoing rows of every paid request: a few INSERTs for the whole batch. */
async function insertOutgoingRows(trx: Trx, sends: Send[]): Promise<void> {
  const paid = live(sends).filter((send) => send.source !== undefined)
  const rows = outgoingRows(paid, (send) => send.source as SpendSource)
  const ids = await insertOutgoing(trx, rows)
  let next = 0
  for (const send of paid) {
    send.ids = ids.slice(next, next + send.receivers.length)
    next += send.receivers.length
  }
}

const creditsLeft = new WeakMap<SendingReport, number>()

/**
 * What the payer of an accepted request had left right after its spend, in hundredths, read in the
 * batch that spent it (http2sms answers it without reading the database again); undefined for a
 * request that spent nothing. Kept beside the report, which is OVH's sms.SmsSendingReport as is.
 */
export function creditLeftAfter(report: SendingReport): number | undefined {
  return creditsLeft.get(report)
}

function report(send: Send): SendingReport {
  const answer = sentReport(send)
  if (send.ids?.length && send.left !== undefined) creditsLeft.set(answer, send.left)
  return answer
}

function sentReport(send: Send): SendingReport {
  const { request } = send
  return {
    ids: send.ids ?? [],
    invalidReceivers: [...request.invalidReceivers, ...(send.blacklisted ?? [])],
    tag: request.tag,
    totalCreditsRemoved: send.ids?.length ? fromHundredths(send.total ?? 0) : 0,
    validReceivers: send.ids?.length ? send.receivers.map((r) => r.number) : [],
  }
}
