import { sql, type Transaction } from 'kysely'
import type { Scope } from '../auth/scope.js'
import type { Database, Db } from '../db/index.js'
import type { AccountRow, CreditLedgerTable, LedgerKind, SmsUserRow, SmsUserUpdate } from '../db/schema.js'
import { badRequest, invalid, notFound, SERVICE_NOT_FOUND } from '../errors.js'
import { fromHundredths, toHundredths } from './amounts.js'
import { addAccountCredits, lockAccount } from './repository.js'

/**
 * Every credit movement lives here: each one changes balances with locked rows or conditional
 * updates and writes its ledger row in the same transaction, so no credit is created or lost and
 * the ledger rebuilds every balance.
 */

type Trx = Transaction<Database>
type Entry = {
  accountId: number
  kind: LedgerKind
  login?: string | null
  accountDelta?: number
  quotaDelta?: number
  counterparty?: string | null
  reference?: string | null
}

/** Writes ledger rows, one INSERT for all of them. */
async function record(trx: Trx, entries: Entry | Entry[]): Promise<void> {
  await trx
    .insertInto('credit_ledger')
    .values(
      (Array.isArray(entries) ? entries : [entries]).map((entry) => ({
        account_id: entry.accountId,
        kind: entry.kind,
        login: entry.login ?? null,
        account_delta: entry.accountDelta ?? 0,
        quota_delta: entry.quotaDelta ?? 0,
        counterparty: entry.counterparty ?? null,
        reference: entry.reference ?? null,
      })),
    )
    .execute()
}

/** Credits bought for an account (administration). */
export async function purchase(
  trx: Trx,
  accountId: number,
  hundredths: number,
  reference?: string,
): Promise<void> {
  if (hundredths <= 0) return
  await addAccountCredits(trx, accountId, hundredths)
  await record(trx, { accountId, kind: 'purchase', accountDelta: hundredths, reference: reference ?? null })
}

/**
 * Sets a user's quota: the difference moves between the account and the user. The caller holds the
 * account and user rows locked (lockAccount then lockUser).
 */
export async function setQuota(
  trx: Trx,
  account: AccountRow,
  user: SmsUserRow,
  quota: { quotaStatus?: 'active' | 'inactive'; quotaLeft?: number },
): Promise<SmsUserUpdate> {
  const status = quota.quotaStatus ?? user.quota_status
  const held = user.quota_status === 'active' ? user.quota_left : 0
  if (status === 'inactive') {
    if (quota.quotaLeft !== undefined && quota.quotaStatus === undefined) {
      throw invalid(
        'quotaInformations.quotaLeft',
        'quotaStatus "active" to set a quota (the quota is inactive)',
      )
    }
    await releaseQuota(trx, account.id, user.login, held)
    return { quota_status: 'inactive', quota_left: 0 }
  }
  const target = quota.quotaLeft !== undefined ? toHundredths(quota.quotaLeft) : held
  const delta = target - held
  if (delta > account.credits_left) {
    throw badRequest(
      `Not enough credits: the account has ${fromHundredths(account.credits_left)} credits available for quotas, ` +
        `${fromHundredths(delta)} more were asked`,
    )
  }
  if (delta !== 0) {
    await addAccountCredits(trx, account.id, -delta)
    await record(trx, {
      accountId: account.id,
      kind: 'quota_set',
      login: user.login,
      accountDelta: -delta,
      quotaDelta: delta,
    })
  }
  return { quota_status: 'active', quota_left: target }
}

/** Gives what is left of a quota back to the account (quota made inactive, user deleted). */
export async function releaseQuota(trx: Trx, accountId: number, login: string, held: number): Promise<void> {
  if (held <= 0) return
  await addAccountCredits(trx, accountId, held)
  await record(trx, { accountId, kind: 'quota_release', login, accountDelta: held, quotaDelta: -held })
}

export type SpendSource = 'quota' | 'account'

export class NotEnoughCredits extends Error {
  constructor(
    readonly source: SpendSource,
    readonly available: number,
    readonly needed: number,
  ) {
    super(
      source === 'quota'
        ? `Not enough credits: the user's quota has ${fromHundredths(available)} credits left, ${fromHundredths(needed)} needed`
        : `Not enough credits: the account has ${fromHundredths(available)} credits left, ${fromHundredths(needed)} needed`,
    )
  }
}

