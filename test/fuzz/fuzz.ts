/**
 * Malformed-input fault drill. Every operation of openapi/openapi.json is fuzzed with fast-check from
 * its own parameter and body schemas, mixed with hostile values (wrong types, 100 kB strings, unicode
 * with lone surrogates and NUL, path traversal, unknown properties, invalid JSON, wrong content
 * types), mostly authenticated (OVH signature, admin bearer) so cases reach validation and handlers,
 * some not. Properties checked on every case:
 *   - no answer is a 5xx;
 *   - every 4xx is JSON with a non-empty `message` (the OAuth token route answers RFC 6749
 *     `{ error, error_description }` instead; http2sms answers 200 with its own KO body, whose
 *     message must be non-empty too);
 *   - a rejected request (4xx, or an http2sms status other than 100) changes no row of any table;
 *   - the app stays alive (GET /health after each operation, a signed read at the end) and the
 *     ledger still adds up to the balances;
 *   - under a random narrow set of access rules, a request the rules do not cover never succeeds
 *     (and changes nothing), and one they cover is never refused as not granted.
 *
 * The drill runs as four test files (test/fuzz/*.test.ts, one process each, so that tap runs them side
 * by side and none nears its per-file timeout on a busy machine): three take every third operation
 * (FUZZ_PART=k/3), the fourth the narrow access rules (FUZZ_PART=rules); each seeds its own app the
 * same way and ends with the books check. Unset, FUZZ_PART runs everything in one process.
 *
 * Replay: `FUZZ_SEED=<the seed printed> npx tap test/fuzz/<the file>.test.ts`; `FUZZ_RUNS` scales the
 * cases. Cases of one file share the database, so a replay is a replay of the whole file.
 *
 * Requests go through app.inject. Signed ones use helpers' signedHeaders (what call() signs with), as
 * call() always sends JSON and signs the URL as written, while cases send other content types and
 * URLs that are normalized before the app sees them.
 *
 * app.inject parses URLs with WHATWG URL, which resolves raw `../` and `%2e%2e` segments before the
 * app sees them; encoded forms that survive it (`..%2F`, `%2e%2e%2f`, `%00`…) do reach the params.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { sql } from 'kysely'
import t from 'tap'
import { DLR_STATUS, PTT_TABLE } from '../../src/dlr/ptt.js'
import {
  ADMIN_TOKEN,
  admin,
  buildTestApp,
  call,
  createKeys,
  type Keys,
  SERVICE,
  signedHeaders,
  usingPostgres,
} from '../helpers.js'
import { repoFile } from '../support/paths.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261126)
const RUNS = Number(process.env.FUZZ_RUNS ?? 40)
/** FUZZ_DEBUG=<part of "METHOD /path">: print every answer of those operations. */
const DEBUG = process.env.FUZZ_DEBUG
/** `k/n`: the operations whose index is k − 1 modulo n; `rules`: the access-rules property only; unset: all. */
const PART = process.env.FUZZ_PART
const part = /^(\d+)\/(\d+)$/.exec(PART ?? '')
const runsOperation = (index: number) =>
  PART === undefined || (part !== null && index % Number(part[2]) === Number(part[1]) - 1)
const runsRules = PART === undefined || PART === 'rules'
if (PART !== undefined && part === null && PART !== 'rules')
  throw new Error(`FUZZ_PART=${PART}: k/n or rules`)
t.comment(
  `fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${RUNS} base runs per operation, on ${usingPostgres ? 'PostgreSQL' : 'PGlite'}${PART ? `, part ${PART}` : ''}`,
)

// ---------------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------------

interface Schema {
  $ref?: string
  type?: string | string[]
  enum?: unknown[]
  anyOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  minItems?: number
  maxItems?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
}
interface Parameter {
  in: 'path' | 'query' | 'header'
  name: string
  schema: Schema
}
interface Operation {
  parameters?: Parameter[]
  requestBody?: { content: Record<string, { schema: Schema }> }
  security?: Record<string, string[]>[]
}
const document = JSON.parse(readFileSync(repoFile('openapi/openapi.json'), 'utf8')) as {
  servers: { url: string }[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema> }
}

