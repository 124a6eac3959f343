import type { FastifyBaseLogger } from 'fastify'
import { sql } from 'kysely'
import { PollingWorker } from '../background/polling-worker.js'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { textAsSent } from '../sending/encoding.js'
import { applyStatusReports, DLR_FAILED, PTT_EXPIRED, type StatusReport } from '../sending/status.js'
import { Batcher } from './batcher.js'
import type { Carrier, CarrierMessage, SubmitOutcome } from './carrier.js'
import { matchReports, recordCarrierIds } from './events.js'
import type { CarrierRouter } from './router.js'

/** Rows one claim takes; claims go on while earlier ones are still with their carriers. */
const CLAIM_BATCH = 1000
/** Claimed and not yet recorded, at most: what keeps carriers' windows full without holding too much. */
const MAX_IN_FLIGHT = 4000
const BATCH = 500
/** Messages given to a carrier in one turn of the event loop. */
const HAND_OVER_CHUNK = 100
/** How long a report whose carrier id is unknown is kept in case its hand-over gets recorded. */
const UNMATCHED_LIFETIME_MS = 7 * 24 * 3_600_000
/** "Undeliverable as is / not billed": a message no configured carrier takes any more. */
const NO_ROUTE = { ptt: 20, dlr: 16 }

export type SendingWorkerOptions = {
  db: Db
  router: CarrierRouter
  clock: Clock
  log: FastifyBaseLogger
  pollMs: number
  /** Appended to commercial messages (noStopClause false): the text the phone receives. */
  stopMention: string
  /** How long a hand-over may take before another replica may try it again. */
  leaseMs?: number
  /** Called after a run that changed something (status changes may have queued callbacks). */
  onProgress?: () => void
}

/**
 * The columns a claim reads: what the hand-over needs, and what the status path reads of a row it
 * is handed (HeldRows): state, ptt, delivery_receipt, expires_at, account and credits... Not the
 * others (dates to parse, uuids, tags): the rows are typed OutgoingRow for the status path alone.
 */
const CLAIMED_COLUMNS = sql.raw(
  [
    'id',
    'account_id',
    'login',
    'sender',
    'receiver',
    'message',
    'no_stop_clause',
    'coding',
    'number_of_sms',
    'class',
    'expires_at',
    'submit_attempts',
    'claimed_until',
    'state',
    'ptt',
    'delivery_receipt',
    'delivered_at',
    'sent_at',
    'carrier',
    'credits',
    'spend_source',
    'smpp_receipt',
  ]
    .map((c) => `o.${c}`)
    .join(', '),
)
type Claimed = OutgoingRow
type Outcome = { row: Claimed; carrier: string | null; outcome: SubmitOutcome }

/** Waits before handing over again what a carrier asked to retry: 1 s, 2 s, 4 s … at most 5 min. */
export const retryDelayMs = (attempts: number) => Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1))

/**
 * Moves messages through their life, in every replica. A pass claims due messages (SKIP LOCKED, and a
 * lease: claimed_until, so a replica that dies mid-hand-over leaves them to the others after it) and
 * hands them to their carrier outside any transaction. It keeps claiming while the claimed ones are
 * with their carriers (up to MAX_IN_FLIGHT), so a carrier's window never waits for the database, and
 * records the answers as they come, in short transactions that each take every answer that arrived
 * meanwhile — only for the messages whose lease it still holds (the attempt number is the lease's
 * token). Then carriers that play their peer in this process report what is due, reports that arrived
 * before their hand-over was recorded are applied, and messages not delivered within their validity
 * period end as expired (ptt 8).
 */
export class SendingWorker extends PollingWorker {
  private readonly db: Db
  private readonly router: CarrierRouter
  private readonly clock: Clock
  private readonly leaseMs: number
  private readonly stopMention: string
  private readonly recorder: Batcher<Outcome>
  private inFlight = 0
  private readonly waiters: (() => void)[] = []

  constructor(options: SendingWorkerOptions) {
    super(options.pollMs, options.log, 'sending worker', options.onProgress)
    this.db = options.db
    this.router = options.router
    this.clock = options.clock
    this.leaseMs = options.leaseMs ?? 60_000
    this.stopMention = options.stopMention
    this.recorder = new Batcher((outcomes) => this.record(outcomes, this.clock.now()), 2000)
  }

