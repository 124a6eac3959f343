import { randomUUID } from 'node:crypto'
import type { Transaction } from 'kysely'
import { type SpendOutcome, type SpendSource, spendMany, UnknownPayer } from '../accounts/credits.js'
import { raiseAlertIfCrossed } from '../alerts/raise.js'
import type { Config } from '../config.js'
import { fromHundredths } from '../credits.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow } from '../db/schema.js'
import { ApiError, badRequest, conflict, isDatabaseUnavailable } from '../errors.js'
import { userNotFound } from '../users/service.js'
import type { MessageAnalysis } from './encoding.js'
import { defaultSender, requireEnabledSender } from './senders-service.js'
import type { Receiver, Sender, SendInput, SendingReport } from './service.js'
import { resolveTarget } from './service.js'

/**
 * Group commit for sends. A request is checked on its own (message, receivers), then queued; the
 * queue is written by at most `concurrency` transactions at a time, each taking what is queued (up to
 * `maxBatch` requests and `maxRows` outgoing rows). At low load a request is written at once, alone;
 * under load, the requests that arrive while a batch is being written go together in the next one:
 * the account, users, senders and blacklist are read once per batch, each payer's credits are spent
 * with one conditional UPDATE, and the ledger and outgoing rows are written with one INSERT each — a
 * handful of statements and one commit for the whole batch, instead of ten statements and a commit
 * per request, and a user's quota row is locked once per batch, not once per request.
 *
 * No request may fail, or hold up without bound, the requests of another account:
 * - a refusal (unknown service or user, a user deleted meanwhile, sender not enabled, not enough
 *   credits) fails that request alone and writes nothing for it;
 * - a batch that fails for any other reason than an unavailable database (a value the database
 *   refuses, a constraint, a deadlock met twice) is written again one request per transaction, so
 *   only the request that causes it fails;
 * - each account has its own queue and a batch takes one request of each in turn, so an account that
 *   floods the queue delays the others by one request per batch, not by its whole backlog; and the
 *   row bound keeps one batch short whatever its requests hold.
 */

/** A send request whose input has been checked, waiting for its batch. */
export type PreparedSend = {
  target: Sender
  body: SendInput
  analysis: MessageAnalysis
  receivers: Receiver[]
  invalidReceivers: string[]
  tag: string
  now: Date
  sendAt: Date
  expiresAt: Date | null
  noStopClause: boolean
}

type Pending = PreparedSend & {
  resolve: (report: SendingReport) => void
  reject: (error: unknown) => void
}

/** What the write of a batch decided for one request. */
type Outcome = { report: SendingReport } | { error: unknown }

const RETRIED_SQLSTATES = new Set(['40P01', '40001'])
/** Outgoing rows per INSERT statement (about 21 parameters a row; PostgreSQL allows 65,535). */
const INSERT_CHUNK = 1000

export type BatcherOptions = {
  maxBatch: number
  concurrency: number
  /** Outgoing rows per batch at most (a request larger than that is written alone). */
  maxRows?: number
}

/** One request's share of a batch's bound: its outgoing rows (at least one). */
const rowsOf = (send: PreparedSend) => Math.max(1, send.receivers.length)

/** First in, first out, without Array#shift's copying on long queues. */
class Fifo<T> {
  private items: T[] = []
  private head = 0
  get length(): number {
    return this.items.length - this.head
  }
  push(item: T): void {
    this.items.push(item)
  }
  peek(): T | undefined {
    return this.items[this.head]
  }
  take(): T | undefined {
    const item = this.items[this.head]
    this.head++
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}

export class SendBatcher {
  /** Waiting requests by account; the Map's order is the turn (served keys go to the back). */
  private readonly waiting = new Map<string, Fifo<Pending>>()
  private running = 0
  private readonly maxRows: number
  /** Batches written, requests in them, the largest one (for tests and the benches). */
  readonly stats = { batches: 0, requests: 0, largest: 0 }

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly onAccepted: () => void,
    /**
     * One batch at a time by default: bench:send measured 1,500 accepted/s for one user with 1
     * against 930 with 4 (concurrent batches of one user wait on each other's row lock).
     */
    private readonly options: BatcherOptions = { maxBatch: 256, concurrency: 1 },
  ) {
    this.maxRows = options.maxRows ?? 5 * INSERT_CHUNK
  }

