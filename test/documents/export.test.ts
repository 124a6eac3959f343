/**
 * History export: GET {S}[/users/{login}]/document answers a document id; GET /me/document/{id}
 * (owner-scoped) gives the getUrl that downloads the CSV, filtered as asked, without credentials.
 */
import { sql } from 'kysely'
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { buildTestApp, call, createKeys, SERVICE } from '../helpers.js'
import { ALL_RULES } from '../support/signing.js'

const { app, deps, clock } = await buildTestApp(t)
const { db } = deps.database
const account = `/1.0/sms/${SERVICE}`
const BATCH = '11111111-2222-4333-8444-555555555555'

await call(app, 'POST', `${account}/users`, { login: 'alice01', password: 'abcd1234' })
const accountId = (
  await db.selectFrom('accounts').select('id').where('service_name', '=', SERVICE).executeTakeFirstOrThrow()
).id
// Six outgoing rows: 1-3 alice01's (tag a, the batch), 4-5 the account's (tag b), 6 cancelled.
await sql`
  insert into outgoing (account_id, login, batch_id, sender, receiver, message, message_length,
    number_of_sms, coding, credits, spend_source, tag, send_at, created_at, state, ptt, delivery_receipt,
    sent_at, delivered_at)
  select ${accountId}, case when n <= 3 then 'alice01' else null end,
    case when n <= 3 then ${BATCH}::uuid else '99999999-2222-4333-8444-555555555555'::uuid end,
    'ACME', '+3360102030' || n, 'hello; "world" ' || n, 10, 1, '7bits', 100, 'account',
    case when n <= 3 then 'a' else 'b' end, ('2026-01-0' || n || ' 10:00:00+00')::timestamptz,
    ('2026-01-0' || n || ' 10:00:00+00')::timestamptz, case when n = 6 then 'cancelled' else 'final' end,
    13, 1, ('2026-01-0' || n || ' 10:00:05+00')::timestamptz, ('2026-01-0' || n || ' 10:00:09+00')::timestamptz
  from generate_series(1, 6) as n`.execute(db)
await db
  .insertInto('incoming')
  .values([
    {
      account_id: accountId,
      login: 'alice01',
      sender: '+33601020399',
      message: 'yes',
      tag: 't',
      created_at: new Date('2026-01-02T08:00:00Z'),
    },
    {
      account_id: accountId,
      login: null,
      sender: '+33601020398',
      message: 'no',
      created_at: new Date('2026-01-03T08:00:00Z'),
    },
  ])
  .execute()

/** Asks for an export, reads its document, downloads its getUrl: the CSV lines. */
async function exportLines(path: string) {
  const asked = await call(app, 'GET', path)
  t.equal(asked.status, 200, `${path}: ${JSON.stringify(asked.body)}`)
  t.type(asked.body, 'string')
  const doc = await call(app, 'GET', `/1.0/me/document/${asked.body}`)
  t.equal(doc.status, 200)
  const url = new URL(doc.body.getUrl)
  const file = await app.inject({ method: 'GET', url: url.pathname + url.search })
  t.equal(file.statusCode, 200)
  t.match(file.headers['content-type'], /^text\/csv/)
  return { id: asked.body as string, doc: doc.body, lines: file.body.trimEnd().split('\n') }
}

t.test('outgoing, account level: OVH columns, every non-cancelled row, quoted texts', async (t) => {
  const { lines, doc, id } = await exportLines(`${account}/document?wayType=outgoing`)
  t.equal(lines[0], 'id;date;sender;receiver;ptt;operatorCode;descriptionDlr;tag;message;sentAt;deliveredAt')
  t.equal(lines.length, 6, 'header + 5 rows (the cancelled one left out)')
  t.equal(
    lines[1],
    '1;2026-01-01 10:00:00;ACME;+33601020301;13;;Success;a;"hello; ""world"" 1";2026-01-01 10:00:05;2026-01-01 10:00:09',
  )
  t.same(Object.keys(doc).sort(), [
    'creationDate',
    'expirationDate',
    'getUrl',
    'id',
    'name',
    'putUrl',
    'size',
    'tags',
    'validationDate',
  ])
  t.equal(doc.id, id)
  const after = await call(app, 'GET', `/1.0/me/document/${id}`)
  t.equal(after.body.size, Buffer.byteLength(`${lines.join('\n')}\n`), 'size known once downloaded')
})