function resolve(schema: Schema): Schema {
  let current = schema
  while (current.$ref) {
    const target = document.components.schemas[current.$ref.replace('#/components/schemas/', '')]
    if (!target) throw new Error(`unresolved ${current.$ref}`)
    current = target
  }
  return current
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
/** ovh: signed; admin: ADMIN_TOKEN; logout: signed with throwaway keys (it revokes them). */
type AuthKind = 'ovh' | 'admin' | 'public' | 'logout' | 'oauth' | 'http2sms'
type Op = {
  method: Method
  path: string
  auth: AuthKind
  params: Parameter[]
  body?: Schema
  bodyType?: string
}

// OVH paths are written without their servers (/1.0 and /v1): the full path here is /1.0's, the /v1
// copies are drawn by `prefix`. Paths with servers of their own (the root) are full already.
const operations: Op[] = Object.entries(document.paths).flatMap(([documented, methods]) =>
  Object.entries(methods).flatMap(([method, operation]) => {
    if (method === 'servers') return []
    const path = 'servers' in methods ? documented : `${document.servers[0]?.url}${documented}`
    const content = Object.entries(operation.requestBody?.content ?? {})[0]
    const security = operation.security
    const auth: AuthKind =
      path === '/auth/oauth2/token'
        ? 'oauth'
        : path.startsWith('/cgi-bin/')
          ? 'http2sms'
          : path.endsWith('/auth/logout')
            ? 'logout'
            : security?.some((s) => 'adminToken' in s)
              ? 'admin'
              : security && security.length === 0
                ? 'public'
                : 'ovh'
    return {
      method: method.toUpperCase() as Method,
      path,
      auth,
      params: operation.parameters ?? [],
      ...(content ? { body: content[1].schema, bodyType: content[0] } : {}),
    }
  }),
)

// ---------------------------------------------------------------------------------------------
// A realistic state: two owners, accounts with credits, a user with a quota, senders, sent and
// received SMS, a blacklisted number, callback deliveries, a service account, a pending credential.
// ---------------------------------------------------------------------------------------------

const { app, deps, ownerId, clock, keys } = await buildTestApp(t, { credits: 1000 })
const { db } = deps.database
const SERVICE2 = 'sms-ab12345-2'
const OTHER = 'sms-zz00000-1'
const MISSING = 'sms-zz99999-1'
const LOGIN = 'fuzzuser1'
const PASSWORD = 'fuzzpas1'
const SENDER = 'FUZZSHOP'
const WAITING = 'WAITING1'
const STOPPED = '+33601020399'
const base = `/1.0/sms/${SERVICE}`

async function must(what: string, response: Promise<{ status: number; body?: unknown }>) {
  const { status, body } = await response
  if (status !== 200) throw new Error(`seeding ${what}: ${status} ${JSON.stringify(body)}`)
  return body as Record<string, unknown>
}

await must('account 2', admin(app, 'POST', '/admin/v1/accounts', { serviceName: SERVICE2, owner: ownerId }))
const other = await must('owner 2', admin(app, 'POST', '/admin/v1/owners', { name: 'globex' }))
await must(
  'other account',
  admin(app, 'POST', '/admin/v1/accounts', { serviceName: OTHER, owner: other.id, credits: 50 }),
)
const accountId = (
  await db.selectFrom('accounts').select('id').where('service_name', '=', SERVICE).executeTakeFirstOrThrow()
).id
await must('callBack', call(app, 'PUT', base, { callBack: 'https://example.com/dlr' }))

async function seedUser() {
  await must('user', call(app, 'POST', `${base}/users`, { login: LOGIN, password: PASSWORD }))
  await must(
    'quota',
    call(app, 'PUT', `${base}/users/${LOGIN}`, {
      quotaInformations: { quotaStatus: 'active', quotaLeft: 100 },
    }),
  )
}
async function seedSender() {
  const row = await db
    .selectFrom('senders')
    .select('status')
    .where('account_id', '=', accountId)
    .where('sender', '=', SENDER)
    .executeTakeFirst()
  if (!row) await must('sender', call(app, 'POST', `${base}/senders`, { sender: SENDER, reason: 'fuzz' }))
  if (row?.status !== 'enable')
    await must('enable', admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/senders/${SENDER}/enable`))
}
async function seedServiceAccount() {
  const created = await must(
    'service account',
    admin(app, 'POST', '/admin/v1/service-accounts', {
      owner: ownerId,
      accessRules: [{ method: 'GET', path: '/*' }],
      name: 'fuzz',
    }),
  )
  return { clientId: String(created.clientId), clientSecret: String(created.clientSecret) }
}
async function seedPendingCredential() {
  const response = await app.inject({
    method: 'POST',
    url: '/1.0/auth/credential',
    headers: { 'x-ovh-application': keys.applicationKey },
    payload: { accessRules: [{ method: 'GET', path: '/*' }] },
  })
  if (response.statusCode !== 200) throw new Error(`seeding pending credential: ${response.body}`)
  return String(response.json().consumerKey)
}
const throwawayKeys = () =>
  createKeys(app, ownerId, [
    { method: 'GET', path: '/*' },
    { method: 'POST', path: '/*' },
  ])

await seedUser()
await seedSender()
await must('waiting sender', call(app, 'POST', `${base}/senders`, { sender: WAITING }))
for (const url of [`${base}/users/${LOGIN}/jobs`, `${base}/jobs`]) {
  await must('job', call(app, 'POST', url, { message: 'hello', receivers: ['+33601020304'], sender: SENDER }))
  await must(
    'deferred job',
    call(app, 'POST', url, {
      message: 'later',
      receivers: ['+33601020305'],
      sender: SENDER,
      differedPeriod: 600,
    }),
  )
}
await app.sendingWorker.runOnce()
clock.advance(60_000)
await app.sendingWorker.runOnce()
await must(
  'STOP',
  admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, { sender: STOPPED, message: 'STOP' }),
)
await must(
  'reply',
  admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/incoming`, { sender: '+33601020304', message: 'hi!' }),
)
await db
  .insertInto('callback_deliveries')
  .values({
    account_id: accountId,
    login: LOGIN,
    kind: 'dlr',
    outgoing_id: null,
    url: 'https://example.com/dlr?id=1',
    status: 'failed',
    next_attempt_at: clock.now(),
    last_status: 500,
    last_error: 'HTTP 500',
    created_at: clock.now(),
    delivered_at: null,
    signing_secret_enc: null,
  })
  .execute()

/** Values the cases point at; what a successful case deletes or uses up is made again (ensureSeed). */
const seed = {
  ...(await seedServiceAccount()),
  pendingConsumerKey: await seedPendingCredential(),
  logoutKeys: await throwawayKeys(),
  ids: [] as number[],
}
async function refreshIds() {
  const ids = await Promise.all([
    db.selectFrom('outgoing').select('id').orderBy('id').limit(20).execute(),
    db.selectFrom('incoming').select('id').orderBy('id').limit(20).execute(),
    db.selectFrom('callback_deliveries').select('id').orderBy('id').limit(20).execute(),
  ])
  seed.ids = [...new Set(ids.flat().map((row) => Number(row.id)))]
}
await refreshIds()

/** After a successful case: whatever the cases rely on exists again, and there is credit left. */
async function ensureSeed(op: Op) {
  const user = await db
    .selectFrom('sms_users')
    .select('login')
    .where('account_id', '=', accountId)
    .where('login', '=', LOGIN)
    .executeTakeFirst()
  if (!user) await seedUser()
  await seedSender()
  const account = await db
    .selectFrom('accounts')
    .select('credits_left')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow()
  if (Number(account.credits_left) < 100_00)
    await must('credits', admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/credits`, { credits: 500 }))
  const serviceAccount = await db
    .selectFrom('service_accounts')
    .select('id')
    .where('client_id', '=', seed.clientId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  if (!serviceAccount) Object.assign(seed, await seedServiceAccount())
  if (op.path.includes('{consumerKey}')) seed.pendingConsumerKey = await seedPendingCredential()
  if (op.auth === 'logout') seed.logoutKeys = await throwawayKeys()
  if (op.method === 'DELETE' || op.method === 'POST') await refreshIds()
}

// ---------------------------------------------------------------------------------------------
// Snapshot of every table in one query: per table, its row count and the sum of a 64-bit hash of
// each row as text (order-free, so no sort; any changed column of any row changes it).
// ---------------------------------------------------------------------------------------------

/** Every table of the schema (found, not listed, so a new table is watched too), migrations' aside. */
const TABLES = (
  await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'kysely_%'
    order by table_name`.execute(db)
).rows.map((row) => row.name)
type Snapshot = Record<string, string>

async function snapshot(): Promise<Snapshot> {
  const columns = TABLES.map(
    (table) =>
      sql`(select count(*) || ':' || coalesce(sum(hashtextextended(r::text, 0)::numeric), 0) from ${sql.table(table)} r) as ${sql.ref(table)}`,
  )
  const { rows } = await sql<Snapshot>`select ${sql.join(columns)}`.execute(db)
  return rows[0] as Snapshot
}
const changedTables = (before: Snapshot, after: Snapshot) =>
  TABLES.filter((table) => before[table] !== after[table])

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Strings matching a pattern; fast-check cannot draw from some (lookahead): any string then. */
function matching(pattern: string): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(new RegExp(pattern))
  } catch {
    return fc.string({ unit: 'grapheme', maxLength: 300 })
  }
}