/**
 * The paying user does not exist (any more): deleted by a request that committed after the spend's
 * own checks. A refusal of that spend alone, like NotEnoughCredits.
 */
export class UnknownPayer extends Error {
  constructor(readonly login: string) {
    super(`spend: the user ${login} does not exist`)
  }
}

/** Why a spend was refused; anything else thrown is a database error. */
export type SpendRefusal = NotEnoughCredits | UnknownPayer

/** The user's limit alert settings, as a quota spend read them (see alerts/raise.ts). */
export type AlertSettings = {
  threshold: number
  support: 'mail' | 'sms' | 'both'
  email: string | null
  number: string | null
}

/** What paid and what is left; a quota spend also says the user's alert settings. */
type Paid = { source: SpendSource; left: number; alert?: AlertSettings }

/**
 * Takes `hundredths` from a payer without writing the ledger: from the user's quota when it is
 * active, else from the account (the account when login is null). One conditional UPDATE each, so
 * concurrent spends can never overdraw. Answers what paid and what is left, or the refusal that says
 * what was short or who is missing.
 */
async function take(
  trx: Trx,
  accountId: number,
  login: string | null,
  hundredths: number,
): Promise<Paid | SpendRefusal> {
  if (login !== null) {
    const fromQuota = await trx
      .updateTable('sms_users')
      .set({ quota_left: sql`quota_left - ${hundredths}` })
      .where('account_id', '=', accountId)
      .where('login', '=', login)
      .where('quota_status', '=', 'active')
      .where('quota_left', '>=', hundredths)
      .returning(['quota_left', 'alert_threshold', 'alert_support', 'alert_email', 'alert_number'])
      .executeTakeFirst()
    if (fromQuota) {
      return {
        source: 'quota',
        left: fromQuota.quota_left,
        alert: {
          threshold: fromQuota.alert_threshold,
          support: fromQuota.alert_support as AlertSettings['support'],
          email: fromQuota.alert_email,
          number: fromQuota.alert_number,
        },
      }
    }
    const user = await trx
      .selectFrom('sms_users')
      .select(['quota_status', 'quota_left'])
      .where('account_id', '=', accountId)
      .where('login', '=', login)
      .executeTakeFirst()
    if (!user) return new UnknownPayer(login)
    if (user.quota_status === 'active') return new NotEnoughCredits('quota', user.quota_left, hundredths)
  }
  const fromAccount = await trx
    .updateTable('accounts')
    .set({ credits_left: sql`credits_left - ${hundredths}` })
    .where('id', '=', accountId)
    .where('credits_left', '>=', hundredths)
    .returning('credits_left')
    .executeTakeFirst()
  if (fromAccount) return { source: 'account', left: fromAccount.credits_left }
  const account = await trx
    .selectFrom('accounts')
    .select('credits_left')
    .where('id', '=', accountId)
    .executeTakeFirst()
  return new NotEnoughCredits('account', account?.credits_left ?? 0, hundredths)
}

/** The ledger row of a spend of `hundredths` paid by `source`. */
const spendEntry = (
  accountId: number,
  login: string | null,
  source: SpendSource,
  hundredths: number,
  reference: string | null,
): Entry => ({
  accountId,
  kind: 'spend',
  login,
  ...(source === 'quota' ? { quotaDelta: -hundredths } : { accountDelta: -hundredths }),
  reference,
})

function checkAmount(hundredths: number): void {
  if (!Number.isInteger(hundredths) || hundredths <= 0) throw new Error(`spend: invalid amount ${hundredths}`)
}

/**
 * Spends credits in the caller's transaction: from the user's quota when it is active, else from
 * the account, and writes its ledger row. Throws NotEnoughCredits (map it to a 400, or to
 * http2sms's status) when not enough is left, UnknownPayer (a 404) when the user is gone.
 */
export async function spend(
  trx: Trx,
  input: { accountId: number; login: string | null; hundredths: number; reference?: string },
): Promise<Paid> {
  const { accountId, login, hundredths } = input
  checkAmount(hundredths)
  const paid = await take(trx, accountId, login, hundredths)
  if (paid instanceof Error) throw paid
  await record(trx, spendEntry(accountId, login, paid.source, hundredths, input.reference ?? null))
  return paid
}

export type SpendOutcome = ({ ok: true } & Paid) | { ok: false; error: SpendRefusal }