  submit(send: PreparedSend): Promise<SendingReport> {
    return new Promise((resolve, reject) => {
      const key = send.target.serviceName
      let queue = this.waiting.get(key)
      if (!queue) {
        queue = new Fifo()
        this.waiting.set(key, queue)
      }
      queue.push({ ...send, resolve, reject })
      this.pump()
    })
  }

  private pump(): void {
    while (this.running < this.options.concurrency && this.waiting.size > 0) {
      const batch = this.nextBatch()
      this.running++
      this.stats.batches++
      this.stats.requests += batch.length
      this.stats.largest = Math.max(this.stats.largest, batch.length)
      void this.flush(batch).finally(() => {
        this.running--
        this.pump()
      })
    }
  }

  /** One request of each waiting account in turn, within the batch's bounds (never empty). */
  private nextBatch(): Pending[] {
    const batch: Pending[] = []
    let rows = 0
    while (batch.length < this.options.maxBatch) {
      const first = this.waiting.entries().next()
      if (first.done) break
      const [key, queue] = first.value
      const next = queue.peek() as Pending
      if (batch.length > 0 && rows + rowsOf(next) > this.maxRows) break
      queue.take()
      batch.push(next)
      rows += rowsOf(next)
      this.waiting.delete(key)
      if (queue.length > 0) this.waiting.set(key, queue)
    }
    return batch
  }

  private async flush(batch: Pending[]): Promise<void> {
    let outcomes: Outcome[]
    try {
      outcomes = await this.write(batch)
    } catch (error) {
      for (const pending of batch) pending.reject(error)
      return
    }
    let accepted = false
    for (const [i, pending] of batch.entries()) {
      const outcome = outcomes[i] as Outcome
      if ('error' in outcome) pending.reject(outcome.error)
      else {
        if (outcome.report.ids.length > 0) accepted = true
        pending.resolve(outcome.report)
      }
    }
    if (accepted) this.onAccepted()
  }

  /**
   * The batch in one transaction; when that fails (and the database still answers), each request in
   * its own, so that a failure is the answer of the request that causes it and of no other.
   */
  private async write(batch: Pending[]): Promise<Outcome[]> {
    try {
      return await this.transaction(batch)
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error
      if (batch.length === 1) return [{ error: ownFailure(error) }]
    }
    const outcomes: Outcome[] = []
    for (const pending of batch) {
      try {
        outcomes.push(...(await this.transaction([pending])))
      } catch (error) {
        // Those written before keep their answers, even when the database goes away now.
        outcomes.push({ error: ownFailure(error) })
      }
    }
    return outcomes
  }

  private async transaction(batch: Pending[]): Promise<Outcome[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => writeBatch(trx, this.config, batch))
      } catch (error) {
        const code = (error as { code?: unknown }).code
        if (attempt >= 2 || typeof code !== 'string' || !RETRIED_SQLSTATES.has(code)) throw error
      }
    }
  }
}

/**
 * The answer to a request whose own transaction failed. SQLSTATE class 22 (data exception) is a value
 * of the request the database cannot store: the client's to fix. Class 23 (integrity constraint) met
 * by a request alone comes from a concurrent change of what it refers to: sending again resolves it.
 * Anything else (an unavailable database, a bug) goes up as it is.
 */
function ownFailure(error: unknown): unknown {
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string') return error
  if (code.startsWith('22')) {
    return badRequest(
      `Invalid request: the database refuses one of its values (${(error as Error).message}); check the message, sender and tag`,
    )
  }
  if (code.startsWith('23')) {
    return conflict('The request met a concurrent change of its account, user or sender; send it again')
  }
  return error
}