const HUGE = 'x'.repeat(100_000)
const HOSTILE_STRINGS = [
  '',
  ' ',
  HUGE,
  '😀'.repeat(25_000),
  '\u202Egnp.exe\u202C',
  'שלום עולם',
  'مرحبا بالعالم',
  '\u0000',
  'ab\u0000cd',
  '\ud800',
  'a\udfffb',
  '\ud83d',
  'ｆｕｌｌｗｉｄｔｈ',
  '\u200b\u200d\ufeff',
  'e\u0301\u0301\u0301',
  '🏳️‍🌈👨‍👩‍👧',
  "' or '1'='1' --",
  "'); drop table accounts; --",
  '../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%2e%2e%2f',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal log4j-style payload
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  '\r\nSet-Cookie: x=1',
  'null',
  'true',
  '-1',
  '1e309',
  'NaN',
  '0x1F',
  ' 42 ',
  '+33 6 01 02 03 04',
  SERVICE,
  'https://127.0.0.1/',
  'http://[::1]:22/',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'whsec_',
]
/** Any UTF-16 code unit: lone surrogates, NUL and control characters included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code))
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: anyCodeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
)
const hostileNumber = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1.005,
    1e-7,
    2 ** 31,
    2 ** 31 - 1,
    -(2 ** 31) - 1,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 63,
    2 ** 64,
    1e21,
    1e308,
    -1e308,
    5e-324,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
)
const wrongType = fc.constantFrom<unknown>(null, true, false, [], {}, [null], [[]], { '': null }, ['a', 1], {
  length: 1,
})
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, wrongType)

const phone = fc.oneof(
  fc.constantFrom('+33601020304', '0033601020305', '+447700900123', STOPPED, '0601020304'),
  fc.integer({ min: 600_000_000, max: 799_999_999 }).map((n) => `+33${n}`),
)
const live = <T>(read: () => T) => fc.constant(null).map(read)
const accessRule = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
  path: fc.constantFrom('/*', '/sms/*', `/sms/${SERVICE}/*`, '/sms'),
})

/** Realistic values by property or parameter name, so that valid-looking cases hit real rows. */
const HINTS: Record<string, () => fc.Arbitrary<unknown>> = {
  serviceName: () =>
    fc.oneof(
      fc.constantFrom(SERVICE, SERVICE, SERVICE2, OTHER, MISSING, SERVICE.toUpperCase()),
      fc.stringMatching(/^sms-[a-z]{2}[0-9]{5}-[0-9]$/),
    ),
  smsAccountTarget: () => fc.constantFrom(SERVICE2, OTHER, MISSING, SERVICE),
  login: () => fc.constantFrom(LOGIN, LOGIN, 'nobody99', LOGIN.toUpperCase()),
  password: () => fc.constantFrom(PASSWORD, 'abcd1234'),
  sender: () => fc.oneof(fc.constantFrom(SENDER, SENDER, WAITING, 'NOSUCH'), phone),
  number: () => fc.constantFrom(STOPPED, STOPPED, '0033601020399', '33601020399', '+33601020304'),
  receivers: () => fc.array(phone, { minLength: 1, maxLength: 3 }),
  alertNumber: () => phone,
  alertEmail: () => fc.constantFrom('ops@example.com', 'not-an-email', ''),
  callBack: () =>
    fc.constantFrom('https://example.com/dlr', 'http://example.org/cb?x=1', 'ftp://x', '', null),
  stopCallBack: () => fc.constantFrom('https://example.com/stop', '', null),
  cgiUrl: () => fc.constantFrom('https://example.com/reply', null),
  ipRestrictions: () => fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('10.0.0.0/8')), { maxLength: 3 }),
  allowedIPs: () => fc.array(fc.oneof(fc.ipV4(), fc.constant('10.0.0.0/8')), { maxLength: 3 }),
  id: () => fc.nat().chain((i) => live(() => seed.ids[i % seed.ids.length] ?? 1)),
  consumerKey: () =>
    fc.oneof(
      live(() => seed.pendingConsumerKey),
      fc.constant(keys.consumerKey),
    ),
  clientId: () => live(() => seed.clientId),
  client_id: () => live(() => seed.clientId),
  client_secret: () => live(() => seed.clientSecret),
  grant_type: () => fc.constantFrom('client_credentials', 'client_credentials', 'password'),
  owner: () => fc.constantFrom(ownerId, Number(other.id), 999_999),
  applicationKey: () => fc.constant(keys.applicationKey),
  accessRules: () => fc.array(accessRule, { minLength: 1, maxLength: 3 }),
  credits: () => fc.integer({ min: 1, max: 10_000 }).map((n) => n / 100),
  quotaLeft: () => fc.integer({ min: 0, max: 5_000 }).map((n) => n / 100),
  secret: () => fc.constantFrom('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', null, 'whsec_!!', 'plain'),
  message: () => fc.string({ minLength: 1, maxLength: 60 }),
  tag: () => fc.constantFrom('promo', '', 'x'.repeat(20), 'x'.repeat(21)),
  batchID: () => fc.uuid(),
  expiration: () => fc.constantFrom('2030-01-01T00:00:00Z', '2000-01-01T00:00:00Z', 'tomorrow'),
  receiver: () => fc.constantFrom('^\\+33', '.*', '(', '^\\+44.*$'),
  ptt: () => fc.constantFrom(...PTT_TABLE.keys()),
  dlr: () => fc.constantFrom(...DLR_STATUS.keys()),
  afterMs: () => fc.integer({ min: 0, max: 60_000 }),
  // Read-only sender fields, accepted only unchanged: mostly leave them out.
  comment: () => fc.constant(undefined),
  validationMedia: () => fc.constant(undefined),
  referer: () => fc.constant(undefined),
  // Any stored receiver list is refused: mostly leave them out so that sends can succeed.
  receiversSlotId: () => fc.constant(undefined),
  receiversDocumentUrl: () => fc.constant(undefined),
}

/** The seeded row each path parameter names in plausible cases. */
const PRIMARY: Record<string, fc.Arbitrary<unknown>> = {
  serviceName: fc.constant(SERVICE),
  login: fc.constant(LOGIN),
  sender: fc.constantFrom(SENDER, WAITING),
  number: fc.constant(STOPPED),
  id: fc.nat().chain((i) => live(() => seed.ids[i % seed.ids.length] ?? 1)),
  consumerKey: live(() => seed.pendingConsumerKey),
  clientId: live(() => seed.clientId),
}

function fromSchema(
  raw: Schema,
  name: string | undefined,
  hostile: boolean,
  depth = 0,
): fc.Arbitrary<unknown> {
  const schema = resolve(raw)
  const plain = plainFromSchema(schema, name, hostile && depth < 4, depth)
  const hint = name ? HINTS[name] : undefined
  const hinted = hint ? fc.oneof({ weight: 2, arbitrary: hint() }, { weight: 1, arbitrary: plain }) : plain
  return hostile && depth < 4
    ? fc.oneof({ weight: 6, arbitrary: hinted }, { weight: 1, arbitrary: hostileValue })
    : hinted
}

function plainFromSchema(schema: Schema, name: string | undefined, hostile: boolean, depth: number) {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => fromSchema(s, name, hostile, depth)))
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const types = Array.isArray(schema.type)
    ? schema.type
    : schema.type
      ? [schema.type]
      : schema.properties
        ? ['object']
        : ['string']
  return fc.oneof(...types.map((type) => byType(type, schema, name, hostile, depth)))
}