  /** Messages claimed and not yet recorded: hand-overs under way. */
  get handingOver(): number {
    return this.inFlight
  }

  /** One pass over due work; returns how many messages and reports were processed. Tests call it. */
  async runOnce(): Promise<number> {
    let total = 0
    for (;;) {
      const done =
        (await this.submitDue()) +
        (await this.runCarriers()) +
        (await this.applyLateReports()) +
        (await this.expireOverdue())
      total += done
      // A backlog is worked off pass after pass, but a shutdown waits for one pass only.
      if (done === 0 || this.stopRequested) return total
    }
  }

  /**
   * Takes up to `limit` due messages, oldest due first, under a lease. The queue is outgoing_due (one
   * row per pending message, due_at the time to look at it next): a claim moves the due time of each
   * row it takes to the end of the lease, so rows being handed over are not walked by the next claim
   * and come back by themselves if this replica dies; the outgoing row gets the lease (claimed_until,
   * which a cancellation checks) and its attempt number, in a heap-only update. Due rows whose message
   * is no longer pending (cancelled, or gone) are dropped. One statement, no transaction: one round
   * trip (claims follow each other while the carrier's window is kept full, and their latency is
   * what bounds the hand-over's rate). The index walk on due_at stops after `limit` rows; a planner
   * that preferred a sort would sort the due queue, pending rows only (outgoing_due holds no others).
   */
  private async claim(now: Date, limit: number): Promise<{ rows: Claimed[]; taken: number }> {
    const lease = new Date(now.getTime() + this.leaseMs)
    const { rows } = await sql<Claimed & { due_id: number }>`
      with moved as (
        update outgoing_due set due_at = ${lease}::timestamptz
         where outgoing_id = any(array(
               select outgoing_id from outgoing_due where due_at <= ${now}::timestamptz
                order by due_at limit ${limit} for update skip locked))
        returning outgoing_id
      ), claimed as (
        update outgoing as o set claimed_until = ${lease}::timestamptz, submit_attempts = o.submit_attempts + 1
         where o.id = any(array(select outgoing_id from moved)) and o.state = 'pending'
        returning ${CLAIMED_COLUMNS}
      )
      select m.outgoing_id as due_id, c.* from moved as m left join claimed as c on c.id = m.outgoing_id`.execute(
      this.db,
    )
    const claimed: Claimed[] = []
    const stale: number[] = []
    for (const row of rows) {
      // (each row keeps the due_id column of the statement: the same as its id)
      if (row.id === null) stale.push(Number(row.due_id))
      else claimed.push(row)
    }
    if (stale.length > 0) {
      await sql`
        delete from outgoing_due as d where d.outgoing_id = any(${stale}::int8[])
           and not exists (select 1 from outgoing as o where o.id = d.outgoing_id and o.state = 'pending')`.execute(
        this.db,
      )
    }
    return { rows: claimed.sort((a, b) => a.id - b.id), taken: rows.length }
  }

  /**
   * Claims and hands over due messages until none is due, keeping at most MAX_IN_FLIGHT claimed and
   * not recorded; resolves when every one of them is recorded. Returns how many were claimed.
   */
  private async submitDue(): Promise<number> {
    const handOvers: Promise<void>[] = []
    let claimed = 0
    try {
      for (;;) {
        while (this.inFlight + CLAIM_BATCH > MAX_IN_FLIGHT) {
          await new Promise<void>((resolve) => this.waiters.push(resolve))
        }
        const { rows, taken } = await this.claim(this.clock.now(), CLAIM_BATCH)
        if (taken === 0) break
        claimed += taken
        if (rows.length > 0) {
          const handOver = this.handOver(rows)
          // Handled now: its record may fail (the database gone) while this loop waits for room or
          // a claim; the settled results below still see the failure.
          handOver.catch(() => {})
          handOvers.push(handOver)
        }
        if (taken < CLAIM_BATCH || this.stopRequested) break
      }
    } catch (error) {
      // A claim failed (the database went away): the pass fails once the hand-overs under way have
      // ended (those whose record was refused stay leased until the lease lapses).
      await Promise.allSettled(handOvers)
      throw error
    }
    const results = await Promise.allSettled(handOvers)
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    return claimed
  }