/**
 * Several spends of one payer (a user's quota, else its account; the account when login is null) in
 * the caller's transaction, for group commit: their sum taken at once and one ledger INSERT when the
 * sum can be paid, else each one on its own, in order, like `spend` (those that do not fit get
 * NotEnoughCredits; all get UnknownPayer when the user is gone). Outcomes come in the order of
 * `items`; `left` is what was left after each one, as if they had been spent one after the other.
 */
export async function spendMany(
  trx: Trx,
  input: { accountId: number; login: string | null; items: { hundredths: number; reference: string }[] },
): Promise<SpendOutcome[]> {
  const { accountId, login, items } = input
  for (const item of items) checkAmount(item.hundredths)
  const total = items.reduce((sum, item) => sum + item.hundredths, 0)
  const paid = await take(trx, accountId, login, total)
  if (paid instanceof UnknownPayer || (paid instanceof NotEnoughCredits && items.length === 1)) {
    return items.map(() => ({ ok: false, error: paid }))
  }
  if (paid instanceof NotEnoughCredits) {
    // Not enough for all of them: each on its own, so that those that fit go through.
    const outcomes: SpendOutcome[] = []
    for (const item of items) {
      try {
        outcomes.push({ ok: true, ...(await spend(trx, { accountId, login, ...item })) })
      } catch (error) {
        if (!(error instanceof NotEnoughCredits || error instanceof UnknownPayer)) throw error
        outcomes.push({ ok: false, error })
      }
    }
    return outcomes
  }
  await record(
    trx,
    items.map((item) => spendEntry(accountId, login, paid.source, item.hundredths, item.reference)),
  )
  let left = paid.left + total
  return items.map((item) => {
    left -= item.hundredths
    return { ok: true, ...paid, left }
  })
}

/**
 * Gives back what `spend` took: to the user's quota when it came from there and the quota is still
 * active, else to the account (a deleted user's or deactivated quota's credits went back there too).
 */
export async function refund(
  trx: Trx,
  input: {
    accountId: number
    login: string | null
    hundredths: number
    source: SpendSource
    reference?: string
  },
): Promise<void> {
  const { accountId, login, hundredths } = input
  if (!Number.isInteger(hundredths) || hundredths <= 0)
    throw new Error(`refund: invalid amount ${hundredths}`)
  if (input.source === 'quota' && login !== null) {
    const toQuota = await trx
      .updateTable('sms_users')
      .set({ quota_left: sql`quota_left + ${hundredths}` })
      .where('account_id', '=', accountId)
      .where('login', '=', login)
      .where('quota_status', '=', 'active')
      .returning('login')
      .executeTakeFirst()
    if (toQuota) {
      await record(trx, {
        accountId,
        kind: 'refund',
        login,
        quotaDelta: hundredths,
        reference: input.reference ?? null,
      })
      return
    }
  }
  await addAccountCredits(trx, accountId, hundredths)
  await record(trx, {
    accountId,
    kind: 'refund',
    login,
    accountDelta: hundredths,
    reference: input.reference ?? null,
  })
}

/** Moves credits between two accounts of the same owner; both rows locked in id order. */
export async function transferCredits(
  db: Db,
  scope: Scope,
  serviceName: string,
  target: string,
  hundredths: number,
): Promise<void> {
  if (target === serviceName) throw invalid('smsAccountTarget', 'another SMS account than the source')
  await db.transaction().execute(async (trx) => {
    const [first, second] = [serviceName, target].sort()
    const locked = new Map<string, AccountRow | undefined>()
    locked.set(first as string, await lockAccount(trx, scope, first as string))
    locked.set(second as string, await lockAccount(trx, scope, second as string))
    const source = locked.get(serviceName)
    const destination = locked.get(target)
    if (!source) throw notFound(SERVICE_NOT_FOUND)
    if (!destination) throw notFound(`The target SMS account ${target} does not exist`)
    if (source.owner_id !== destination.owner_id)
      throw notFound(`The target SMS account ${target} does not exist`)
    if (source.credits_left < hundredths) {
      throw badRequest(
        `Not enough credits: ${serviceName} has ${fromHundredths(source.credits_left)} credits to transfer, ${fromHundredths(hundredths)} asked`,
      )
    }
    await addAccountCredits(trx, source.id, -hundredths)
    await addAccountCredits(trx, destination.id, hundredths)
    await record(trx, {
      accountId: source.id,
      kind: 'transfer_out',
      accountDelta: -hundredths,
      counterparty: target,
    })
    await record(trx, {
      accountId: destination.id,
      kind: 'transfer_in',
      accountDelta: hundredths,
      counterparty: serviceName,
    })
  })
}