function byType(
  type: string,
  schema: Schema,
  name: string | undefined,
  hostile: boolean,
  depth: number,
): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null)
    case 'boolean':
      return fc.boolean()
    case 'integer': {
      const min = Math.max(schema.minimum ?? -1000, (schema.exclusiveMinimum ?? -1001) + 1)
      const ints = fc.integer({ min, max: Math.max(min, Math.min(schema.maximum ?? 100_000, 1_000_000)) })
      if (!hostile) return ints
      const edges = [min - 1, schema.maximum, (schema.maximum ?? 2 ** 53) + 1, 1e20, -1e20, 2 ** 31, 1.5]
      return fc.oneof({ weight: 4, arbitrary: ints }, { weight: 1, arbitrary: fc.constantFrom(...edges) })
    }
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum ?? -1000
      const max = Math.max(min + 1, schema.maximum ?? 100_000)
      const doubles = fc.double({ min, max, noNaN: true, minExcluded: schema.exclusiveMinimum !== undefined })
      const cents = fc
        .integer({ min: Math.ceil(min * 100) + 1, max: Math.floor(max * 100) })
        .map((n) => n / 100)
      return hostile
        ? fc.oneof(cents, doubles, fc.constantFrom(min, min - 0.01, 1e308, 1e-300, 2 ** 63))
        : fc.oneof(cents, doubles)
    }
    case 'string': {
      let strings: fc.Arbitrary<string>
      if (schema.pattern) strings = matching(schema.pattern)
      else if (schema.format === 'date-time')
        strings = fc
          .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString())
      else if (schema.format === 'uuid') strings = fc.uuid()
      else {
        const minLength = schema.minLength ?? 0
        strings = fc.string({
          minLength,
          maxLength: Math.max(minLength, Math.min(schema.maxLength ?? 30, 30)),
        })
      }
      if (!hostile || schema.maxLength === undefined) return strings
      const atLimit = ['a'.repeat(schema.maxLength), 'a'.repeat(schema.maxLength + 1)]
      return fc.oneof(
        { weight: 5, arbitrary: strings },
        { weight: 1, arbitrary: fc.constantFrom(...atLimit) },
      )
    }
    case 'array': {
      const item = fromSchema(schema.items ?? {}, name, hostile, depth + 1)
      const arrays = fc.array(item, {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 4, 4)),
      })
      if (!hostile || schema.maxItems === undefined) return arrays
      const tooMany = fc.array(fromSchema(schema.items ?? {}, name, false, depth + 1), {
        minLength: schema.maxItems + 1,
        maxLength: schema.maxItems + 1,
      })
      return fc.oneof({ weight: 10, arbitrary: arrays }, { weight: 1, arbitrary: tooMany })
    }
    default: {
      const properties = schema.properties ?? {}
      const required = schema.required ?? []
      const record = (requiredKeys: string[]) =>
        fc.record(
          Object.fromEntries(
            Object.entries(properties).map(([key, sub]) => [key, fromSchema(sub, key, hostile, depth + 1)]),
          ),
          { requiredKeys },
        ) as fc.Arbitrary<Record<string, unknown>>
      if (!hostile) return record(required)
      const extras = fc
        .array(
          fc.tuple(
            fc.constantFrom(
              'unknown',
              '__proto__',
              'constructor',
              'id',
              'account_id',
              'owner_id',
              'credits_left',
              '',
            ),
            hostileValue,
          ),
          { minLength: 1, maxLength: 2 },
        )
        .map((entries) => Object.fromEntries(entries))
      return fc.oneof(
        { weight: 5, arbitrary: record(required) },
        { weight: 1, arbitrary: record([]) },
        { weight: 1, arbitrary: fc.tuple(record(required), extras).map(([a, b]) => ({ ...a, ...b })) },
      )
    }
  }
}

/** Percent-encodes like encodeURIComponent; a lone surrogate becomes its (invalid) 3-byte UTF-8 form. */
function encode(text: string): string {
  try {
    return encodeURIComponent(text)
  } catch {
    let out = ''
    for (const char of text) {
      const code = char.codePointAt(0) as number
      out +=
        code >= 0xd800 && code <= 0xdfff
          ? [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
              .map((byte) => `%${byte.toString(16).toUpperCase()}`)
              .join('')
          : encodeURIComponent(char)
    }
    return out
  }
}
const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

function formEncode(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return encode(asText(value))
  return Object.entries(value)
    .flatMap(([key, v]) =>
      (Array.isArray(v) ? v : [v]).map((item) => `${encode(key)}=${encode(asText(item))}`),
    )
    .join('&')
}

/** Path segments sent as is (already encoded): traversal, encoded traversal, NUL, bad escapes. */
const RAW_SEGMENTS = [
  '..',
  '.',
  '../',
  '..%2F',
  '..%2f',
  '%2e%2e%2f',
  '%2e%2e',
  '%2E%2E%2F',
  '..%2F..%2F..%2Fadmin%2Fv1%2Fowners',
  '%2e%2e%2f%2e%2e%2fadmin',
  '%252e%252e%252f',
  '%5C..%5C',
  '..%5c',
  '....%2F%2F',
  '%00',
  'x%00',
  `${SERVICE}%00`,
  `${SERVICE}%00.json`,
  '%2F',
  '%',
  '%zz',
  '%ED%A0%80',
  '%C0%AE%C0%AE%2F',
  '%FF%FE',
  '%3B',
  ';',
  '%23',
  '%3F',
  '*',
  '%20',
  '',
]

function pathParam(parameter: Parameter): fc.Arbitrary<string> {
  const hint = HINTS[parameter.name]
  const seeded = (hint ? hint() : fromSchema(parameter.schema, undefined, false)).map(asText)
  return fc.oneof(
    { weight: 6, arbitrary: seeded.map(encode) },
    { weight: 2, arbitrary: fromSchema(parameter.schema, undefined, false).map((v) => encode(asText(v))) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(seeded, fc.constantFrom(...RAW_SEGMENTS), fc.boolean())
        .map(([s, raw, before]) => (before ? `${raw}${encode(s)}` : `${encode(s)}${raw}`)),
    },
    { weight: 2, arbitrary: hostileValue.map((v) => encode(asText(v))) },
  )
}

const RAW_QUERIES = ['%', 'a=%zz', '=&&&=', 'ptt=%ED%A0%80', 'x=%00', '&&', 'a[b][c]=1', 'limit=1&limit=2']

function queryString(parameters: Parameter[]): fc.Arbitrary<string> {
  const pairs = parameters
    .filter((p) => p.in === 'query')
    .map((p) =>
      fc.option(
        fc.oneof(
          { weight: 4, arbitrary: fromSchema(p.schema, p.name, false).map((v) => [[p.name, v]]) },
          { weight: 2, arbitrary: hostileValue.map((v) => [[p.name, v]]) },
          {
            weight: 1,
            arbitrary: fc
              .array(fromSchema(p.schema, p.name, true), { minLength: 2, maxLength: 3 })
              .map((vs) => vs.map((v) => [p.name, v])),
          },
        ),
        { nil: [] as unknown[][], freq: 3 },
      ),
    )
  const extra = fc.option(
    fc
      .tuple(fc.constantFrom('unknown', '__proto__', 'constructor', 'a.b', '', 'limit[]'), hostileValue)
      .map((e) => [e]),
    { nil: [] as unknown[][], freq: 2 },
  )
  const built = fc.tuple(extra, ...pairs).map((lists) =>
    lists
      .flat()
      .map(([key, value]) =>
        value === null ? encode(String(key)) : `${encode(String(key))}=${encode(asText(value))}`,
      )
      .join('&'),
  )
  return fc.oneof({ weight: 12, arbitrary: built }, { weight: 1, arbitrary: fc.constantFrom(...RAW_QUERIES) })
}

type Body = { text: string | Buffer; contentType?: string } | undefined

const INVALID_JSON: (string | Buffer)[] = [
  '{',
  '}',
  '{"a":}',
  "{'login':'abc'}",
  '[1,]',
  '{"a":1,}',
  'NaN',
  'undefined',
  '\u0000',
  ' ',
  '\ufeff{}',
  '{"a":1}{"b":2}',
  '{"a":1} trailing',
  '1e999999',
  `{"message":"${'\\ud800'.repeat(3)}","receivers":["+33601020304"]}`,
  '{"message":"a\\u0000b","login":"a\\u0000b","password":"x\\u0000"}',
  '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}',
  '{"login":"fuzzuser2","login":"fuzzuser3","password":"abcd1234"}',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  `{"message":"${'x'.repeat(1.1 * 2 ** 20)}"}`,
  Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
  Buffer.from('{"message":"\xc0\xae"}', 'latin1'),
]
const WRONG_CONTENT_TYPES = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/jsonx',
  '',
  'application/json, text/plain',
  'a/b/c',
  ';;;',
  undefined,
]