  /**
   * Hands claimed rows to their carriers; each answer joins the recorder as soon as it comes. Resolves
   * once every row is recorded (rejects with the first failure to record, after all are done). No
   * Promise per message: one counter for the claim.
   */
  private handOver(rows: Claimed[]): Promise<void> {
    this.inFlight += rows.length
    return new Promise<void>((resolve, reject) => {
      let left = rows.length
      let failure: unknown = null
      const recorded = (error: unknown) => {
        this.inFlight--
        this.waiters.shift()?.()
        if (error && failure === null) failure = error
        if (--left === 0) {
          if (failure === null) resolve()
          else reject(failure)
        }
      }
      const handed = new Set<Claimed>()
      const record = (outcome: Outcome) => this.recorder.push(outcome, recorded)
      this.dispatch(rows, record, handed).catch((error) => {
        // Whatever was not given to a carrier goes back to the queue, to be tried again later.
        for (const row of rows) {
          if (handed.has(row)) continue
          record({
            row,
            carrier: null,
            outcome: { kind: 'retry', reason: `not handed over: ${String(error)}` },
          })
        }
      })
    })
  }

  /** Routes the rows and gives them to their carriers, chunk by chunk; `handed` gets each one given. */
  private async dispatch(
    rows: Claimed[],
    record: (outcome: Outcome) => void,
    handed: Set<Claimed>,
  ): Promise<void> {
    const now = this.clock.now()
    const byCarrier = new Map<Carrier, Claimed[]>()
    for (const row of rows) {
      if (row.expires_at && row.expires_at.getTime() <= now.getTime()) {
        handed.add(row)
        record({
          row,
          carrier: null,
          outcome: { kind: 'refused', ptt: PTT_EXPIRED, dlr: DLR_FAILED, reason: 'expired before hand-over' },
        })
        continue
      }
      const carrier = this.router.route(row.receiver)
      if (!carrier) {
        handed.add(row)
        record({ row, carrier: null, outcome: { kind: 'refused', ...NO_ROUTE, reason: 'no carrier' } })
        continue
      }
      const group = byCarrier.get(carrier)
      if (group) group.push(row)
      else byCarrier.set(carrier, [row])
    }
    for (const [carrier, all] of byCarrier) {
      for (let from = 0; from < all.length; from += HAND_OVER_CHUNK) {
        // A turn of the event loop between chunks: the carrier's responses are read meanwhile, and its
        // window refilled, instead of waiting for a whole claim to be prepared.
        if (from > 0) await new Promise((resolve) => setImmediate(resolve))
        const group = all.slice(from, from + HAND_OVER_CHUNK)
        const messages = group.map((row) => this.toCarrierMessage(row))
        for (const row of group) handed.add(row)
        this.submitGroup(carrier, group, messages, record)
      }
    }
  }

  private submitGroup(
    carrier: Carrier,
    group: Claimed[],
    messages: CarrierMessage[],
    record: (outcome: Outcome) => void,
  ): void {
    const name = carrier.name
    if (carrier.submitEach) {
      carrier.submitEach(messages, (i, outcome) =>
        record({ row: group[i] as Claimed, carrier: name, outcome }),
      )
      return
    }
    const outcomes = carrier.submit(messages)
    for (const [i, promise] of outcomes.entries()) {
      const row = group[i] as Claimed
      promise.then(
        (outcome) => record({ row, carrier: name, outcome }),
        (error) =>
          record({
            row,
            carrier: name,
            outcome: { kind: 'retry', reason: `no answer: ${String(error).slice(0, 200)}` },
          }),
      )
    }
  }

  private toCarrierMessage(row: Claimed): CarrierMessage {
    return {
      outgoingId: row.id,
      receiver: row.receiver,
      sender: row.sender,
      text: textAsSent(row.message, row.no_stop_clause, this.stopMention),
      encoding: row.coding,
      parts: row.number_of_sms,
      smsClass: row.class,
      validUntil: row.expires_at,
    }
  }

