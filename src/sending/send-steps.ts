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
import { CACHED_BLACKLIST_MAX, CACHED_SENDERS_MAX, SendReadCache } from './read-cache.js'
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
 * writeSends without a transaction, for group commit's fast path: the batch (any accounts, any
 * users) is read in one statement per account and written in one (chargeAndInsertAtOnce: every
 * payer's spend, the ledger and outgoing rows, atomic on its own), two round trips instead of the six
 * of BEGIN … COMMIT. Answers null, having written nothing, when a payer cannot pay its sum at once, a
 * quota would cross its alert threshold, or a user is gone: writeSends then writes it in a transaction.
 */
export async function writeSendsAtOnce(
  db: Db,
  batch: readonly SendRequest[],
  rates: Config['rates'],
  routable: Routable = () => true,
  cache?: SendReadCache,
): Promise<Outcome<SendingReport>[] | null> {
  if (batch.length === 0) return null
  const sends = batch.map((request): Send => ({ request, refusal: null, receivers: request.receivers }))
  refuseUnroutable(sends, routable)
  const usedCache = await resolveTargets(db, sends, cache)
  price(sends, rates)
  let written = false
  try {
    written = await chargeAndInsertAtOnce(db, sends, usedCache)
  } finally {
    // Stale reads (or a payer that cannot pay at once): the transaction path reads afresh, and so
    // does the next batch of these accounts.
    if (!written && cache) cache.drop(live(sends).map((send) => (send.account as AccountRow).id))
  }
  if (!written) return null
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
  /** Whether its user's quota was active when read (a hint: the spend decides under lock). */
  quotaActive?: boolean
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
 * logins are its users (with whether their quota is active), every sender of the account with its
 * status and its default sender, and its whole blacklist — or, for an account with more senders or
 * blacklisted numbers than the cache keeps, only those the batch names (`complete` false). One round
 * trip per account per batch instead of four; arrays as parameters, so its text is the same for any
 * batch. A complete read is what the send-read cache keeps (src/sending/read-cache.ts).
 */
type AccountReads = {
  account: AccountRow
  /** The batch's logins that are users of the account, with whether their quota is active. */
  logins: Map<string, boolean>
  senders: Map<string, string>
  defaultSender: string | null
  blacklisted: Set<string>
}

async function readAccount(
  trx: Executor,
  target: Send['request']['target'],
  wanted: { logins: string[]; senders: string[]; numbers: string[] },
): Promise<{ reads: AccountReads; complete: boolean } | undefined> {
  let query = trx
    .selectFrom('accounts as a')
    .selectAll('a')
    .select([
      sql<
        [string, boolean][]
      >`coalesce((select json_agg(json_build_array(u.login, u.quota_status = 'active')) from sms_users as u
        where u.account_id = a.id and u.login = any(${wanted.logins}::text[])), '[]'::json)`.as(
        'batch_logins',
      ),
      sql<boolean>`(select count(*) from (select 1 from senders as s where s.account_id = a.id
        limit ${CACHED_SENDERS_MAX + 1}) as n) <= ${CACHED_SENDERS_MAX}`.as('senders_complete'),
      sql<boolean>`(select count(*) from (select 1 from blacklist as b where b.account_id = a.id
        limit ${CACHED_BLACKLIST_MAX + 1}) as n) <= ${CACHED_BLACKLIST_MAX}`.as('blacklist_complete'),
    ])
    .where('a.service_name', '=', target.serviceName)
  if (target.scope.ownerId !== undefined) query = query.where('a.owner_id', '=', target.scope.ownerId)
  const outer = trx
    .selectFrom(query.as('r'))
    .selectAll('r')
    .select([
      sql<
        [string, string][]
      >`coalesce((select json_agg(json_build_array(s.sender, s.status)) from senders as s
        where s.account_id = r.id and (r.senders_complete or s.sender = any(${wanted.senders}::text[]))), '[]'::json)`.as(
        'batch_senders',
      ),
      sql<string | null>`(select s.sender from senders as s
        where s.account_id = r.id and s.status = 'enable' order by s.created_at, s.sender limit 1)`.as(
        'batch_default_sender',
      ),
      sql<string[]>`coalesce((select json_agg(b.number) from blacklist as b
        where b.account_id = r.id and (r.blacklist_complete or b.number = any(${wanted.numbers}::text[]))), '[]'::json)`.as(
        'batch_blacklisted',
      ),
    ])
  const row = await outer.executeTakeFirst()
  if (!row) return undefined
  const {
    batch_logins,
    batch_senders,
    batch_default_sender,
    batch_blacklisted,
    senders_complete,
    blacklist_complete,
    ...account
  } = row
  return {
    reads: {
      account: account as AccountRow,
      logins: new Map(batch_logins),
      senders: new Map(batch_senders),
      defaultSender: batch_default_sender,
      blacklisted: new Set(batch_blacklisted),
    },
    complete: senders_complete && blacklist_complete,
  }
}

/** Whether cached reads answer every request of the group without refusing any of them. */
function answersAll(reads: AccountReads, group: Send[]): boolean {
  for (const send of group) {
    const { login } = send.request.target
    if (login !== null && !reads.logins.has(login)) return false
    const given = send.request.sender
    if (given) {
      if (reads.senders.get(given) !== 'enable') return false
    } else if (reads.defaultSender === null && !send.request.senderForResponse) {
      return false
    }
  }
  return true
}

/**
 * 1. Each request's account (scoped), user and sender, and 2. its blacklisted receivers dropped
 * (they replied STOP): one statement per account of the batch (readAccount).
 */
async function resolveTargets(trx: Executor, sends: Send[], cache?: SendReadCache): Promise<boolean> {
  let usedCache = false
  const byAccount = new Map<string, Send[]>()
  const accountKey = (send: Send) =>
    SendReadCache.key(send.request.target.scope.ownerId, send.request.target.serviceName)
  for (const send of sends) {
    if (send.refusal) continue
    const key = accountKey(send)
    const group = byAccount.get(key)
    if (group) group.push(send)
    else byAccount.set(key, [send])
  }
  for (const [key, group] of byAccount) {
    let reads: AccountReads | undefined = cache?.get(key)
    if (reads && answersAll(reads, group)) {
      usedCache = true
      ;(cache as SendReadCache).stats.hits++
    } else {
      const logins = new Set<string>()
      const senders = new Set<string>()
      const numbers = new Set<string>()
      for (const send of group) {
        if (send.request.target.login !== null) logins.add(send.request.target.login)
        if (send.request.sender) senders.add(send.request.sender)
        for (const receiver of send.receivers) numbers.add(receiver.number)
      }
      const mark = cache?.mark() ?? -1
      const read = await readAccount(trx, (group[0] as Send).request.target, {
        logins: [...logins],
        senders: [...senders],
        numbers: [...numbers],
      })
      reads = read?.reads
      if (cache) {
        cache.stats.misses++
        if (read?.complete) cache.store(key, mark, { ...read.reads, logins: new Map(read.reads.logins) })
      }
    }
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
      send.quotaActive = login !== null && reads.logins.get(login) === true
      send.sender = sender
      send.batchId = randomUUID()
      const blacklist = reads.blacklisted
      if (blacklist.size === 0) continue
      const blacklisted = send.receivers.filter((r) => blacklist.has(r.number)).map((r) => r.number)
      if (blacklisted.length === 0) continue
      send.blacklisted = blacklisted
      send.receivers = send.receivers.filter((r) => !blacklist.has(r.number))
    }
  }
  return usedCache
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
 * 4 + 5 in one statement, for any payers (accounts and users of the batch, any number of each): the
 * spend of each payer's sum — a user's active quota, else its account — its ledger rows and the
 * outgoing rows, so that when any part cannot be paid nothing is written at all:
 *
 * - the accounts that pay for some request (as read: account sends, users whose quota was inactive)
 *   are locked first in id order, then the paying users' rows in (account, login) order — the users'
 *   own service locks account then user, so a deletion or quota change cannot deadlock with it —, so
 *   the values checked are the latest committed ones and stay so until this statement commits;
 * - one verdict is computed from those locked rows: every user still exists, every active quota holds
 *   its user's sum without crossing the user's alert threshold (a crossing writes an alert: that batch
 *   goes the transaction path, raiseAlerts), every account holds the sum of its payers that spend from
 *   it (account sends, users whose quota is inactive);
 * - every UPDATE and INSERT is conditional on that verdict: one UPDATE … FROM for all quotas, one for
 *   all accounts, one INSERT for the ledger, one for the outgoing rows.
 *
 * Payers, ledger entries and rows go as one JSON parameter each, so the statement's text is the same
 * for any batch. Answers false (nothing written, nothing set) when the verdict is no or the batch
 * cannot go as JSON: charge and insertOutgoingRows then do it step by step (each request on its own
 * when a sum does not fit). Statements per batch: this one instead of UPDATE(s), ledger INSERT,
 * outgoing INSERT (and BEGIN … COMMIT on its own); true at once when no request has anything to pay.
 */
async function chargeAndInsertAtOnce(trx: Executor, sends: Send[], usedCache = false): Promise<boolean> {
  const paying = live(sends).filter((send) => send.receivers.length > 0)
  // Nothing to pay (every request refused, or every receiver blacklisted): nothing to write either,
  // unless that came from cached reads, which only a statement can confirm (the transaction path's).
  if (paying.length === 0) return !usedCache
  if (paying.some((send) => !Number.isInteger(send.total) || (send.total as number) <= 0)) return false
  const payerKey = (accountId: number, login: string | null) => `${accountId}\u0000${login ?? ''}`
  const payers = new Map<string, { account_id: number; login: string | null; total: number }>()
  for (const send of paying) {
    const accountId = (send.account as AccountRow).id
    const { login } = send.request.target
    const key = payerKey(accountId, login)
    const payer = payers.get(key)
    if (payer) payer.total += send.total as number
    else payers.set(key, { account_id: accountId, login, total: send.total as number })
  }
  // The accounts that pay for some request (account sends, users whose quota was inactive when read)
  // are locked first, then the paying users: the order of the users' own service (account, then
  // user), so that this statement and a user's deletion or quota change cannot deadlock. A quota that
  // changed state since the read makes its account needed but not locked: the verdict says no.
  const accountIds = [
    ...new Set(paying.filter((send) => !send.quotaActive).map((send) => (send.account as AccountRow).id)),
  ]
  const payersJson = JSON.stringify([...payers.values()])
  const rowsJson = JSON.stringify(outgoingRows(paying, () => 'account'))
  const ledgerJson = JSON.stringify(
    paying.map((send) => ({
      account_id: (send.account as AccountRow).id,
      login: send.request.target.login,
      hundredths: send.total,
      reference: `batch:${send.batchId}`,
    })),
  )
  const checks = readChecks(live(sends))
  // jsonb refuses NUL and lone surrogates, which a text parameter takes (as U+FFFD for the latter):
  // such a batch goes the step-by-step way, so that the same input gives the same answer.
  if (
    UNSAFE_IN_JSONB.test(rowsJson) ||
    UNSAFE_IN_JSONB.test(ledgerJson) ||
    UNSAFE_IN_JSONB.test(payersJson) ||
    UNSAFE_IN_JSONB.test(checks.senders)
  ) {
    return false
  }
  const outgoingSelect = OUTGOING_COLUMNS.map((c) =>
    c === 'spend_source' ? sql`p.source` : sql.ref(`r.${c}`),
  )
  const { rows } = await sql<{
    ok: boolean | null
    accounts: [number, number | string][] | null
    quotas: [number, string, number | string][] | null
    ids: number[] | null
  }>`
    with v as materialized (
      select * from jsonb_to_recordset(${payersJson}::jsonb) as v(account_id int4, login text, total int8)
    ), a as materialized (
      select a.id, a.credits_left from accounts as a
       where a.id = any(${accountIds}::int4[])
       order by a.id
         for update
    ), u as materialized (
      select u.account_id, u.login, u.quota_status, u.quota_left, u.alert_threshold
        from sms_users as u join v on v.account_id = u.account_id and v.login = u.login
       where (select count(*) from a) >= 0
       order by u.account_id, u.login collate "C"
         for update of u
    ), p as materialized (
      select v.account_id, v.login, v.total, u.quota_left, u.alert_threshold,
             case when u.quota_status = 'active' then 'quota' else 'account' end as source,
             (v.login is null or u.login is not null) as found
        from v left join u on u.account_id = v.account_id and u.login = v.login
    ), checks as (
      select (select count(*) from accounts as x
                join jsonb_to_recordset(${checks.accounts}::jsonb) as c(id int4, service_name text, owner_id int4)
                  on x.id = c.id and x.service_name = c.service_name and x.owner_id = c.owner_id) = ${checks.accountCount}
         and not exists (
           select 1 from jsonb_to_recordset(${checks.senders}::jsonb) as c(account_id int4, sender text, is_default bool)
            where case when c.is_default
                       then (select s.sender from senders as s where s.account_id = c.account_id and s.status = 'enable'
                              order by s.created_at, s.sender limit 1) is distinct from nullif(c.sender, '')
                       else not exists (select 1 from senders as s where s.account_id = c.account_id
                                           and s.sender = c.sender and s.status = 'enable') end)
         and not exists (
           select 1 from jsonb_to_recordset(${checks.numbers}::jsonb) as c(account_id int4, number text, listed bool)
            where c.listed <> exists (select 1 from blacklist as b where b.account_id = c.account_id and b.number = c.number))
           as ok
    ), need as (
      select account_id, sum(total)::int8 as total from p where source = 'account' group by account_id
    ), verdict as (
      select coalesce((select bool_and(p.found and (p.source = 'account' or (
                 p.quota_left >= p.total and not (p.alert_threshold >= 0
                   and p.quota_left > p.alert_threshold * 100
                   and p.quota_left - p.total <= p.alert_threshold * 100)))) from p), false)
         and (select count(*) from a) = ${accountIds.length}
         and (select ok from checks)
         and not exists (select 1 from need left join a on a.id = need.account_id
                          where a.id is null or a.credits_left < need.total) as ok
    ), account_paid as (
      update accounts as t set credits_left = t.credits_left - need.total
        from need
       where t.id = need.account_id and (select ok from verdict)
      returning t.id, t.credits_left
    ), quota_paid as (
      update sms_users as t set quota_left = t.quota_left - p.total
        from p
       where p.source = 'quota' and t.account_id = p.account_id and t.login = p.login
         and (select ok from verdict)
      returning t.account_id, t.login, t.quota_left
    ), ledger as (
      insert into credit_ledger (account_id, kind, login, account_delta, quota_delta, counterparty, reference)
      select e.account_id, 'spend', e.login,
             case when p.source = 'account' then -e.hundredths else 0 end,
             case when p.source = 'quota' then -e.hundredths else 0 end,
             null, e.reference
        from jsonb_to_recordset(${ledgerJson}::jsonb) as e(account_id int4, login text, hundredths int8, reference text)
        join p on p.account_id = e.account_id and p.login is not distinct from e.login
       where (select ok from verdict)
    ), inserted as (
      insert into outgoing (${sql.join(OUTGOING_COLUMNS.map((c) => sql.ref(c)))})
      select ${sql.join(outgoingSelect)}
        from jsonb_populate_recordset(null::outgoing, ${rowsJson}::jsonb) with ordinality as r
        join p on p.account_id = r.account_id and p.login is not distinct from r.login
       where (select ok from verdict)
       order by r.ordinality
      returning id
    )
    select (select ok from verdict) as ok,
           (select json_agg(json_build_array(id, credits_left)) from account_paid) as accounts,
           (select json_agg(json_build_array(account_id, login, quota_left)) from quota_paid) as quotas,
           (select json_agg(id order by id) from inserted) as ids`.execute(trx)
  const answer = rows[0]
  if (!answer?.ok) return false
  // What each payer had left after all its spends; walked back to each request in the batch's order.
  const accountLeft = new Map<number, number>()
  for (const [id, left] of answer.accounts ?? []) accountLeft.set(Number(id), Number(left))
  const quotaLeft = new Map<string, number>()
  for (const [accountId, login, left] of answer.quotas ?? []) {
    quotaLeft.set(payerKey(Number(accountId), login), Number(left))
  }
  const quotaPays = (send: Send) =>
    send.request.target.login !== null &&
    quotaLeft.has(payerKey((send.account as AccountRow).id, send.request.target.login))
  const before = new Map<string, number>()
  for (const send of paying) {
    const accountId = (send.account as AccountRow).id
    const key = quotaPays(send) ? payerKey(accountId, send.request.target.login) : `a${accountId}`
    before.set(key, (before.get(key) ?? 0) + (send.total as number))
  }
  for (const [key, spent] of before) {
    const after = key.startsWith('a') ? accountLeft.get(Number(key.slice(1))) : quotaLeft.get(key)
    before.set(key, (after ?? 0) + spent)
  }
  const ids = answer.ids ?? []
  let next = 0
  for (const send of paying) {
    const accountId = (send.account as AccountRow).id
    const quota = quotaPays(send)
    const key = quota ? payerKey(accountId, send.request.target.login) : `a${accountId}`
    const left = (before.get(key) as number) - (send.total as number)
    before.set(key, left)
    send.source = quota ? 'quota' : 'account'
    send.left = left
    send.ids = ids.slice(next, next + send.receivers.length).map(Number)
    next += send.receivers.length
  }
  return true
}

/**
 * What the write statement checks again of the reads (cached or not) the batch was resolved with:
 * each account's id, service name and owner; each sender used enabled, each default sender still the
 * default; each receiver's blacklist membership. As JSON parameters (the statement's text stays the
 * same); receivers are E.164 numbers and senders were checked against the account's list, so the
 * JSON holds nothing jsonb refuses.
 */
function readChecks(sends: Send[]) {
  const accounts = new Map<number, { id: number; service_name: string; owner_id: number }>()
  const senders = new Map<string, { account_id: number; sender: string; is_default: boolean }>()
  const numbers = new Map<string, { account_id: number; number: string; listed: boolean }>()
  for (const send of sends) {
    const account = send.account as AccountRow
    accounts.set(account.id, {
      id: account.id,
      service_name: account.service_name,
      owner_id: account.owner_id,
    })
    const isDefault = !send.request.sender
    const sender = send.sender as string
    senders.set(`${account.id}\u0000${isDefault}\u0000${sender}`, {
      account_id: account.id,
      sender,
      is_default: isDefault,
    })
    const listed = new Set(send.blacklisted ?? [])
    for (const receiver of send.request.receivers) {
      numbers.set(`${account.id}\u0000${receiver.number}`, {
        account_id: account.id,
        number: receiver.number,
        listed: listed.has(receiver.number),
      })
    }
  }
  return {
    accounts: JSON.stringify([...accounts.values()]),
    accountCount: accounts.size,
    senders: JSON.stringify([...senders.values()]),
    numbers: JSON.stringify([...numbers.values()]),
  }
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