function body(schema: Schema | undefined, type: string | undefined): fc.Arbitrary<Body> {
  const form = type === 'application/x-www-form-urlencoded'
  const value = schema
    ? fc.oneof(
        { weight: 2, arbitrary: fromSchema(schema, undefined, false) },
        { weight: 5, arbitrary: fromSchema(schema, undefined, true) },
      )
    : hostileValue
  const wellFormed = value.map(
    (v): Body => ({
      text: form ? formEncode(v) : (JSON.stringify(v) ?? 'null'),
      contentType: form ? 'application/x-www-form-urlencoded' : 'application/json',
    }),
  )
  const invalidJson = fc
    .constantFrom(...INVALID_JSON)
    .map((text): Body => ({ text, contentType: 'application/json' }))
  const wrongType = fc.tuple(value, fc.constantFrom(...WRONG_CONTENT_TYPES)).map(
    ([v, contentType]): Body => ({
      text: contentType?.includes('urlencoded') ? formEncode(v) : (JSON.stringify(v) ?? ''),
      ...(contentType === undefined ? {} : { contentType }),
    }),
  )
  const none = fc.constant<Body>(undefined)
  if (!schema)
    return fc.oneof(
      { weight: 10, arbitrary: none },
      { weight: 1, arbitrary: wellFormed },
      { weight: 1, arbitrary: invalidJson },
    )
  return fc.oneof(
    { weight: 14, arbitrary: wellFormed },
    { weight: 2, arbitrary: invalidJson },
    { weight: 2, arbitrary: wrongType },
    { weight: 1, arbitrary: none },
  )
}

/** http2sms takes no schema: its parameters, from src/sending/http2sms.ts. */
const HTTP2SMS_PARAMS: Record<string, [fc.Arbitrary<string>, boolean]> = {
  account: [fc.constantFrom(SERVICE, SERVICE, SERVICE2, OTHER, MISSING), true],
  smsAccount: [fc.constantFrom(SERVICE, OTHER), false],
  login: [fc.constantFrom(LOGIN, LOGIN, 'nobody99'), true],
  password: [fc.constantFrom(PASSWORD, PASSWORD, 'wrongpw1', ''), true],
  from: [fc.constantFrom(SENDER, SENDER, WAITING, 'NOSUCH'), true],
  to: [
    fc.oneof(
      phone,
      fc.array(phone, { minLength: 1, maxLength: 3 }).map((a) => a.join(',')),
    ),
    true,
  ],
  message: [fc.string({ minLength: 1, maxLength: 60 }), true],
  contentType: [
    fc.constantFrom(
      'text/plain',
      'text/html',
      'text/xml',
      'application/xml',
      'text/json',
      'application/json',
      'x/y',
    ),
    false,
  ],
  tag: [fc.constantFrom('promo', 'x'.repeat(21)), false],
  noStop: [fc.constantFrom('0', '1', '2', ''), false],
  smsCoding: [fc.constantFrom('1', '2', '3'), false],
  SMSencoding: [fc.constantFrom('1', '2', 'x'), false],
  class: [fc.constantFrom('0', '1', '2', '3', '4', '-1', '1.0'), false],
  deferred: [fc.constantFrom('120026112026', '120026112099', '999999999999', '000031022027', '1200'), false],
  senderForResponse: [fc.constantFrom('0', '1'), false],
}
const http2smsParams = fc
  .tuple(
    ...Object.entries(HTTP2SMS_PARAMS).map(([name, [valid, usual]]) =>
      fc
        .option(
          fc.oneof(
            { weight: 8, arbitrary: valid },
            { weight: 1, arbitrary: hostileString },
            { weight: 1, arbitrary: fc.array(valid, { minLength: 2, maxLength: 2 }) },
          ),
          { nil: undefined, freq: usual ? 12 : 2 },
        )
        .map((v) => [name, v] as const),
    ),
  )
  .map((entries) => Object.fromEntries(entries.filter(([, v]) => v !== undefined)))

type Case = {
  prefix: '/1.0' | '/v1'
  params: Record<string, string>
  query: string
  body: Body
  auth: 'ok' | 'none' | 'bad'
  /** Which wrong credentials a 'bad' case sends. */
  variant: number
  ip: string
}

