/**
 * The official OVH Node clients, unmodified, against the server over TLS: `ovh` 2.x and
 * `@ovhcloud/node-ovh` 3.x signing with application and consumer keys, and node-ovh 3.x with OAuth2
 * client credentials. Each client runs in a child process (test/fixtures/official-clients.mjs) that
 * trusts the test's self-signed certificate through NODE_EXTRA_CA_CERTS.
 */
import { spawn } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { createOwner } from '../src/accounts/owners.js'
import { createAccount } from '../src/accounts/service.js'
import { buildApp } from '../src/app.js'
import { systemClock } from '../src/clock.js'
import type { AppDeps } from '../src/context.js'
import { createSecretBox } from '../src/crypto/secret-box.js'
import {
  ADMIN_TOKEN,
  admin,
  createKeys,
  createTestDatabase,
  type Keys,
  SERVICE,
  TEST_SECRET,
} from './helpers.js'
import { repoFile } from './support/paths.js'
import { devCert } from './support/tls.js'
import { waitFor } from './support/wait.js'

const FIXTURE = repoFile('test/fixtures/official-clients.mjs')
const ALL_RULES = (['GET', 'POST', 'PUT', 'DELETE'] as const).map((method) => ({ method, path: '/*' }))
const READ_ONLY = [{ method: 'GET' as const, path: '/sms/*' }]

// A certificate for localhost and 127.0.0.1 (`sms-mirror dev-cert`), trusted by the client processes only.
const { certFile: certPath, cert, key } = devCert(t)

// Like buildTestApp, but over TLS, on a real port and with the real clock (the clients sign with it).
const { database, config } = await createTestDatabase(t)
const owner = await createOwner(database.db, 'acme')
await createAccount(database.db, { ownerId: owner.id, serviceName: SERVICE, credits: 200 })
const deps: AppDeps = {
  // The simulator delivers quickly, and the sending worker polls often: a client reads ptt 4 soon.
  config: {
    ...config,
    adminToken: ADMIN_TOKEN,
    simulatorDelayMs: 100,
    sendingPollMs: 20,
    // The test's callback receiver listens on 127.0.0.1.
    callbacks: { ...config.callbacks, allowPrivate: true, timeoutMs: 2000 },
  },
  database,
  secretBox: createSecretBox(TEST_SECRET),
  clock: systemClock,
}
const app = await buildApp(deps, {
  logger: false,
  https: { key, cert },
})
t.teardown(() => app.close())
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port

const keys = await createKeys(app, owner.id, ALL_RULES)
const readOnlyKeys = await createKeys(app, owner.id, READ_ONLY)

type Call = [method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PAUSE', path?: string, params?: unknown]
type Result = { ok: true; value: unknown } | { ok: false; error: unknown; message: unknown }
type ClientName = 'ovh' | '@ovhcloud/node-ovh'

type Job = { client: ClientName; config: Record<string, unknown>; calls: Call[] }

/**
 * Runs each job (one client instance and its calls) in one child process, jobs concurrently; at a
 * PAUSE step the child waits for `onPause` to finish.
 */
function runClients(jobs: Job[], onPause: () => Promise<unknown> = async () => {}): Promise<Result[][]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Plain Node: without tap's NODE_OPTIONS (its process tracking only slows the children down).
      env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: certPath },
    })
    let output = ''
    child.stdout?.on('data', (chunk) => {
      output += chunk
    })
    child.stderr?.on('data', (chunk) => {
      output += chunk
    })
    let results: Result[][] | undefined
    child.on('message', (message: { pause?: [number, number]; results?: Result[][] }) => {
      if (message.results) results = message.results
      else if (message.pause) {
        const step = message.pause
        onPause().then(
          () => child.send({ resume: step }),
          (error) => {
            child.kill()
            reject(error)
          },
        )
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (results) resolve(results)
      else reject(new Error(`client process exited (${code ?? signal}) without results:\n${output}`))
    })
    child.send({ jobs })
  })
}