/** A request kept after its checks, with what its rows cost. */
type Accepted = {
  index: number
  send: PreparedSend
  account: AccountRow
  sender: string
  batchId: string
  rows: { receiver: string; credits: number; tariffCode: string }[]
  total: number
  receivers: Receiver[]
  invalidReceivers: string[]
}

/** Writes one batch in `trx`; the outcome of each request, in order. */
async function writeBatch(
  trx: Transaction<Database>,
  config: Config,
  batch: readonly PreparedSend[],
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(batch.length)
  const accounts = new Map<string, AccountRow | ApiError>()
  const senders = new Map<string, string | ApiError>()
  const kept: Accepted[] = []

  // 1. Per request: its account and user, its sender (each read once per batch).
  for (const [index, send] of batch.entries()) {
    const { target } = send
    const key = `${target.scope.ownerId ?? '*'}\u0000${target.serviceName}\u0000${target.login ?? ''}`
    let account = accounts.get(key)
    if (!account) {
      account = await refusal(() => resolveTarget(trx, target))
      accounts.set(key, account)
    }
    if (account instanceof ApiError) {
      outcomes[index] = { error: account }
      continue
    }
    const given = send.body.sender?.trim() || null
    const senderKey = `${account.id}\u0000${given ?? ''}`
    let sender = senders.get(senderKey)
    if (sender === undefined) {
      const accountId = account.id
      sender = await refusal(async () => {
        if (given) {
          await requireEnabledSender(trx, accountId, given)
          return given
        }
        return (await defaultSender(trx, accountId)) ?? ''
      })
      senders.set(senderKey, sender)
    }
    if (sender instanceof ApiError) {
      outcomes[index] = { error: sender }
      continue
    }
    if (sender === '' && !send.body.senderForResponse) {
      outcomes[index] = {
        error: badRequest('Missing parameter: sender (the account has no enabled sender to use by default)'),
      }
      continue
    }
    kept.push({
      index,
      send,
      account,
      sender,
      batchId: randomUUID(),
      rows: [],
      total: 0,
      receivers: send.receivers,
      invalidReceivers: [...send.invalidReceivers],
    })
  }

  // 2. The blacklist: one query per account for every receiver of the batch.
  const byAccount = new Map<number, Accepted[]>()
  for (const item of kept) byAccount.set(item.account.id, [...(byAccount.get(item.account.id) ?? []), item])
  for (const [accountId, items] of byAccount) {
    const numbers = [...new Set(items.flatMap((item) => item.receivers.map((r) => r.number)))]
    if (numbers.length === 0) continue
    const blacklisted = new Set<string>()
    for (let from = 0; from < numbers.length; from += INSERT_CHUNK * 10) {
      const rows = await trx
        .selectFrom('blacklist')
        .select('number')
        .where('account_id', '=', accountId)
        .where('number', 'in', numbers.slice(from, from + INSERT_CHUNK * 10))
        .execute()
      for (const row of rows) blacklisted.add(row.number)
    }
    if (blacklisted.size === 0) continue
    for (const item of items) {
      for (const r of item.receivers) if (blacklisted.has(r.number)) item.invalidReceivers.push(r.number)
      item.receivers = item.receivers.filter((r) => !blacklisted.has(r.number))
    }
  }
  const paying: Accepted[] = []
  for (const item of kept) {
    if (item.receivers.length === 0) {
      outcomes[item.index] = { report: emptyReport(item) }
      continue
    }
    item.rows = item.receivers.map((r) => {
      const rate = config.rates.byCallingCode[r.callingCode] ?? config.rates.default
      return {
        receiver: r.number,
        credits: item.send.analysis.parts * rate,
        tariffCode: `${r.callingCode}:${rate}`,
      }
    })
    item.total = item.rows.reduce((sum, row) => sum + row.credits, 0)
    paying.push(item)
  }

  // 3. Credits: per payer, in a fixed order (no two batches lock the same rows in opposite orders).
  const payers = new Map<string, Accepted[]>()
  for (const item of paying) {
    const key = `${String(item.account.id).padStart(12, '0')}\u0000${item.send.target.login ?? ''}`
    payers.set(key, [...(payers.get(key) ?? []), item])
  }
  const written: { item: Accepted; source: SpendSource }[] = []
  for (const key of [...payers.keys()].sort()) {
    const items = payers.get(key) as Accepted[]
    const first = items[0] as Accepted
    const login = first.send.target.login
    const spent: SpendOutcome[] = await spendMany(trx, {
      accountId: first.account.id,
      login,
      items: items.map((item) => ({ hundredths: item.total, reference: `batch:${item.batchId}` })),
    })
    let crossed: { before: number; after: number; threshold: number } | undefined
    for (const [i, item] of items.entries()) {
      const outcome = spent[i] as SpendOutcome
      if (!outcome.ok) {
        outcomes[item.index] = {
          error:
            outcome.error instanceof UnknownPayer
              ? userNotFound(outcome.error.login)
              : badRequest(outcome.error.message),
        }
        continue
      }
      written.push({ item, source: outcome.source })
      const threshold = (outcome.alertThreshold ?? -1) * 100
      if (login !== null && threshold >= 0) {
        crossed = {
          before: crossed?.before ?? outcome.left + item.total,
          after: outcome.left,
          threshold,
        }
      }
    }
    if (
      login !== null &&
      crossed &&
      crossed.before > crossed.threshold &&
      crossed.after <= crossed.threshold
    ) {
      await raiseAlertIfCrossed(trx, first.account.id, login, crossed.before, crossed.after, first.send.now)
    }
  }

  // 4. The outgoing rows of every paid request, a few INSERTs for the whole batch.
  const values = written.flatMap(({ item, source }) =>
    item.rows.map((row) => ({
      account_id: item.account.id,
      login: item.send.target.login,
      batch_id: item.batchId,
      sender: item.sender,
      receiver: row.receiver,
      message: item.send.body.message,
      message_length: item.send.analysis.characters,
      number_of_sms: item.send.analysis.parts,
      coding: item.send.analysis.encoding,
      credits: row.credits,
      spend_source: source,
      tag: item.send.tag,
      class: item.send.body.class ?? null,
      priority: item.send.body.priority ?? null,
      no_stop_clause: item.send.noStopClause,
      sender_for_response: item.send.body.senderForResponse ?? false,
      differed_delivery: item.send.body.differedPeriod ?? 0,
      send_at: item.send.sendAt,
      expires_at: item.send.expiresAt,
      tariff_code: row.tariffCode,
      created_at: item.send.now,
    })),
  )
  const ids = new Map<string, number>()
  for (let from = 0; from < values.length; from += INSERT_CHUNK) {
    const inserted = await trx
      .insertInto('outgoing')
      .values(values.slice(from, from + INSERT_CHUNK))
      .returning(['id', 'batch_id', 'receiver'])
      .execute()
    for (const row of inserted) ids.set(`${row.batch_id}\u0000${row.receiver}`, row.id)
  }
  for (const { item } of written) {
    outcomes[item.index] = {
      report: {
        ids: item.receivers.map((r) => ids.get(`${item.batchId}\u0000${r.number}`) as number),
        invalidReceivers: item.invalidReceivers,
        tag: item.send.tag,
        totalCreditsRemoved: fromHundredths(item.total),
        validReceivers: item.receivers.map((r) => r.number),
      },
    }
  }
  return outcomes
}

function emptyReport(item: Accepted): SendingReport {
  return {
    ids: [],
    invalidReceivers: item.invalidReceivers,
    tag: item.send.tag,
    totalCreditsRemoved: 0,
    validReceivers: [],
  }
}

/** The value, or the ApiError it was refused with (other errors go up and fail the batch). */
async function refusal<T>(read: () => Promise<T>): Promise<T | ApiError> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof ApiError) return error
    throw error
  }
}