function caseFor(op: Op): fc.Arbitrary<Case> {
  const params = Object.fromEntries(
    op.params.filter((p) => p.in === 'path').map((p) => [p.name, pathParam(p)]),
  )
  let query = queryString(op.params)
  let payload = body(op.body, op.bodyType)
  if (op.auth === 'http2sms') {
    query = fc.oneof(
      { weight: op.method === 'GET' ? 10 : 1, arbitrary: http2smsParams.map(formEncode) },
      { weight: 1, arbitrary: queryString([]) },
    )
    if (op.method === 'POST')
      payload = fc.oneof(
        {
          weight: 6,
          arbitrary: http2smsParams.map(
            (p): Body => ({ text: formEncode(p), contentType: 'application/x-www-form-urlencoded' }),
          ),
        },
        {
          weight: 2,
          arbitrary: http2smsParams.map(
            (p): Body => ({ text: JSON.stringify(p), contentType: 'application/json' }),
          ),
        },
        { weight: 2, arbitrary: body(undefined, undefined) },
        { weight: 1, arbitrary: body({ type: 'object' }, 'application/x-www-form-urlencoded') },
      )
  }
  const hostile = fc.record({
    prefix: fc.constantFrom<Case['prefix']>('/1.0', '/1.0', '/1.0', '/1.0', '/v1'),
    params: fc.record(params) as fc.Arbitrary<Record<string, string>>,
    query,
    body: payload,
    auth: fc.constantFrom<Case['auth']>(...Array<'ok'>(14).fill('ok'), 'none', 'none', 'bad', 'bad'),
    variant: fc.nat(1000),
    ip: fc.oneof(fc.constant('127.0.0.1'), fc.ipV4(), fc.ipV6()),
  })
  if (op.auth === 'http2sms') {
    // A quarter of the cases send a plausible SMS as the seeded user.
    const valid = fc.record(
      {
        account: fc.constant(SERVICE),
        login: fc.constant(LOGIN),
        password: fc.constant(PASSWORD),
        from: fc.constant(SENDER),
        to: phone,
        message: fc.string({ minLength: 1, maxLength: 60 }),
        contentType: fc.constantFrom('text/plain', 'text/html', 'text/xml', 'application/json'),
        tag: fc.constantFrom('promo', ''),
      },
      { requiredKeys: ['account', 'login', 'password', 'from', 'to', 'message'] },
    )
    const plausible = fc.record({
      prefix: fc.constant<Case['prefix']>('/1.0'),
      params: fc.constant({}),
      query: op.method === 'GET' ? valid.map(formEncode) : fc.constant(''),
      body:
        op.method === 'GET'
          ? fc.constant<Body>(undefined)
          : valid.map(
              (p): Body => ({ text: formEncode(p), contentType: 'application/x-www-form-urlencoded' }),
            ),
      auth: fc.constant<Case['auth']>('ok'),
      variant: fc.constant(0),
      ip: fc.ipV4(),
    })
    return fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: plausible })
  }
  // A quarter of the cases aim at the seeded rows, half of them with a schema-valid body, so that
  // handlers run on real rows and successful calls (which may change data) happen too.
  const primary = Object.fromEntries(
    op.params
      .filter((p) => p.in === 'path')
      .map((p) => [
        p.name,
        (PRIMARY[p.name] ?? fromSchema(p.schema, p.name, false)).map((v) => encode(asText(v))),
      ]),
  )
  const plausible = fc.record({
    prefix: fc.constantFrom<Case['prefix']>('/1.0', '/v1'),
    params: fc.record(primary) as fc.Arbitrary<Record<string, string>>,
    query: queryString(op.params.filter((p) => p.in === 'query')),
    body: op.body
      ? fc
          .oneof(fromSchema(op.body, undefined, false), fromSchema(op.body, undefined, true))
          .map(
            (v): Body =>
              op.bodyType === 'application/x-www-form-urlencoded'
                ? { text: formEncode(v), contentType: op.bodyType }
                : { text: JSON.stringify(v), contentType: 'application/json' },
          )
      : fc.constant<Body>(undefined),
    auth: fc.constant<Case['auth']>('ok'),
    variant: fc.constant(0),
    ip: fc.constant('127.0.0.1'),
  })
  return fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 1, arbitrary: plausible })
}

// ---------------------------------------------------------------------------------------------
// Sending a case and judging the answer
// ---------------------------------------------------------------------------------------------

/** Content types the app reads with its raw JSON parser: the OVH signature covers their bytes. */
const readAsJson = (contentType: string | undefined) =>
  contentType === undefined || /^application\/json\s*(;|$)/i.test(contentType.trim())

function authHeaders(op: Op, c: Case, url: string, signedBody: string): Record<string, string> {
  switch (op.auth) {
    case 'ovh':
    case 'logout': {
      if (c.auth === 'none') return {}
      const signing: Keys = op.auth === 'logout' ? seed.logoutKeys : keys
      // The app signs what it receives: the URL as WHATWG URL normalizes it.
      const parsed = new URL(url, 'http://localhost')
      const seen = `${parsed.pathname}${parsed.search}`
      const now = Math.floor(clock.now().getTime() / 1000)
      if (c.auth === 'ok') return signedHeaders(signing, op.method, seen, signedBody, now)
      const headers = signedHeaders(signing, op.method, seen, signedBody, now)
      // Each way a signed request can be wrong, and headers no client would send.
      const wrong: Record<string, string>[] = [
        signedHeaders({ ...signing, applicationSecret: 'not-the-secret' }, op.method, seen, signedBody, now),
        { ...headers, 'x-ovh-timestamp': String(now - 3600) },
        { ...headers, 'x-ovh-timestamp': 'NaN' },
        { ...headers, 'x-ovh-timestamp': '1'.repeat(400) },
        { ...headers, 'x-ovh-consumer': 'x'.repeat(8_000) },
        { ...headers, 'x-ovh-application': 'unknown-app' },
        { ...headers, 'x-ovh-signature': '$1$' },
        { ...headers, 'x-ovh-consumer': seed.pendingConsumerKey },
        { ...headers, authorization: 'Bearer not-a-token' },
        { ...headers, host: 'evil.example.com' },
      ]
      return wrong[c.variant % wrong.length] as Record<string, string>
    }
    case 'admin': {
      if (c.auth === 'ok') return { authorization: `Bearer ${ADMIN_TOKEN}` }
      const wrong = [
        `Bearer ${ADMIN_TOKEN}x`,
        `Bearer ${ADMIN_TOKEN.slice(1)}`,
        `bearer ${ADMIN_TOKEN}`,
        'Bearer ',
        'Basic Og==',
      ]
      return c.auth === 'bad' ? { authorization: wrong[c.variant % wrong.length] as string } : {}
    }
    case 'oauth':
      return c.auth === 'ok' && c.ip.includes('.')
        ? {
            authorization: `Basic ${Buffer.from(`${encode(seed.clientId)}:${encode(seed.clientSecret)}`).toString('base64')}`,
          }
        : c.auth === 'bad'
          ? {
              authorization: [
                'Basic !!!not-base64:',
                `Basic ${Buffer.from('no-colon').toString('base64')}`,
                `Basic ${Buffer.from('%E0%A4%A:%zz').toString('base64')}`,
                `Basic ${Buffer.from(`${seed.clientId}:wrong`).toString('base64')}`,
                'Bearer x',
              ][c.variant % 5] as string,
            }
          : {}
    default:
      // POST /auth/credential needs only X-Ovh-Application.
      return c.auth === 'ok'
        ? { 'x-ovh-application': keys.applicationKey }
        : c.auth === 'bad'
          ? { authorization: 'Bearer nonsense', 'x-ovh-application': 'x' }
          : {}
  }
}

function requestOf(op: Op, c: Case) {
  let path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => c.params[name] ?? '')
  if (op.path.startsWith('/1.0/') && c.prefix === '/v1') path = `/v1${path.slice(4)}`
  const url = c.query === '' ? path : `${path}?${c.query}`
  const text = c.body?.text
  const signedBody =
    text !== undefined && readAsJson(c.body?.contentType)
      ? typeof text === 'string'
        ? text
        : text.toString('utf8')
      : ''
  const headers: Record<string, string> = {
    ...(c.body?.contentType === undefined ? {} : { 'content-type': c.body.contentType }),
    ...authHeaders(op, c, url, signedBody),
  }
  return {
    method: op.method,
    url,
    headers,
    ...(text === undefined ? {} : { payload: text }),
    remoteAddress: c.ip,
  }
}

const cut = (text: string, max = 300) =>
  text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text
function describe(request: ReturnType<typeof requestOf>): string {
  const payload = request.payload
  const shown =
    payload === undefined ? '' : typeof payload === 'string' ? payload : `<bytes ${payload.toString('hex')}>`
  return `${request.method} ${cut(request.url)} headers=${cut(JSON.stringify(request.headers), 400)} body=${cut(JSON.stringify(shown))}`
}