const runClient = async (
  client: ClientName,
  config: Record<string, unknown>,
  calls: Call[],
  onPause?: () => Promise<unknown>,
): Promise<Result[]> => (await runClients([{ client, config, calls }], onPause))[0] ?? []

/** How each signing client is configured: host, port, basePath and keys only. */
const signedConfig = (client: ClientName, k: Partial<Keys>) => ({
  ...(k.applicationKey === undefined ? {} : { appKey: k.applicationKey }),
  ...(k.applicationSecret === undefined ? {} : { appSecret: k.applicationSecret }),
  ...(k.consumerKey === undefined ? {} : { consumerKey: k.consumerKey }),
  // Both clients take the port separately (host must not carry it) and sign https://host/path.
  host: client === 'ovh' ? '127.0.0.1' : 'localhost',
  port,
  basePath: '/1.0',
})

const oauthConfig = (clientID: string, clientSecret: string) => ({
  clientID,
  clientSecret,
  // node-ovh 3 asks simple-oauth2 for a token at tokenURL + 'oauth2/token', scope "all".
  tokenURL: `https://localhost:${port}/auth/`,
  host: 'localhost',
  port,
  basePath: '/1.0',
})

const ok = (value: unknown): Result => ({ ok: true, value })
const failed = (error: number, message: string): Result => ({ ok: false, error, message })

const callBack = 'https://example.com/dlr?é=1' // non-ASCII: the clients send it as \u00e9
const userAfterCreate = (login: string) => ({
  alertThresholdInformations: { alertEmail: '', alertNumber: '', alertThreshold: -1, support: 'mail' },
  callBack: null,
  ipRestrictions: [],
  login,
  password: 'abcd1234',
  quotaInformations: { quotaLeft: 0, quotaStatus: 'inactive' },
  stopCallBack: null,
})

/** Create, list, read, update, read, delete, read a user; then an unknown service. */
function crudCalls(login: string): Call[] {
  const users = `/sms/${SERVICE}/users`
  return [
    ['GET', '/sms'],
    ['POST', users, { login, password: 'abcd1234' }],
    ['GET', users],
    ['GET', `${users}/${login}`],
    ['PUT', `${users}/${login}`, { ipRestrictions: ['127.0.0.1'], callBack }],
    // The clients fill {placeholders} from the params.
    ['GET', '/sms/{serviceName}/users/{login}', { serviceName: SERVICE, login }],
    ['DELETE', `${users}/${login}`],
    ['GET', `${users}/${login}`],
    ['GET', users],
    ['GET', '/sms/sms-zz99999-1/users'],
  ]
}

function checkCrud(t: Test, login: string, results: Result[]) {
  const [list, created, listed, read, updated, reread, deleted, gone, after, unknown] = results
  t.same(list, ok([SERVICE]), 'GET /sms')
  t.same(created, ok(null), 'POST users')
  t.ok(listed?.ok && (listed.value as string[]).includes(login), 'the list holds the new user')
  t.same(read, ok(userAfterCreate(login)), 'GET user')
  t.same(updated, ok(null), 'PUT user')
  t.same(reread, ok({ ...userAfterCreate(login), ipRestrictions: ['127.0.0.1'], callBack }), 'PUT applied')
  t.same(deleted, ok(null), 'DELETE user')
  t.same(gone, failed(404, `The requested object (login = ${login}) does not exist`), 'deleted user')
  t.ok(after?.ok && !(after.value as string[]).includes(login), 'the list no longer holds it')
  t.same(unknown, failed(404, 'This service does not exist'), 'unknown service')
}

