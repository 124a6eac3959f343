import fc from 'fast-check'
import t from 'tap'
import { toHundredths } from '../../src/accounts/amounts.js'
import {
  NotEnoughCredits,
  purchase,
  refund,
  type SpendSource,
  spend,
  spendMany,
  UnknownPayer,
} from '../../src/accounts/ledger.js'
import { createAccount, requireAccount } from '../../src/accounts/service.js'
import { ALL_OWNERS } from '../../src/auth/scope.js'
import { createUser, removeUser, updateUserSettings } from '../../src/users/service.js'
import { admin, buildTestApp, call, SERVICE } from '../helpers.js'

const { app, deps, ownerId } = await buildTestApp(t, { credits: 200 })
const { db } = deps.database
const box = deps.secretBox

const accountId = async (serviceName: string) => (await requireAccount(db, ALL_OWNERS, serviceName)).id
const spendOne = (id: number, login: string | null, hundredths: number) =>
  db.transaction().execute((trx) => spend(trx, { accountId: id, login, hundredths }))

t.test('200 concurrent spends of 1 credit against a quota of 150 succeed exactly 150 times', async (t) => {
  await createAccount(db, { ownerId, serviceName: 'sms-race-1', credits: 1000 })
  await createUser(db, box, ALL_OWNERS, 'sms-race-1', { login: 'racer001', password: 'abcd1234' })
  await updateUserSettings(db, box, ALL_OWNERS, 'sms-race-1', 'racer001', {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 150 },
  })
  const id = await accountId('sms-race-1')
  const results = await Promise.allSettled(Array.from({ length: 200 }, () => spendOne(id, 'racer001', 100)))
  const ok = results.filter((r) => r.status === 'fulfilled').length
  const refused = results.filter(
    (r) => r.status === 'rejected' && r.reason instanceof NotEnoughCredits,
  ).length
  t.equal(ok, 150)
  t.equal(refused, 50)
  const user = (await call(app, 'GET', '/1.0/sms/sms-race-1/users/racer001')).body
  t.same(user.quotaInformations, { quotaLeft: 0, quotaStatus: 'active' })
  t.equal(
    (await call(app, 'GET', '/1.0/sms/sms-race-1')).body.creditsLeft,
    850,
    'the account was not touched',
  )
})

t.test(
  'spend uses the account when the quota is inactive, and refunds go back where they came from',
  async (t) => {
    await createAccount(db, { ownerId, serviceName: 'sms-spend-1', credits: 10 })
    await createUser(db, box, ALL_OWNERS, 'sms-spend-1', { login: 'spender1', password: 'abcd1234' })
    const id = await accountId('sms-spend-1')
    t.same(await spendOne(id, 'spender1', 250), { source: 'account', left: 750 })
    await t.rejects(spendOne(id, 'spender1', 751), {
      message: 'Not enough credits: the account has 7.5 credits left, 7.51 needed',
    })
    await updateUserSettings(db, box, ALL_OWNERS, 'sms-spend-1', 'spender1', {
      quotaInformations: { quotaStatus: 'active', quotaLeft: 2 },
    })
    t.match(await spendOne(id, 'spender1', 150), { source: 'quota', left: 50, alert: { threshold: -1 } })
    await t.rejects(spendOne(id, 'spender1', 51), {
      message: "Not enough credits: the user's quota has 0.5 credits left, 0.51 needed",
    })
    await db
      .transaction()
      .execute((trx) => refund(trx, { accountId: id, login: 'spender1', hundredths: 150, source: 'quota' }))
    t.match((await call(app, 'GET', '/1.0/sms/sms-spend-1/users/spender1')).body.quotaInformations, {
      quotaLeft: 2,
    })
    await removeUser(db, ALL_OWNERS, 'sms-spend-1', 'spender1')
    await db
      .transaction()
      .execute((trx) => refund(trx, { accountId: id, login: 'spender1', hundredths: 250, source: 'quota' }))
    t.equal((await call(app, 'GET', '/1.0/sms/sms-spend-1')).body.creditsLeft, 10, 'all credits are back')
  },
)