  /** Records the carriers' answers for the messages whose lease this pass still holds. */
  private async record(outcomes: Outcome[], now: Date): Promise<void> {
    const retried = outcomes.filter((o) => o.outcome.kind === 'retry')
    if (retried.length > 0) {
      // One line per batch: a carrier away for a while sends every message it was offered back.
      const first = retried[0] as Outcome
      this.log.warn(
        {
          carrier: first.carrier,
          messages: retried.length,
          firstOutgoingId: first.row.id,
          reason: (first.outcome as { reason: string }).reason,
        },
        'carrier hand-overs to retry',
      )
    }
    await this.db.transaction().execute(async (trx) => {
      // The due queue first, in the order a claim takes its locks (outgoing_due, then outgoing), so
      // that a claim and a record never wait for each other in a circle. Only rows still due at the
      // end of this pass's lease are this pass's (another claim, after the lease ran out, moved it):
      // a message handed over or ended leaves the queue, one to retry is due again later.
      // One statement per lease (per claim: a batch spans a few), so that the planner sees a constant.
      const byLease = new Map<number, { done: number[]; later: number[]; at: Date[] }>()
      const nextOf = new Map<Claimed, Date>()
      for (const { row, outcome } of outcomes) {
        const lease = row.claimed_until?.getTime() ?? 0
        let group = byLease.get(lease)
        if (!group) {
          group = { done: [], later: [], at: [] }
          byLease.set(lease, group)
        }
        if (outcome.kind === 'retry') {
          const at = new Date(now.getTime() + (outcome.afterMs ?? retryDelayMs(row.submit_attempts)))
          nextOf.set(row, at)
          group.later.push(row.id)
          group.at.push(at)
        } else {
          group.done.push(row.id)
        }
      }
      for (const [lease, group] of byLease) {
        const until = new Date(lease)
        if (group.done.length > 0) {
          await sql`
            delete from outgoing_due
             where outgoing_id = any(${group.done}::int8[]) and due_at = ${until}::timestamptz`.execute(trx)
        }
        if (group.later.length > 0) {
          await sql`
            update outgoing_due as d set due_at = v.at
              from unnest(${group.later}::int8[], ${group.at}::timestamptz[]) as v(id, at)
             where d.outgoing_id = any(${group.later}::int8[]) and d.outgoing_id = v.id
               and d.due_at = ${until}::timestamptz`.execute(trx)
        }
      }
      // The rows still ours: pending, and the attempt this pass's lease gave them (a claim by another
      // replica after the lease ran out would have changed it). Under the lease nothing else changes
      // a pending row (a cancellation waits for the lease, receipts wait for the record), so the rest
      // is as the claim read it. The ids as one array parameter: thousands of parameters cost their
      // parse and plan more than the statement's execution.
      const held = await sql<{ id: number; submit_attempts: number }>`
        select id, submit_attempts from outgoing
         where id = any(${outcomes.map((o) => o.row.id)}::int8[]) and state = 'pending'
         order by id for update`.execute(trx)
      const attempts = new Map(held.rows.map((h) => [h.id, h.submit_attempts]))
      const ours = outcomes.filter((o) => attempts.get(o.row.id) === o.row.submit_attempts)
      const rows = new Map<number, OutgoingRow>(ours.map((o) => [o.row.id, o.row]))
      const submitted: number[] = []
      const reports: StatusReport[] = []
      const early: StatusReport[] = []
      const accepted = new Map<string, { id: number; ids: string[] }[]>()
      const later: { id: number; at: Date }[] = []
      for (const { row, carrier, outcome } of ours) {
        if (outcome.kind === 'accepted' && carrier) {
          if (outcome.status) reports.push({ outgoingId: row.id, ...outcome.status })
          const messages = accepted.get(carrier)
          const message = { id: row.id, ids: outcome.carrierMessageIds }
          if (messages) messages.push(message)
          else accepted.set(carrier, [message])
        } else if (outcome.kind === 'refused') {
          reports.push({ outgoingId: row.id, ptt: outcome.ptt, dlr: outcome.dlr })
        } else if (outcome.kind === 'retry') {
          later.push({ id: row.id, at: nextOf.get(row) as Date })
        }
      }
      for (const [carrier, messages] of accepted) {
        // Written with the status below, in one UPDATE (the rows are locked above).
        for (const m of messages) {
          const row = rows.get(m.id) as OutgoingRow
          rows.set(m.id, { ...row, state: 'submitted', sent_at: now, carrier, claimed_until: null })
          submitted.push(m.id)
        }
        const parts = messages.flatMap((m) => m.ids.map((id, i) => ({ id, outgoingId: m.id, part: i + 1 })))
        // One statement per carrier and batch: the ids recorded, the reports that came first taken.
        early.push(...(await recordCarrierIds(trx, carrier, parts)))
      }
      if (later.length > 0) {
        const laterIds = later.map((l) => l.id)
        await sql`
          update outgoing as o set send_at = v.at, claimed_until = null
            from unnest(${laterIds}::int8[], ${later.map((l) => l.at)}::timestamptz[]) as v(id, at)
           where o.id = v.id and o.id = any(${laterIds}::int8[])`.execute(trx)
      }
      // What acceptance means first, then what the carrier reported before it was recorded.
      await applyStatusReports(trx, [...reports, ...early], now, { rows, changed: submitted })
    })
  }