for (const client of ['ovh', '@ovhcloud/node-ovh'] as const) {
  const login = client === 'ovh' ? 'ovhtwo01' : 'nodeovh3'

  t.test(`${client}: create, list, read, update and delete users`, async (t) => {
    checkCrud(t, login, await runClient(client, signedConfig(client, keys), crudCalls(login)))
  })

  t.test(`${client}: every authentication error`, async (t) => {
    const probe: Call[] = [['GET', '/sms']]
    const expired = await admin(app, 'POST', '/admin/v1/credentials', {
      applicationKey: keys.applicationKey,
      accessRules: ALL_RULES,
      expiration: new Date(Date.now() - 60_000).toISOString(),
    })
    const elsewhere = await admin(app, 'POST', '/admin/v1/credentials', {
      applicationKey: keys.applicationKey,
      accessRules: ALL_RULES,
      allowedIPs: ['10.0.0.0/8'],
    })
    const here = await admin(app, 'POST', '/admin/v1/credentials', {
      applicationKey: keys.applicationKey,
      accessRules: ALL_RULES,
      allowedIPs: ['127.0.0.1/32'],
    })
    const cases: [string, Partial<Keys>, Call[], Result[]][] = [
      [
        'no consumer key',
        { applicationKey: keys.applicationKey, applicationSecret: keys.applicationSecret },
        probe,
        [failed(401, 'You must login first')],
      ],
      [
        'unknown application key',
        { ...keys, applicationKey: 'unknownAppKey000' },
        probe,
        [failed(403, 'Invalid application key')],
      ],
      [
        'unknown consumer key',
        { ...keys, consumerKey: 'x'.repeat(32) },
        probe,
        [failed(403, 'This credential is not valid')],
      ],
      [
        'consumer key of another application',
        { ...keys, consumerKey: readOnlyKeys.consumerKey },
        probe,
        [failed(403, 'This credential is not valid')],
      ],
      [
        'expired consumer key',
        { ...keys, consumerKey: expired.body.consumerKey },
        probe,
        [failed(403, 'This credential is not valid')],
      ],
      [
        'consumer key restricted to other addresses',
        { ...keys, consumerKey: elsewhere.body.consumerKey },
        probe,
        [failed(403, 'This credential is not valid')],
      ],
      [
        'consumer key restricted to this address',
        { ...keys, consumerKey: here.body.consumerKey },
        probe,
        [ok([SERVICE])],
      ],
      [
        'wrong application secret',
        { ...keys, applicationSecret: 'y'.repeat(32) },
        probe,
        [failed(400, 'Invalid signature')],
      ],
      [
        'read-only consumer key',
        readOnlyKeys,
        [
          ['GET', '/sms'],
          ['GET', `/sms/${SERVICE}/users`],
          ['POST', `/sms/${SERVICE}/users`, { login: 'readonly1', password: 'abcd1234' }],
          ['DELETE', `/sms/${SERVICE}/users/readonly1`],
          ['GET', '/sms/sms-zz99999-1'],
        ],
        [
          failed(403, 'This call has not been granted'), // /sms/* does not cover /sms itself
          ok([]),
          failed(403, 'This call has not been granted'),
          failed(403, 'This call has not been granted'),
          failed(404, 'This service does not exist'),
        ],
      ],
    ]
    const outcomes = await runClients([
      ...cases.map(([, k, calls]) => ({ client, config: signedConfig(client, k), calls })),
      // A clock an hour off (apiTimeDiff is the clients' own option) falls outside the time window.
      { client, config: { ...signedConfig(client, keys), apiTimeDiff: 3600 }, calls: probe },
    ])
    cases.forEach(([name, , , expected], i) => {
      t.same(outcomes[i], expected, name)
    })

    t.match(
      outcomes[cases.length]?.[0],
      { ok: false, error: 400, message: /^Invalid signature: X-Ovh-Timestamp is outside the allowed ±\d+ s/ },
      'clock skew',
    )
  })
}