t.test(
  'a spend for a user deleted meanwhile is refused as such, not thrown as a database error',
  async (t) => {
    await createAccount(db, { ownerId, serviceName: 'sms-gone-1', credits: 10 })
    const id = await accountId('sms-gone-1')
    const refused = await spendOne(id, 'nobody01', 100).catch((error: unknown) => error)
    t.ok(refused instanceof UnknownPayer, 'spend throws UnknownPayer')
    const outcomes = await db.transaction().execute((trx) =>
      spendMany(trx, {
        accountId: id,
        login: 'nobody01',
        items: [
          { hundredths: 100, reference: 'a' },
          { hundredths: 200, reference: 'b' },
        ],
      }),
    )
    t.same(
      outcomes.map((o) => !o.ok && o.error instanceof UnknownPayer && o.error.login),
      ['nobody01', 'nobody01'],
    )
    t.equal((await call(app, 'GET', '/1.0/sms/sms-gone-1')).body.creditsLeft, 10, 'nothing was taken')
  },
)

t.test('transferCredits between accounts of the same owner', async (t) => {
  await createAccount(db, { ownerId, serviceName: 'sms-target-1', credits: 0 })
  const url = `/1.0/sms/${SERVICE}/transferCredits`
  t.same((await call(app, 'POST', url, { credits: 12.5, smsAccountTarget: 'sms-target-1' })).body, null)
  t.equal((await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.creditsLeft, 187.5)
  t.equal((await call(app, 'GET', '/1.0/sms/sms-target-1')).body.creditsLeft, 12.5)
  const cases: [unknown, number, string][] = [
    [
      { credits: 1000, smsAccountTarget: 'sms-target-1' },
      400,
      `Not enough credits: ${SERVICE} has 187.5 credits to transfer, 1000 asked`,
    ],
    [
      { credits: 0, smsAccountTarget: 'sms-target-1' },
      400,
      'Invalid credits: expected credits to move, > 0 with at most 2 decimals',
    ],
    [
      { credits: -5, smsAccountTarget: 'sms-target-1' },
      400,
      'Invalid credits: expected credits to move, > 0 with at most 2 decimals',
    ],
    [
      { credits: 0.001, smsAccountTarget: 'sms-target-1' },
      400,
      'Invalid credits: expected credits to move, > 0 with at most 2 decimals',
    ],
    [
      { credits: 1, smsAccountTarget: SERVICE },
      400,
      'Invalid smsAccountTarget: expected another SMS account than the source',
    ],
    [
      { credits: 1, smsAccountTarget: 'sms-nowhere-1' },
      404,
      'The target SMS account sms-nowhere-1 does not exist',
    ],
    [{ credits: 1 }, 400, 'Missing parameter: smsAccountTarget'],
  ]
  for (const [body, status, message] of cases) {
    const response = await call(app, 'POST', url, body)
    t.same([response.status, response.body?.message], [status, message], JSON.stringify(body))
  }
  const other = await admin(app, 'POST', '/admin/v1/owners', { name: 'umbrella' })
  await admin(app, 'POST', '/admin/v1/accounts', { serviceName: 'sms-umbrella-1', owner: other.body.id })
  const foreign = await call(app, 'POST', url, { credits: 1, smsAccountTarget: 'sms-umbrella-1' })
  t.same(
    [foreign.status, foreign.body.message],
    [404, 'The target SMS account sms-umbrella-1 does not exist'],
  )
  t.equal((await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body.creditsLeft, 187.5, 'refusals moved nothing')
})

t.test('the admin ledger lists every movement and rebuilds the balances', async (t) => {
  await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/credits`, { credits: 10 })
  await call(app, 'POST', `/1.0/sms/${SERVICE}/users`, { login: 'ledger01', password: 'abcd1234' })
  await call(app, 'PUT', `/1.0/sms/${SERVICE}/users/ledger01`, {
    quotaInformations: { quotaStatus: 'active', quotaLeft: 5 },
  })
  const { status, body } = await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/ledger`)
  t.equal(status, 200)
  t.same(
    body.map((e: { kind: string }) => e.kind),
    ['purchase', 'transfer_out', 'purchase', 'quota_set'],
  )
  const sum = (key: 'accountDelta' | 'quotaDelta') =>
    body.reduce((s: number, e: Record<string, number>) => s + (e[key] ?? 0), 0)
  const account = (await call(app, 'GET', `/1.0/sms/${SERVICE}`)).body
  t.equal(sum('accountDelta'), account.creditsLeft)
  t.equal(sum('quotaDelta'), account.creditsHoldByQuota)
  t.equal(
    (await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/ledger?afterId=${body[1].id}&limit=1`)).body
      .length,
    1,
  )
  t.equal((await admin(app, 'GET', '/admin/v1/accounts/sms-nope-1/ledger')).status, 404)
})

/** One random operation of the property test. */
type Op =
  | { kind: 'purchase'; account: number; amount: number }
  | { kind: 'quota'; account: number; user: number; active: boolean; amount: number }
  | { kind: 'transfer'; account: number; target: number; amount: number }
  | { kind: 'spend'; account: number; user: number | null; amount: number }
  | { kind: 'refund'; pick: number }
  | { kind: 'delete'; account: number; user: number }
  | { kind: 'create'; account: number; user: number }

const ACCOUNTS = 3
const USERS = 3
const amount = fc.integer({ min: 1, max: 5000 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('purchase' as const), account: fc.nat(ACCOUNTS - 1), amount }),
  fc.record({
    kind: fc.constant('quota' as const),
    account: fc.nat(ACCOUNTS - 1),
    user: fc.nat(USERS - 1),
    active: fc.boolean(),
    amount: fc.integer({ min: 0, max: 8000 }),
  }),
  fc.record({
    kind: fc.constant('transfer' as const),
    account: fc.nat(ACCOUNTS - 1),
    target: fc.nat(ACCOUNTS - 1),
    amount,
  }),
  fc.record({
    kind: fc.constant('spend' as const),
    account: fc.nat(ACCOUNTS - 1),
    user: fc.option(fc.nat(USERS - 1), { nil: null }),
    amount: fc.integer({ min: 1, max: 800 }),
  }),
  fc.record({ kind: fc.constant('refund' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), account: fc.nat(ACCOUNTS - 1), user: fc.nat(USERS - 1) }),
  fc.record({ kind: fc.constant('create' as const), account: fc.nat(ACCOUNTS - 1), user: fc.nat(USERS - 1) }),
)

let run = 0
t.test('random concurrent credit movements never create or lose a credit (fast-check)', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(opArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
      async (batches) => {
        run++
        const names = Array.from({ length: ACCOUNTS }, (_, i) => `sms-prop${run}-${i}`)
        const login = (u: number) => `propuser${u}`
        const ids: number[] = []
        const totals = names.map(() => ({ purchased: 0, spent: 0, refunded: 0, out: 0, in: 0 }))
        for (const name of names) {
          const account = await createAccount(db, { ownerId, serviceName: name, credits: 100 })
          ids.push(account.id)
          for (let u = 0; u < USERS; u++)
            await createUser(db, box, ALL_OWNERS, name, { login: login(u), password: 'abcd1234' })
        }
        for (const total of totals) total.purchased += 10_000
        const spends: {
          account: number
          login: string | null
          amount: number
          source: SpendSource
          refunded: boolean
        }[] = []

        const apply = async (op: Op): Promise<void> => {
          switch (op.kind) {
            case 'purchase':
              await db.transaction().execute((trx) => purchase(trx, ids[op.account]!, op.amount))
              totals[op.account]!.purchased += op.amount
              return
            case 'quota':
              await updateUserSettings(db, box, ALL_OWNERS, names[op.account]!, login(op.user), {
                quotaInformations: op.active
                  ? { quotaStatus: 'active', quotaLeft: op.amount / 100 }
                  : { quotaStatus: 'inactive' },
              })
              return
            case 'transfer': {
              const { transferCredits } = await import('../../src/accounts/ledger.js')
              await transferCredits(db, ALL_OWNERS, names[op.account]!, names[op.target]!, op.amount)
              totals[op.account]!.out += op.amount
              totals[op.target]!.in += op.amount
              return
            }
            case 'spend': {
              const who = op.user === null ? null : login(op.user)
              const { source } = await spendOne(ids[op.account]!, who, op.amount)
              totals[op.account]!.spent += op.amount
              spends.push({ account: op.account, login: who, amount: op.amount, source, refunded: false })
              return
            }
            case 'refund': {
              const candidates = spends.filter((s) => !s.refunded)
              const chosen = candidates[op.pick % Math.max(candidates.length, 1)]
              if (!chosen) return
              chosen.refunded = true
              await db.transaction().execute((trx) =>
                refund(trx, {
                  accountId: ids[chosen.account]!,
                  login: chosen.login,
                  hundredths: chosen.amount,
                  source: chosen.source,
                }),
              )
              totals[chosen.account]!.refunded += chosen.amount
              return
            }
            case 'delete':
              await removeUser(db, ALL_OWNERS, names[op.account]!, login(op.user))
              return
            case 'create':
              await createUser(db, box, ALL_OWNERS, names[op.account]!, {
                login: login(op.user),
                password: 'abcd1234',
              })
              return
          }
        }

        for (const batch of batches) {
          // Refusals (not enough credits, unknown user, existing login…) are part of the game.
          await Promise.allSettled(batch.map(apply))
        }

        for (let i = 0; i < ACCOUNTS; i++) {
          const account = await db
            .selectFrom('accounts')
            .select('credits_left')
            .where('id', '=', ids[i]!)
            .executeTakeFirstOrThrow()
          const users = await db
            .selectFrom('sms_users')
            .select(['login', 'quota_left', 'quota_status'])
            .where('account_id', '=', ids[i]!)
            .execute()
          const held = users.filter((u) => u.quota_status === 'active').reduce((s, u) => s + u.quota_left, 0)
          const total = totals[i]!
          if (
            account.credits_left + held !==
            total.purchased - total.spent + total.refunded - total.out + total.in
          ) {
            throw new Error(
              `account ${i}: credits ${account.credits_left} + held ${held} ≠ ${JSON.stringify(total)}`,
            )
          }
          if (account.credits_left < 0 || users.some((u) => u.quota_left < 0))
            throw new Error('negative balance')
          const entries = await db
            .selectFrom('credit_ledger')
            .selectAll()
            .where('account_id', '=', ids[i]!)
            .execute()
          const accountSum = entries.reduce((s, e) => s + e.account_delta, 0)
          if (accountSum !== account.credits_left)
            throw new Error(`ledger rebuilds ${accountSum}, balance ${account.credits_left}`)
          const perLogin = new Map<string, number>()
          for (const e of entries)
            if (e.login) perLogin.set(e.login, (perLogin.get(e.login) ?? 0) + e.quota_delta)
          for (const [name, sum] of perLogin) {
            const user = users.find((u) => u.login === name)
            const expected = user?.quota_status === 'active' ? user.quota_left : 0
            if (sum !== expected)
              throw new Error(`ledger rebuilds quota ${sum} for ${name}, stored ${expected}`)
          }
        }
      },
    ),
    { numRuns: 25 },
  )
  t.pass(`${run} random runs kept every credit`)
})

t.test('hundredths conversion', async (t) => {
  t.equal(toHundredths(0.1 + 0.2), 30)
  t.equal(toHundredths(150), 15000)
})