/** Throws what is wrong with the answer; tells whether the request was accepted (may change data). */
function judge(op: Op, response: LightMyRequestResponse): 'accepted' | 'rejected' {
  const status = response.statusCode
  if (status >= 500) throw new Error(`answered ${status}: ${cut(response.body)}`)
  if (status >= 400) {
    if (!String(response.headers['content-type']).startsWith('application/json'))
      throw new Error(`${status} is not JSON: ${response.headers['content-type']} ${cut(response.body)}`)
    const body = JSON.parse(response.body) as Record<string, unknown>
    // RFC 6749 §5.2: the token endpoint's errors are { error, error_description }.
    const message = op.auth === 'oauth' && 'error' in body ? body.error_description : body.message
    if (typeof message !== 'string' || message.trim() === '')
      throw new Error(`${status} without a message: ${cut(response.body)}`)
    return 'rejected'
  }
  if (status >= 300) throw new Error(`unexpected ${status}`)
  if (op.auth !== 'http2sms') return 'accepted'
  // http2sms answers 200 whatever happened; the outcome is in the body, in the format asked for.
  const text = response.body
  const type = String(response.headers['content-type'])
  let ok: boolean
  let message: string
  if (type.includes('json')) {
    const parsed = JSON.parse(text) as { status: number; message?: string }
    ok = parsed.status === 100
    message = parsed.message ?? ''
  } else if (type.includes('xml') && !type.includes('html')) {
    ok = text.includes('<status>100</status>')
    message = /<message>([^<]*)<\/message>/.exec(text)?.[1] ?? ''
  } else if (type.includes('html')) {
    ok = text.includes('<BODY>OK')
    message = /<BODY>KO<br>(.*)<\/BODY>/s.exec(text)?.[1] ?? ''
  } else {
    ok = text.startsWith('OK\n')
    message = text.startsWith('KO\n') ? text.slice(3) : ''
  }
  if (!ok && message.trim() === '') throw new Error(`http2sms KO without a message: ${cut(text)}`)
  return ok ? 'accepted' : 'rejected'
}

// ---------------------------------------------------------------------------------------------
// The drill
// ---------------------------------------------------------------------------------------------

t.test('the snapshot sees a changed row, and only a changed row', async (t) => {
  t.ok(
    ['accounts', 'sms_users', 'credit_ledger', 'outgoing', 'senders', 'callback_deliveries'].every((table) =>
      TABLES.includes(table),
    ),
    `watches ${TABLES.length} tables`,
  )
  const before = await snapshot()
  t.same(changedTables(before, await snapshot()), [], 'stable when nothing changes')
  const { description } = await db
    .selectFrom('accounts')
    .select('description')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow()
  await db
    .updateTable('accounts')
    .set({ description: `${description}!` })
    .where('id', '=', accountId)
    .execute()
  t.same(changedTables(before, await snapshot()), ['accounts'], 'one column of one row')
  await db.updateTable('accounts').set({ description }).where('id', '=', accountId).execute()
  t.same(changedTables(before, await snapshot()), [], 'back as it was')
})

const started = Date.now()
t.comment(`seeded after ${process.uptime().toFixed(1)} s of process time`)
let totalCases = 0
// Taken when the first operation's subtest starts: the snapshot subtest above is queued, not
// awaited, and changes a row while it runs, so a snapshot taken here would race it.
let current: Snapshot | undefined

for (const [index, op] of operations.entries()) {
  if (!runsOperation(index)) continue
  const numRuns = Math.max(
    10,
    Math.round(
      RUNS *
        (op.body || op.auth === 'http2sms' ? 2 : 1) *
        (op.params.some((p) => p.in === 'path' || p.in === 'query') || op.body ? 1 : 0.5),
    ),
  )
  await t.test(`${op.method} ${op.path}`, async (t) => {
    current ??= await snapshot()
    const statuses = new Map<string, number>()
    let last = ''
    const property = fc.asyncProperty(caseFor(op), async (c) => {
      const request = requestOf(op, c)
      last = describe(request)
      const response = await app.inject(request)
      totalCases++
      if (DEBUG && `${op.method} ${op.path}`.includes(DEBUG))
        t.comment(`${response.statusCode} ${cut(response.body, 200)} ← ${cut(last, 300)}`)
      const key = String(response.statusCode)
      statuses.set(key, (statuses.get(key) ?? 0) + 1)
      const outcome = judge(op, response)
      const after = await snapshot()
      if (outcome === 'rejected') {
        // The http2sms lockout records the attempts it refuses: that row is the point, not a leak.
        const changed = changedTables(current ?? after, after).filter(
          (table) => !(op.auth === 'http2sms' && table === 'http2sms_guard'),
        )
        current = after
        if (changed.length > 0)
          throw new Error(
            `rejected (${response.statusCode} ${cut(response.body)}) yet changed ${changed.join(', ')}`,
          )
      } else {
        await ensureSeed(op)
        current = await snapshot()
      }
    })
    const result = await fc.check(property, { seed: SEED + index, numRuns, endOnFailure: true })
    if (result.failed) {
      t.fail(`${(result.errorInstance as Error | undefined)?.message ?? 'failed'}\n  request: ${last}`, {
        seed: SEED + index,
        path: result.counterexamplePath,
      })
      current = await snapshot()
    } else {
      t.pass(`${numRuns} cases`)
    }
    const histogram = [...statuses].sort().map(([status, n]) => `${status}×${n}`)
    t.comment(histogram.join(' '))
    if (op.auth === 'ovh' || op.auth === 'admin' || op.auth === 'logout')
      t.ok(
        [...statuses.keys()].some((s) => s !== '401' && s !== '403'),
        'some cases got past authentication',
      )
    t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'still healthy')
  })
}

// ---------------------------------------------------------------------------------------------
// Narrow access rules: nothing outside them succeeds, everything inside them is granted
// ---------------------------------------------------------------------------------------------

/** The operations access rules guard: signed, and not one of those a key may always call on itself. */
const guardedOps = operations.filter(
  (op) => op.auth === 'ovh' && op.path.startsWith('/1.0/') && !op.path.endsWith('/auth/currentCredential'),
)
/** Decoded parameter values; rules name some of them, requests send them percent-encoded. */
const valuePool = (name: string): string[] =>
  ({
    serviceName: [SERVICE, SERVICE2, OTHER],
    login: [LOGIN, 'nobody99'],
    sender: [SENDER, WAITING],
    number: [STOPPED, '+33601020304'],
    id: seed.ids.slice(0, 2).map(String),
    clientId: [seed.clientId],
  })[name] ?? [`${name}1`]
/** Values no rule names: a decoded `/`, `#`, `;`, `%`, `*`, another case. */
const ODD_VALUES = ['a/b', `${LOGIN}#`, `${LOGIN};x`, '50%', '*', SERVICE.toUpperCase()]
/** A parameter written as a path segment (README "Access rules"): percent-encoded, `+ : @ = , ; $ &` kept. */
const KEPT_IN_SEGMENT = new Set([...'+:@=,;$&'])
const asSegment = (value: string) =>
  [...value].map((c) => (KEPT_IN_SEGMENT.has(c) ? c : encodeURIComponent(c))).join('')