t.test('@ovhcloud/node-ovh in OAuth2 mode', async (t) => {
  const serviceAccount = async (accessRules: typeof ALL_RULES | typeof READ_ONLY) => {
    const created = await admin(app, 'POST', '/admin/v1/service-accounts', {
      owner: owner.id,
      accessRules,
      name: 'clients test',
    })
    t.equal(created.status, 200, 'service account created')
    return created.body as { clientId: string; clientSecret: string }
  }

  t.test('full CRUD with an all-rules service account', async (t) => {
    const sa = await serviceAccount(ALL_RULES)
    const login = 'oauthuser1'
    checkCrud(
      t,
      login,
      await runClient('@ovhcloud/node-ovh', oauthConfig(sa.clientId, sa.clientSecret), crudCalls(login)),
    )
  })

  t.test('a GET /sms/* service account reads but may not write', async (t) => {
    const sa = await serviceAccount(READ_ONLY)
    t.same(
      await runClient('@ovhcloud/node-ovh', oauthConfig(sa.clientId, sa.clientSecret), [
        ['GET', '/sms'],
        ['GET', `/sms/${SERVICE}/users`],
        ['POST', `/sms/${SERVICE}/users`, { login: 'oauthro01', password: 'abcd1234' }],
        ['GET', '/sms/sms-zz99999-1'],
      ]),
      [
        failed(403, 'This call has not been granted'), // /sms/* does not cover /sms itself
        ok([]),
        failed(403, 'This call has not been granted'),
        failed(404, 'This service does not exist'),
      ],
    )
  })

  t.test('revoking the service account ends its token and its logins', async (t) => {
    const sa = await serviceAccount(ALL_RULES)
    const results = await runClient(
      '@ovhcloud/node-ovh',
      oauthConfig(sa.clientId, sa.clientSecret),
      [['GET', '/sms'], ['PAUSE'], ['GET', '/sms']],
      async () => {
        t.same(await admin(app, 'DELETE', `/admin/v1/service-accounts/${sa.clientId}`), {
          status: 200,
          body: null,
        })
      },
    )
    t.same(results.slice(0, 2), [ok([SERVICE]), ok('resumed')])
    t.match(
      results[2],
      { ok: false, error: 401, message: /access token/ },
      'the token issued before is refused',
    )

    // A new client cannot get a token: node-ovh reports simple-oauth2's error as {statusCode, error, message}.
    const [again] = await runClient('@ovhcloud/node-ovh', oauthConfig(sa.clientId, sa.clientSecret), [
      ['GET', '/sms'],
    ])
    t.match(
      again,
      { ok: false, error: { statusCode: 401, message: { error: 'invalid_client' } } },
      'no new token',
    )
  })

  t.test('a wrong client secret gets no token', async (t) => {
    const sa = await serviceAccount(ALL_RULES)
    const [result] = await runClient('@ovhcloud/node-ovh', oauthConfig(sa.clientId, 'z'.repeat(40)), [
      ['GET', '/sms'],
    ])
    t.match(result, { ok: false, error: { statusCode: 401, message: { error: 'invalid_client' } } })
  })
})

t.test(
  "the seed's quota example through the official client: 200 credits, quota 150 → 50 left",
  async (t) => {
    await createAccount(database.db, { ownerId: owner.id, serviceName: 'sms-seed0001-1', credits: 200 })
    const users = '/sms/sms-seed0001-1/users'
    const results = await runClient('ovh', signedConfig('ovh', keys), [
      ['POST', users, { login: 'quotauser1', password: 'abcd1234' }],
      ['PUT', `${users}/quotauser1`, { quotaInformations: { quotaStatus: 'active', quotaLeft: 150 } }],
      ['GET', '/sms/sms-seed0001-1'],
      ['GET', `${users}/quotauser1`],
      ['PUT', `${users}/quotauser1`, { quotaInformations: { quotaStatus: 'active', quotaLeft: 250 } }],
      ['PUT', `${users}/quotauser1`, { quotaInformations: { quotaStatus: 'inactive' } }],
      ['GET', '/sms/sms-seed0001-1'],
    ])
    const [created, given, account, user, tooMuch, takenBack, after] = results
    t.same(created, ok(null))
    t.same(given, ok(null))
    t.match(account, {
      ok: true,
      value: { creditsLeft: 50, creditsHoldByQuota: 150, userQuantityWithQuota: 1 },
    })
    t.match(user, { ok: true, value: { quotaInformations: { quotaStatus: 'active', quotaLeft: 150 } } })
    t.same(
      tooMuch,
      failed(400, 'Not enough credits: the account has 50 credits available for quotas, 100 more were asked'),
    )
    t.same(takenBack, ok(null))
    t.match(after, { ok: true, value: { creditsLeft: 200, creditsHoldByQuota: 0, userQuantityWithQuota: 0 } })
  },
)