  private async runCarriers(): Promise<number> {
    let done = 0
    for (const carrier of this.router.carriers()) {
      if (carrier.runDue) done += await carrier.runDue(this.clock.now())
    }
    return done
  }

  /**
   * Reports kept aside because their carrier id was not recorded yet, whose id is recorded now: the
   * hand-over's transaction applies those it sees, but one that arrived while it ran (another
   * connection, not committed yet) is only seen here.
   */
  private async applyLateReports(): Promise<number> {
    const now = this.clock.now()
    // Kept aside for a week at most: SMSCs retry receipts for days, not for ever.
    await this.db
      .deleteFrom('carrier_reports_unmatched')
      .where('received_at', '<', new Date(now.getTime() - UNMATCHED_LIFETIME_MS))
      .execute()
    return this.db.transaction().execute(async (trx) => {
      const late = await trx
        .deleteFrom('carrier_reports_unmatched as u')
        .using('carrier_messages as m')
        .whereRef('m.carrier', '=', 'u.carrier')
        .whereRef('m.carrier_message_id', '=', 'u.carrier_message_id')
        .returning(['u.id', 'u.carrier', 'u.carrier_message_id', 'u.ptt', 'u.dlr', 'u.received_at'])
        .execute()
      if (late.length === 0) return 0
      late.sort((a, b) => a.id - b.id)
      const byCarrier = new Map<string, typeof late>()
      for (const r of late) byCarrier.set(r.carrier, [...(byCarrier.get(r.carrier) ?? []), r])
      const statuses: StatusReport[] = []
      for (const [carrier, reports] of byCarrier) {
        statuses.push(
          ...(await matchReports(
            trx,
            carrier,
            reports.map((r) => ({
              carrierMessageId: r.carrier_message_id,
              ptt: r.ptt,
              dlr: r.dlr,
              at: r.received_at,
            })),
          )),
        )
      }
      await applyStatusReports(trx, statuses, now)
      return late.length
    })
  }

  /** Messages the carrier has not delivered within their validity period end as ptt 8 (expired). */
  private async expireOverdue(): Promise<number> {
    const now = this.clock.now()
    return this.db.transaction().execute(async (trx) => {
      const overdue = await trx
        .selectFrom('outgoing')
        .select('id')
        .where('state', '=', 'submitted')
        .where('expires_at', '<=', now)
        // What outgoing_expiry_idx covers (pending or submitted): the planner needs it said.
        .where(sql<boolean>`unsettled`)
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute()
      await applyStatusReports(
        trx,
        overdue.map((r) => ({ outgoingId: r.id, ptt: PTT_EXPIRED, dlr: DLR_FAILED })),
        now,
      )
      return overdue.length
    })
  }
}