const fill = (template: string, values: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '')
const ruleMatches = (pattern: string, path: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(path)
const paramNames = (template: string) =>
  [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string)

type GuardedOp = (typeof guardedOps)[number]
/** A rule drawn from an operation: each parameter one of the pooled values or `*`, then a suffix. */
type RuleDraw = { op: GuardedOp; method: Method; picks: Record<string, string | null>; suffix: string }
const ruleDraw: fc.Arbitrary<RuleDraw> = fc
  .tuple(fc.constantFrom(...guardedOps), fc.constantFrom<Method>('GET', 'POST', 'PUT', 'DELETE'), fc.nat(3))
  .chain(([op, otherMethod, sameOrOther]) =>
    fc.record({
      op: fc.constant(op),
      method: fc.constant(sameOrOther === 0 ? otherMethod : op.method),
      picks: fc.record(
        Object.fromEntries(
          paramNames(op.path).map((name) => [
            name,
            fc.oneof(fc.constantFrom(...valuePool(name)), fc.constant(null)),
          ]),
        ),
      ) as fc.Arbitrary<Record<string, string | null>>,
      suffix: fc.constantFrom('', '', '/*', '*'),
    }),
  )
const ruleOf = ({ op, method, picks, suffix }: RuleDraw) => ({
  method,
  path: `${fill(
    op.path.slice('/1.0'.length),
    Object.fromEntries(Object.entries(picks).map(([name, v]) => [name, v === null ? '*' : asSegment(v)])),
  )}${suffix}`,
})
/** A request for `op`; parameters a draw names take its values, the others come from the pools. */
const requestFor = (op: GuardedOp, picks: Record<string, string | null> = {}) =>
  fc.record({
    op: fc.constant(op),
    values: fc.record(
      Object.fromEntries(
        paramNames(op.path).map((name) => {
          const pick = picks[name]
          return [
            name,
            typeof pick === 'string'
              ? fc.constant(pick)
              : fc.oneof(
                  { weight: 4, arbitrary: fc.constantFrom(...valuePool(name)) },
                  { weight: 1, arbitrary: fc.constantFrom(...ODD_VALUES) },
                ),
          ]
        }),
      ),
    ) as fc.Arbitrary<Record<string, string>>,
    prefix: fc.constantFrom('/1.0', '/v1'),
    trailingSlash: fc.boolean(),
    body: op.body ? fromSchema(op.body, undefined, false).map((v) => JSON.stringify(v)) : fc.constant(''),
  })
/** Half the requests aim at the first rule's operation, so that both sides of the rules are hit. */
const rulesAndRequest = fc.array(ruleDraw, { minLength: 1, maxLength: 3 }).chain((draws) =>
  fc.tuple(
    fc.constant(draws.map(ruleOf)),
    fc.oneof(
      fc.constantFrom(...guardedOps).chain((op) => requestFor(op)),
      requestFor((draws[0] as RuleDraw).op, (draws[0] as RuleDraw).picks),
    ),
  ),
)

t.test(
  'with narrow access rules, nothing outside them succeeds and nothing inside is refused',
  { skip: runsRules ? false : 'in test/fuzz/access-rules.test.ts' },
  async (t) => {
    t.ok(guardedOps.length >= 40, `${guardedOps.length} guarded operations`)
    let granted = 0
    let refused = 0
    let last = ''
    const property = fc.asyncProperty(
      rulesAndRequest,
      async ([rules, { op, values, prefix, trailingSlash, body }]) => {
        const narrowKeys = await createKeys(app, ownerId, rules)
        const path = `${prefix}${fill(op.path.slice('/1.0'.length), Object.fromEntries(Object.entries(values).map(([k, v]) => [k, encode(v)])))}${trailingSlash ? '/' : ''}`
        const routedPath = fill(
          op.path.slice('/1.0'.length),
          Object.fromEntries(Object.entries(values).map(([k, v]) => [k, asSegment(v)])),
        )
        const inside = rules.some((rule) => rule.method === op.method && ruleMatches(rule.path, routedPath))
        const now = Math.floor(clock.now().getTime() / 1000)
        const headers = signedHeaders(narrowKeys, op.method, path, body, now)
        if (body !== '') headers['content-type'] = 'application/json'
        last = `${op.method} ${path} ${body} under ${JSON.stringify(rules)} (${inside ? 'inside' : 'outside'})`
        const before = await snapshot()
        const response = await app.inject({
          method: op.method,
          url: path,
          headers,
          ...(body === '' ? {} : { payload: body }),
        })
        const status = response.statusCode
        const notGranted = status === 403 && response.body.includes('NOT_GRANTED_CALL')
        if (status >= 500) throw new Error(`answered ${status}: ${cut(response.body)}`)
        if (inside) {
          if (notGranted) throw new Error('refused although the rules cover it')
          granted++
        } else {
          if (status < 400) throw new Error(`answered ${status} outside the rules: ${cut(response.body)}`)
          const changed = changedTables(before, await snapshot())
          if (changed.length > 0) throw new Error(`refused (${status}) yet changed ${changed.join(', ')}`)
          refused++
        }
        if (status < 400) await ensureSeed(op)
      },
    )
    const result = await fc.check(property, { seed: SEED - 1, numRuns: RUNS * 3, endOnFailure: true })
    if (result.failed)
      t.fail(`${(result.errorInstance as Error | undefined)?.message ?? 'failed'}\n  request: ${last}`, {
        seed: SEED - 1,
        path: result.counterexamplePath,
      })
    else t.pass(`${RUNS * 3} cases`)
    t.comment(`${granted} inside the rules, ${refused} outside`)
    t.ok(granted > 0 && refused > 0, 'cases on both sides of the rules')
    current = await snapshot()
  },
)

t.test('the app is alive and its books balance after the drill', async (t) => {
  t.comment(
    `${totalCases} cases over ${operations.filter((_, i) => runsOperation(i)).length} operations in ${Math.round((Date.now() - started) / 1000)} s (process ${process.uptime().toFixed(1)} s)`,
  )
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
  t.equal((await call(app, 'GET', base)).status, 200, 'a signed read answers')
  t.equal(
    (await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/ledger`)).status,
    200,
    'an admin read answers',
  )
  const accounts = await sql<{ service_name: string; credits_left: string; ledger: string }>`
    select a.service_name, a.credits_left, coalesce(sum(l.account_delta), 0) as ledger
    from accounts a left join credit_ledger l on l.account_id = a.id
    group by a.id, a.service_name, a.credits_left`.execute(db)
  for (const row of accounts.rows)
    t.equal(
      Number(row.credits_left),
      Number(row.ledger),
      `${row.service_name}: credits_left is the ledger's sum`,
    )
  const users = await sql<{ login: string; quota_left: string; ledger: string }>`
    select u.login, u.quota_left, coalesce(sum(l.quota_delta), 0) as ledger
    from sms_users u left join credit_ledger l on l.account_id = u.account_id and l.login = u.login
    group by u.account_id, u.login, u.quota_left`.execute(db)
  for (const row of users.rows)
    t.equal(Number(row.quota_left), Number(row.ledger), `${row.login}: quota_left is the ledger's sum`)
})