t.test('the official client sends as a user and reads the message back delivered (ptt 4)', async (t) => {
  const accountRow = await database.db
    .selectFrom('accounts')
    .select('id')
    .where('service_name', '=', SERVICE)
    .executeTakeFirstOrThrow()
  await database.db
    .insertInto('senders')
    .values({ account_id: accountRow.id, sender: 'ACME', status: 'enable', type: 'alpha' })
    .execute()
  const users = `/sms/${SERVICE}/users`
  const [created, sent] = await runClient('@ovhcloud/node-ovh', signedConfig('@ovhcloud/node-ovh', keys), [
    ['POST', users, { login: 'sender0001', password: 'abcd1234' }],
    [
      'POST',
      `${users}/sender0001/jobs`,
      { message: 'Bonjour ✓', receivers: ['+33601020304'], sender: 'ACME' },
    ],
  ])
  t.same(created, ok(null))
  t.match(sent, {
    ok: true,
    value: { validReceivers: ['+33601020304'], invalidReceivers: [], totalCreditsRemoved: 1 },
  })
  const id = (sent as { value: { ids: number[] } }).value.ids[0]
  let read: Result | undefined
  for (let i = 0; i < 50; i++) {
    ;[read] = await runClient('ovh', signedConfig('ovh', keys), [
      ['GET', `${users}/sender0001/outgoing/${id}`],
    ])
    if (read?.ok && (read.value as { ptt: number }).ptt === 4) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.match(read, {
    ok: true,
    value: { id, ptt: 4, deliveryReceipt: 1, receiver: '+33601020304', message: 'Bonjour ✓' },
  })
})

t.test('end to end: the official client sends, the callBack receiver gets ptt 3 then ptt 4', async (t) => {
  const { createServer } = await import('node:http')
  const received: URL[] = []
  const server = createServer((req, res) => {
    received.push(new URL(req.url ?? '/', 'http://127.0.0.1'))
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const callBack = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dlr?source=e2e`
  const users = `/sms/${SERVICE}/users`
  const [created, configured, sent] = await runClient('ovh', signedConfig('ovh', keys), [
    ['POST', users, { login: 'callback01', password: 'abcd1234' }],
    ['PUT', `${users}/callback01`, { callBack }],
    [
      'POST',
      `${users}/callback01/jobs`,
      { message: 'DLR please', receivers: ['+33601020399'], sender: 'ACME' },
    ],
  ])
  t.same([created, configured], [ok(null), ok(null)])
  const id = (sent as { value: { ids: number[] } }).value.ids[0]
  // The workers run in real time: on a busy machine both callbacks take longer than the 5 s this
  // loop once allowed.
  await waitFor('the callbacks ptt 3 and ptt 4', () => received.length >= 2)
  t.same(
    received.map((u) => [
      u.searchParams.get('id'),
      u.searchParams.get('ptt'),
      u.searchParams.get('description'),
    ]),
    [
      [String(id), '3', '8'],
      [String(id), '4', '1'],
    ],
  )
  const delivered = received[1]
  t.equal(delivered?.searchParams.get('descriptionDlr'), 'Success')
  t.equal(delivered?.searchParams.get('source'), 'e2e', 'the URL keeps its own parameters')
  const date = delivered?.searchParams.get('date') ?? ''
  t.match(date, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/)
  t.ok(
    Math.abs(Date.parse(`${date.replace(' ', 'T')}Z`) - Date.now()) < 60_000,
    'a parseable, current UTC date',
  )
})

t.test(
  'end to end: receiver lists with the official client (csvUrl, clean, task, receiversSlotId)',
  async (t) => {
    // The CSV, served by a local receiver (allowed: CALLBACK_ALLOW_PRIVATE in this file's config).
    const csv =
      'number;name\n+33601020411;Ann\n0033601020412;Bob\nnot-a-number;Eve\n+33601020411;Ann again\n+33601020413;Zoe\n'
    const { createServer } = await import('node:http')
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/csv')
      res.end(csv)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
    const csvUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/list.csv`
    // +33601020413 replied STOP: blacklisted.
    t.equal(
      (
        await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, {
          sender: '+33601020413',
          message: 'STOP',
        })
      ).status,
      200,
    )
    const account = `/sms/${SERVICE}`
    const slot = (id: number) => ({ slotId: id, description: `list ${id}`, autoUpdate: false, csvUrl })
    const [creditsBefore, created, second, cleaned, afterClean, csvAfter] = await runClient(
      'ovh',
      signedConfig('ovh', keys),
      [
        ['GET', account],
        ['POST', `${account}/receivers`, slot(1)],
        ['POST', `${account}/receivers`, slot(2)],
        ['POST', `${account}/receivers/1/clean`, { freemium: true, priceOnly: false }],
        ['GET', `${account}/receivers/1`],
        ['GET', `${account}/receivers/1/csv`],
      ],
    )
    t.match(created, {
      ok: true,
      value: { slotId: 1, records: 5, canAutoUpdate: true, description: 'list 1' },
    })
    t.match(second, { ok: true, value: { slotId: 2, records: 5 } })
    t.match(cleaned, { ok: true, value: { totalCreditsRemoved: 0 } })
    const taskId = (cleaned as { value: { taskId: number } }).value.taskId
    t.match(afterClean, { ok: true, value: { records: 3 } }, 'the invalid and the blacklisted number removed')
    t.same(csvAfter, ok('+33601020411\n0033601020412\n+33601020411'))

    const [task, tasks, sentCleaned, sentRaw, creditsAfter, badSlot] = await runClient(
      'ovh',
      signedConfig('ovh', keys),
      [
        ['GET', `${account}/task/${taskId}`],
        ['GET', `${account}/task`, { status: 'done' }],
        ['POST', `${account}/jobs`, { message: 'hello list', receiversSlotId: '1', sender: 'ACME' }],
        ['POST', `${account}/jobs`, { message: 'hello list', receiversSlotId: '2', sender: 'ACME' }],
        ['GET', account],
        ['POST', `${account}/jobs`, { message: 'x', receiversSlotId: '9', sender: 'ACME' }],
      ],
    )
    t.same(task, ok({ function: 'cleanSmsReceivers', status: 'done', step: 'finishing', taskId }))
    t.ok((tasks as { value: number[] }).value.includes(taskId), 'listed in {S}/task')
    t.match(sentCleaned, {
      ok: true,
      value: {
        validReceivers: ['+33601020411', '+33601020412'],
        invalidReceivers: [],
        totalCreditsRemoved: 2,
      },
    })
    t.match(sentRaw, {
      ok: true,
      value: {
        validReceivers: ['+33601020411', '+33601020412'],
        invalidReceivers: ['not-a-number', '+33601020413'],
        totalCreditsRemoved: 2,
      },
    })
    const left = (result: Result | undefined) =>
      (result as { value: { creditsLeft: number } }).value.creditsLeft
    t.equal(left(creditsAfter), left(creditsBefore) - 4, 'every valid number charged once per job')
    t.match(badSlot, { ok: false, error: 404 })
  },
)
