/**
 * API throughput on real PostgreSQL, every figure against a bare Fastify JSON route served by the
 * same process in the same run: signed `GET {S}/users/{login}`, the same with an OAuth2 bearer token,
 * and `GET {S}/users` on an account of 10,000 users. autocannon runs in a child process; the
 * scenarios run in interleaved rounds and each ratio is the median of per-round ratios.
 * Target: signed ≥ 0.40 × bare.
 */
import { loadavg } from 'node:os'
import Fastify from 'fastify'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { ALL_OWNERS } from '../src/auth/scope.js'
import { createUser } from '../src/users/service.js'
import { pgStatsReport, pgStatsReset, startDatabase } from '../test/support/postgres.js'
import { nowSeconds, signedHeaders } from '../test/support/signing.js'
import { type LoadResult, runLoad } from './lib/load.js'
import {
  admin,
  benchApp,
  createKeys,
  listenLocal,
  machine,
  percentile,
  printTable,
  round,
  verdict,
  wallMs,
} from './lib/setup.js'

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100)
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const LIST_USERS = 10_000
const TARGET_SIGNED_OVER_BARE = 0.4
const SERVICE = 'sms-bench-api-1'
const LIST_SERVICE = 'sms-bench-api-list'
const LOGIN = 'benchuser1'

const database = await startDatabase()
try {
  await main()
} finally {
  await database.stop()
}