t.test('filters: user level, tag, dates, batchID; incoming', async (t) => {
  const user = await exportLines(`${account}/users/alice01/document?wayType=outgoing`)
  t.same(
    user.lines.slice(1).map((line) => line.split(';')[0]),
    ['1', '2', '3'],
  )
  const tag = await exportLines(`${account}/document?wayType=outgoing&tag=b`)
  t.same(
    tag.lines.slice(1).map((line) => line.split(';')[0]),
    ['4', '5'],
  )
  const dates = await exportLines(
    `${account}/document?wayType=outgoing&creationDatetime.from=2026-01-02T00:00:00Z&creationDatetime.to=2026-01-04T10:00:00Z`,
  )
  t.same(
    dates.lines.slice(1).map((line) => line.split(';')[0]),
    ['2', '3', '4'],
  )
  const batch = await exportLines(`${account}/document?wayType=outgoing&batchID=${BATCH}`)
  t.same(
    batch.lines.slice(1).map((line) => line.split(';')[0]),
    ['1', '2', '3'],
  )
  const incoming = await exportLines(`${account}/document?wayType=incoming`)
  t.same(incoming.lines, [
    'id;date;sender;tag;message;credits',
    '1;2026-01-02 08:00:00;+33601020399;t;yes;0',
    '2;2026-01-03 08:00:00;+33601020398;;no;0',
  ])
  const userIncoming = await exportLines(`${account}/users/alice01/document?wayType=incoming`)
  t.equal(userIncoming.lines.length, 2)
})

t.test('rows written after the request are not in its document', async (t) => {
  const asked = await call(app, 'GET', `${account}/document?wayType=incoming`)
  await db
    .insertInto('incoming')
    .values({
      account_id: accountId,
      login: null,
      sender: '+33601020397',
      message: 'late',
      created_at: new Date(),
    })
    .execute()
  const doc = await call(app, 'GET', `/1.0/me/document/${asked.body}`)
  const url = new URL(doc.body.getUrl)
  const file = await app.inject({ method: 'GET', url: url.pathname + url.search })
  t.notMatch(file.body, /late/)
})

t.test('bad input is a 4xx saying what to fix', async (t) => {
  const cases: [string, number, RegExp][] = [
    [`${account}/document`, 400, /wayType/],
    [`${account}/document?wayType=sideways`, 400, /wayType/],
    [`${account}/document?wayType=outgoing&creationDatetime.from=yesterday`, 400, /creationDatetime\.from/],
    [
      `${account}/document?wayType=outgoing&creationDatetime.from=2026-02-01T00:00:00Z&creationDatetime.to=2026-01-01T00:00:00Z`,
      400,
      /after creationDatetime\.to/,
    ],
    [`${account}/document?wayType=incoming&batchID=${BATCH}`, 400, /outgoing SMS only/],
    [`${account}/document?wayType=outgoing&batchID=nope`, 400, /batchID/],
    [`${account}/users/nobody01/document?wayType=outgoing`, 404, /nobody01/],
    [`/1.0/sms/sms-zz99999-1/document?wayType=outgoing`, 404, /./],
    ['/1.0/me/document/00000000-0000-4000-8000-000000000000', 404, /does not exist/],
    ['/1.0/me/document/no-such-id', 400, /uuid/],
  ]
  for (const [path, status, message] of cases) {
    const answer = await call(app, 'GET', path)
    t.equal(answer.status, status, path)
    t.match(answer.body.message, message, path)
  }
})

t.test('owner-scoped: another owner gets 404; the getUrl needs its exact token', async (t) => {
  const { id, doc } = await exportLines(`${account}/document?wayType=outgoing`)
  const other = await createOwner(db, 'other')
  await createAccount(db, { ownerId: other.id, serviceName: 'sms-zz11111-1', credits: 1 })
  const otherKeys = await createKeys(app, other.id, ALL_RULES)
  const foreign = await call(app, 'GET', `/1.0/me/document/${id}`, undefined, otherKeys)
  t.equal(foreign.status, 404)
  const theirs = await call(app, 'GET', `${account}/document?wayType=outgoing`, undefined, otherKeys)
  t.equal(theirs.status, 404, 'nor may they export our account')
  const unsigned = await call(app, 'GET', `/1.0/me/document/${id}`, undefined, null)
  t.equal(unsigned.status, 401)
  const url = new URL(doc.getUrl)
  for (const search of ['', '?token=wrong', `?token=${url.searchParams.get('token')}x`]) {
    const file = await app.inject({ method: 'GET', url: url.pathname + search })
    t.ok(file.statusCode === 400 || file.statusCode === 404, `${search || 'no token'}: ${file.statusCode}`)
  }
  t.ok((url.searchParams.get('token') ?? '').length >= 43, 'a 256-bit token')
})

t.test('an expired document is gone', async (t) => {
  const { doc } = await exportLines(`${account}/document?wayType=outgoing`)
  clock.advance(25 * 3600 * 1000)
  const url = new URL(doc.getUrl)
  const file = await app.inject({ method: 'GET', url: url.pathname + url.search })
  t.equal(file.statusCode, 404)
  t.match(JSON.parse(file.body).message, /expired/)
})