export type LedgerEntry = Pick<CreditLedgerTable, 'kind' | 'login' | 'counterparty' | 'reference'> & {
  id: number
  accountDelta: number
  quotaDelta: number
  createdAt: string
}

export async function ledger(db: Db, accountId: number, afterId = 0, limit = 1000): Promise<LedgerEntry[]> {
  const rows = await db
    .selectFrom('credit_ledger')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute()
  return rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    login: row.login,
    accountDelta: fromHundredths(row.account_delta),
    quotaDelta: fromHundredths(row.quota_delta),
    counterparty: row.counterparty,
    reference: row.reference,
    createdAt: row.created_at.toISOString(),
  }))
}

/** The spends of one payer in a batch (see spendMany). */
export type PayerSpends = {
  accountId: number
  login: string | null
  items: { hundredths: number; reference: string }[]
}

/**
 * The spends of many payers at once, for group commit: every user whose active quota pays its whole
 * sum is spent by one `UPDATE … FROM (VALUES …)` (its rows locked first in (account, login) order, so
 * two batches cannot deadlock on them) and one ledger INSERT for them all; every other payer — an
 * account, an inactive or short quota, a user gone — goes through spendMany on its own, in order.
 * Outcomes come per payer, in the order of `payers`, as spendMany gives them.
 */
export async function spendForPayers(trx: Trx, payers: readonly PayerSpends[]): Promise<SpendOutcome[][]> {
  const outcomes: (SpendOutcome[] | undefined)[] = payers.map(() => undefined)
  const totals = payers.map((payer) => {
    for (const item of payer.items) checkAmount(item.hundredths)
    return payer.items.reduce((sum, item) => sum + item.hundredths, 0)
  })
  const quotaPayers = payers.flatMap((payer, i) => (payer.login === null ? [] : [i]))
  if (quotaPayers.length > 1) {
    const values = quotaPayers.map((i) => {
      const payer = payers[i] as PayerSpends
      return sql`(${payer.accountId}::int4, ${payer.login}::text, ${totals[i]}::int8)`
    })
    const { rows } = await sql<{
      account_id: number
      login: string
      quota_left: number
      alert_threshold: number
      alert_support: string
      alert_email: string | null
      alert_number: string | null
    }>`
      with v(account_id, login, total) as (values ${sql.join(values)}),
      locked as materialized (
        select u.account_id, u.login from sms_users as u
          join v on v.account_id = u.account_id and v.login = u.login
         order by u.account_id, u.login collate "C"
           for update of u
      )
      update sms_users as u set quota_left = u.quota_left - v.total
        from v join locked as l on l.account_id = v.account_id and l.login = v.login
       where u.account_id = v.account_id and u.login = v.login
         and u.quota_status = 'active' and u.quota_left >= v.total
      returning u.account_id, u.login, u.quota_left, u.alert_threshold, u.alert_support, u.alert_email, u.alert_number`.execute(
      trx,
    )
    const paidOf = new Map(rows.map((row) => [`${row.account_id}\u0000${row.login}`, row]))
    const entries: Entry[] = []
    for (const i of quotaPayers) {
      const payer = payers[i] as PayerSpends
      const row = paidOf.get(`${payer.accountId}\u0000${payer.login}`)
      if (!row) continue
      const paid: Paid = {
        source: 'quota',
        left: row.quota_left,
        alert: {
          threshold: row.alert_threshold,
          support: row.alert_support as AlertSettings['support'],
          email: row.alert_email,
          number: row.alert_number,
        },
      }
      for (const item of payer.items) {
        entries.push(spendEntry(payer.accountId, payer.login, 'quota', item.hundredths, item.reference))
      }
      let left = paid.left + (totals[i] as number)
      outcomes[i] = payer.items.map((item) => {
        left -= item.hundredths
        return { ok: true, ...paid, left }
      })
    }
    if (entries.length > 0) await record(trx, entries)
  }
  for (const [i, payer] of payers.entries()) {
    outcomes[i] ??= await spendMany(trx, payer)
  }
  return outcomes as SpendOutcome[][]
}