async function main() {
  const { app, deps } = await benchApp(database, { workers: false })
  const { db } = deps.database
  const owner = await createOwner(db, 'bench')
  await createAccount(db, { ownerId: owner.id, serviceName: SERVICE, credits: 1000 })
  const listAccount = await createAccount(db, { ownerId: owner.id, serviceName: LIST_SERVICE })
  await createUser(db, deps.secretBox, ALL_OWNERS, SERVICE, { login: LOGIN, password: 'abcd1234' })
  const sealed = deps.secretBox.seal('abcd1234')
  for (let start = 0; start < LIST_USERS; start += 5000) {
    await db
      .insertInto('sms_users')
      .values(
        Array.from({ length: Math.min(5000, LIST_USERS - start) }, (_, i) => ({
          account_id: listAccount.id,
          login: `listuser${String(start + i).padStart(6, '0')}`,
          password_enc: sealed,
        })),
      )
      .execute()
  }
  const keys = await createKeys(app, owner.id)
  const serviceAccount = await admin<{ clientId: string; clientSecret: string }>(
    app,
    'POST',
    '/admin/v1/service-accounts',
    { owner: owner.id, accessRules: [{ method: 'GET', path: '/*' }] },
  )
  const token = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: serviceAccount.clientId,
      client_secret: serviceAccount.clientSecret,
    }).toString(),
  })
  const accessToken = (JSON.parse(token.body) as { access_token?: string }).access_token
  if (!accessToken) throw new Error(`no OAuth2 token: ${token.body}`)

  const host = await listenLocal(app)
  const bare = Fastify({ logger: false })
  // About the size of an sms.User answer.
  const bareBody = {
    alertThresholdInformations: { alertEmail: null, alertNumber: null, alertThreshold: -1, support: 'mail' },
    callBack: null,
    ipRestrictions: [],
    login: LOGIN,
    password: 'abcd1234',
    quotaInformations: { quotaLeft: 0, quotaStatus: 'inactive' },
    stopCallBack: null,
  }
  bare.get('/bare', async () => bareBody)
  const bareHost = await listenLocal(bare)

  const userPath = `/1.0/sms/${SERVICE}/users/${LOGIN}`
  const listPath = `/1.0/sms/${LIST_SERVICE}/users`
  const scenarios: { name: string; url: string; path: string; headers: Record<string, string> }[] = [
    { name: 'bare Fastify route', url: `http://${bareHost}`, path: '/bare', headers: {} },
    {
      name: 'signed GET users/{login}',
      url: `http://${host}`,
      path: userPath,
      headers: signedHeaders(keys, 'GET', userPath, '', nowSeconds(), host),
    },
    {
      name: 'OAuth2 GET users/{login}',
      url: `http://${host}`,
      path: userPath,
      headers: { authorization: `Bearer ${accessToken}` },
    },
    {
      name: `signed GET users (${LIST_USERS})`,
      url: `http://${host}`,
      path: listPath,
      headers: signedHeaders(keys, 'GET', listPath, '', nowSeconds(), host),
    },
  ]
  for (const s of scenarios) {
    const response = await fetch(`${s.url}${s.path}`, { headers: s.headers })
    const text = await response.text()
    if (response.status !== 200) throw new Error(`${s.name}: ${response.status} ${text.slice(0, 300)}`)
    if (s.path === listPath && (JSON.parse(text) as string[]).length !== LIST_USERS) {
      throw new Error(`${s.name}: expected ${LIST_USERS} logins`)
    }
  }

  // One request at a time: how long listing 10,000 users takes when nothing else runs.
  const listHeaders = signedHeaders(keys, 'GET', listPath, '', nowSeconds(), host)
  const single: number[] = []
  for (let i = 0; i < 30; i++) {
    const started = wallMs()
    const response = await fetch(`http://${host}${listPath}`, { headers: listHeaders })
    await response.arrayBuffer()
    single.push(wallMs() - started)
  }
  single.sort((a, b) => a - b)

  // Warm-up, then ROUNDS interleaved rounds (bare, signed, OAuth2, list, bare, …): the machine may be
  // shared, so each ratio is taken against the bare run of its own round, and the median kept.
  const loadBefore = loadavg()[0] as number
  for (const s of scenarios) {
    await runLoad({ url: s.url, path: s.path, headers: s.headers, connections: CONNECTIONS, durationS: 2 })
  }
  const runs: LoadResult[][] = scenarios.map(() => [])
  await pgStatsReset(database.url)
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const [i, s] of scenarios.entries()) {
      process.stderr.write(
        `… round ${round_}/${ROUNDS}: ${s.name} (${CONNECTIONS} connections, ${DURATION_S} s)\n`,
      )
      const result = await runLoad({
        url: s.url,
        path: s.path,
        headers: s.headers,
        connections: CONNECTIONS,
        durationS: DURATION_S,
        accept: { status: 200 },
      })
      if (result.non2xx > 0 || result.errors > 0) {
        console.warn(
          `  ${s.name}: ${result.non2xx} non-2xx, ${result.errors} errors — ${result.sampleRejected ?? ''}`,
        )
      }
      runs[i]?.push(result)
    }
  }
  const loadAfter = loadavg()[0] as number
  await pgStatsReport(database.url)
  await app.close()
  await bare.close()

  const bareRuns = runs[0] as LoadResult[]
  /** The median round of a scenario (by req/s) and its median ratio to the bare run of the same round. */
  const summarise = (i: number) => {
    const list = runs[i] as LoadResult[]
    const byRps = [...list].sort((a, b) => a.rps - b.rps)
    const mid = byRps[Math.floor(byRps.length / 2)] as LoadResult
    const ratios = list.map((r, k) => r.rps / (bareRuns[k] as LoadResult).rps).sort((a, b) => a - b)
    return {
      rps: round(mid.rps, 1),
      p50: mid.p50,
      p99: mid.p99,
      ratio: ratios[Math.floor(ratios.length / 2)] as number,
      perRound: list.map((r) => Math.round(r.rps)),
    }
  }
  const figures = scenarios.map((s, i) => ({ name: s.name, ...summarise(i) }))
  const [bareFig, signedFig, oauthFig, listFig] = figures as [
    (typeof figures)[0],
    (typeof figures)[0],
    (typeof figures)[0],
    (typeof figures)[0],
  ]
  const signedRatio = signedFig.ratio

  const info = machine()
  console.log(
    `\nbench:api — ${info.date} — ${info.nproc} × ${info.cpu}, node ${info.node}, ${database.label}`,
  )
  console.log(
    `${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s after a 2 s warm-up; ` +
      `load average ${round(loadBefore, 1)} → ${round(loadAfter, 1)}\n`,
  )
  printTable(
    ['scenario', 'req/s (median)', 'p50 ms', 'p99 ms', '× bare (median)', 'req/s per round'],
    figures.map((f) => [f.name, Math.round(f.rps), f.p50, f.p99, round(f.ratio, 3), f.perRound.join(' / ')]),
  )
  console.log(
    `\nsigned / bare = ${round(signedRatio, 3)}   (target ≥ ${TARGET_SIGNED_OVER_BARE})  ${verdict(signedRatio >= TARGET_SIGNED_OVER_BARE)}`,
  )
  console.log(`OAuth2 / bare = ${round(oauthFig.ratio, 3)}   (no target)`)
  console.log(
    `GET users (${LIST_USERS}) one at a time: p50 ${round(percentile(single, 50), 1)} ms, p99 ${round(percentile(single, 99), 1)} ms (100,000-user target < 300 ms: not this bench)`,
  )
  const summary = (f: (typeof figures)[0]) => ({ rps: f.rps, p50: f.p50, p99: f.p99, perRound: f.perRound })
  console.log(
    JSON.stringify({
      bench: 'api',
      ...info,
      loadAverage: [round(loadBefore, 2), round(loadAfter, 2)],
      database: database.label,
      connections: CONNECTIONS,
      durationS: DURATION_S,
      rounds: ROUNDS,
      bare: summary(bareFig),
      signed: summary(signedFig),
      oauth: summary(oauthFig),
      list10k: summary(listFig),
      list10kSingleMs: { p50: round(percentile(single, 50), 1), p99: round(percentile(single, 99), 1) },
      ratios: {
        signedOverBare: round(signedRatio, 3),
        oauthOverBare: round(oauthFig.ratio, 3),
        list10kOverBare: round(listFig.ratio, 4),
      },
      targets: { signedOverBare: TARGET_SIGNED_OVER_BARE },
      pass: signedRatio >= TARGET_SIGNED_OVER_BARE,
    }),
  )
}
