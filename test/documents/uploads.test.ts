/**
 * Uploaded documents: POST /me/document answers OVH's nichandle.document.Document with a putUrl that
 * takes the file (at most 1 MiB); the id then creates a receiver list (account and user level).
 * Sender documents ({S}/senders/{sender}/documents) are the same documents, read by the operator.
 */
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { MAX_UPLOAD_BYTES } from '../../src/documents/service.js'
import { admin, buildTestApp, call, createKeys, SERVICE } from '../helpers.js'
import { ALL_RULES } from '../support/signing.js'

const { app, clock } = await buildTestApp(t)
const S = `/1.0/sms/${SERVICE}`

/**
 * The fields of nichandle.document.Document in OVH's /1.0/me.json, as copied in UrielCh/api-ovh-node
 * (code/gen/models/ovh-api/me.ts, "imported from https://eu.api.ovh.com:443/1.0/me.json"), with
 * their readOnly flag and whether they can be null.
 */
const OVH_DOCUMENT = {
  creationDate: { readOnly: true, canBeNull: false, type: 'date-time' },
  expirationDate: { readOnly: false, canBeNull: true, type: 'date-time' },
  getUrl: { readOnly: true, canBeNull: false, type: 'string' },
  id: { readOnly: true, canBeNull: false, type: 'uuid' },
  name: { readOnly: true, canBeNull: false, type: 'string' },
  putUrl: { readOnly: true, canBeNull: false, type: 'string' },
  size: { readOnly: true, canBeNull: false, type: 'integer' },
  tags: { readOnly: true, canBeNull: false, type: 'array' },
  validationDate: { readOnly: true, canBeNull: true, type: 'date-time' },
} as const

/** PUT of a file to a putUrl (no credentials, as OVH's object storage URL). */
async function put(putUrl: string, body: string | Buffer, contentType = 'text/csv') {
  const url = new URL(putUrl)
  return app.inject({
    method: 'PUT',
    url: url.pathname + url.search,
    headers: { 'content-type': contentType },
    payload: body,
  })
}
async function get(getUrl: string) {
  const url = new URL(getUrl)
  return app.inject({ method: 'GET', url: url.pathname + url.search })
}

t.test('the served model is OVH’s /me one', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json().components.schemas[
    'nichandle.document.Document'
  ]
  t.same(Object.keys(doc.properties).sort(), Object.keys(OVH_DOCUMENT).sort())
  for (const [name, ovh] of Object.entries(OVH_DOCUMENT)) {
    const ours = doc.properties[name]
    t.equal(ours.readOnly === true, ovh.readOnly, `${name} readOnly`)
    const text = JSON.stringify(ours)
    t.equal(text.includes('"null"'), ovh.canBeNull, `${name} canBeNull`)
    if (ovh.type === 'date-time' || ovh.type === 'uuid') t.match(text, `"format":"${ovh.type}"`, name)
    else t.match(text, `"type":"${ovh.type}"`, name)
  }
})

t.test('POST /me/document → putUrl takes the file → getUrl gives it back', async (t) => {
  const created = await call(app, 'POST', '/1.0/me/document', {
    name: 'numbers.csv',
    tags: [{ key: 'kind', value: 'receivers' }],
  })
  t.equal(created.status, 200, JSON.stringify(created.body))
  const doc = created.body
  t.same(Object.keys(doc).sort(), Object.keys(OVH_DOCUMENT).sort())
  t.match(doc, {
    name: 'numbers.csv',
    size: 0,
    tags: [{ key: 'kind', value: 'receivers' }],
    validationDate: null,
    id: /^[0-9a-f-]{36}$/,
  })
  t.equal(Date.parse(doc.expirationDate) - Date.parse(doc.creationDate), 30 * 24 * 3600 * 1000)
  t.not(new URL(doc.putUrl).searchParams.get('token'), new URL(doc.getUrl).searchParams.get('token'))
  t.equal((await get(doc.getUrl)).statusCode, 404, 'nothing to download before the upload')

  const csv = 'number\n+33601020304\n+33601020305\n'
  const uploaded = await put(doc.putUrl, csv)
  t.equal(uploaded.statusCode, 201)
  const file = await get(doc.getUrl)
  t.equal(file.statusCode, 200)
  t.equal(file.body, csv)
  t.equal(file.headers['content-type'], 'text/csv')
  t.equal((await call(app, 'GET', `/1.0/me/document/${doc.id}`)).body.size, Buffer.byteLength(csv))
  t.ok((await call(app, 'GET', '/1.0/me/document')).body.includes(doc.id), 'listed')

  // The getUrl only reads: its token does not open the putUrl.
  const getToken = new URL(doc.getUrl).searchParams.get('token')
  const wrongWay = await put(`${doc.putUrl.split('?')[0]}?token=${getToken}`, 'x')
  t.equal(wrongWay.statusCode, 404)

  const json = await put(doc.putUrl, '{"a":1}', 'application/json')
  t.equal(json.statusCode, 201, 'a JSON file is a file, not a body to parse')
  t.equal((await get(doc.getUrl)).body, '{"a":1}', 'the last upload wins')
})

t.test('bad uploads are 4xx saying what to fix', async (t) => {
  const doc = (await call(app, 'POST', '/1.0/me/document', { name: 'big.csv' })).body
  const big = await put(doc.putUrl, Buffer.alloc(MAX_UPLOAD_BYTES + 1, 0x31))
  t.equal(big.statusCode, 413)
  t.match(big.json().message, /larger than/)
  const empty = await put(doc.putUrl, '')
  t.equal(empty.statusCode, 400)
  t.match(empty.json().message, /empty/)
  const noName = await call(app, 'POST', '/1.0/me/document', { name: '' })
  t.equal(noName.status, 400)
  t.match(noName.body.message, /name/)
  const twice = await call(app, 'POST', '/1.0/me/document', {
    name: 'a',
    tags: [
      { key: 'k', value: '1' },
      { key: 'k', value: '2' },
    ],
  })
  t.equal(twice.status, 400)
  t.match(twice.body.message, /"k" is given twice/)
})

t.test('documentId creates receiver lists at account and user level', async (t) => {
  const doc = (await call(app, 'POST', '/1.0/me/document', { name: 'list.csv' })).body
  const notYet = await call(app, 'POST', `${S}/receivers`, {
    slotId: 1,
    description: 'x',
    autoUpdate: false,
    documentId: doc.id,
  })
  t.equal(notYet.status, 400)
  t.match(notYet.body.message, /nothing was uploaded to the putUrl/)

  await put(doc.putUrl, 'tel;name\n+33601020304;Ann\n+33601020305;Bob\nnot-a-number;Cy\n')
  const account = await call(app, 'POST', `${S}/receivers`, {
    slotId: 1,
    description: 'from a document',
    autoUpdate: false,
    documentId: doc.id,
  })
  t.equal(account.status, 200, JSON.stringify(account.body))
  t.match(account.body, { slotId: 1, records: 3, canAutoUpdate: false })
  t.same((await call(app, 'GET', `${S}/receivers/1/csv`)).body, '+33601020304\n+33601020305\nnot-a-number')

  await call(app, 'POST', `${S}/users`, { login: 'alice01', password: 'abcd1234' })
  const user = await call(app, 'POST', `${S}/users/alice01/receivers`, {
    slotId: 2,
    description: 'alice’s',
    autoUpdate: false,
    documentId: doc.id,
  })
  t.equal(user.status, 200)
  t.same((await call(app, 'GET', `${S}/users/alice01/receivers`)).body, [2])

  const bad = await call(app, 'POST', `${S}/receivers`, {
    slotId: 3,
    description: 'x',
    autoUpdate: false,
    documentId: '00000000-0000-4000-8000-000000000000',
  })
  t.equal(bad.status, 400)
  t.match(bad.body.message, /is not one of your documents/)

  const broken = (await call(app, 'POST', '/1.0/me/document', { name: 'broken.csv' })).body
  await put(broken.putUrl, 'number\n"+3360102\n')
  const parsed = await call(app, 'POST', `${S}/receivers`, {
    slotId: 4,
    description: 'x',
    autoUpdate: false,
    documentId: broken.id,
  })
  t.equal(parsed.status, 400)
  t.match(parsed.body.message, /^Invalid CSV at line \d+/)
})

t.test('documents are the owner’s: another owner gets 404, cannot use the id; expiry; delete', async (t) => {
  const doc = (await call(app, 'POST', '/1.0/me/document', { name: 'mine.csv' })).body
  await put(doc.putUrl, '+33601020304\n')
  const other = await createOwner(app.db, 'other')
  await createAccount(app.db, { ownerId: other.id, serviceName: 'sms-zz11111-1', credits: 1 })
  const keys = await createKeys(app, other.id, ALL_RULES)
  t.equal((await call(app, 'GET', `/1.0/me/document/${doc.id}`, undefined, keys)).status, 404)
  t.same((await call(app, 'GET', '/1.0/me/document', undefined, keys)).body, [])
  t.equal((await call(app, 'DELETE', `/1.0/me/document/${doc.id}`, undefined, keys)).status, 404)
  const theirs = await call(
    app,
    'POST',
    '/1.0/sms/sms-zz11111-1/receivers',
    { slotId: 1, description: 'x', autoUpdate: false, documentId: doc.id },
    keys,
  )
  t.equal(theirs.status, 400)
  t.match(theirs.body.message, /is not one of your documents/)

  t.same((await call(app, 'DELETE', `/1.0/me/document/${doc.id}`)).body, null)
  t.equal((await call(app, 'GET', `/1.0/me/document/${doc.id}`)).status, 404)
  t.equal((await get(doc.getUrl)).statusCode, 404, 'its links stop working')

  const later = (await call(app, 'POST', '/1.0/me/document', { name: 'later.csv' })).body
  clock.advance(31 * 24 * 3600 * 1000)
  t.equal((await call(app, 'GET', `/1.0/me/document/${later.id}`)).status, 404, 'gone after 30 days')
  t.equal((await put(later.putUrl, 'x')).statusCode, 404)

  // Expired documents are deleted when the owner creates another one (not another owner's).
  const stored = async (id: string) =>
    (await app.db.selectFrom('documents').select('id').where('id', '=', id).execute()).length
  const theirsLater = (await call(app, 'POST', '/1.0/me/document', { name: 'theirs.csv' }, keys)).body
  t.equal(await put(theirsLater.putUrl, '+33601020304\n').then((r) => r.statusCode), 201)
  t.equal(await stored(later.id), 1, 'an expired document stays stored until its owner creates another')
  clock.advance(31 * 24 * 3600 * 1000)
  const next = (await call(app, 'POST', '/1.0/me/document', { name: 'next.csv' })).body
  t.equal(await stored(later.id), 0, 'the owner’s expired upload was deleted')
  t.equal(await stored(next.id), 1)
  t.equal(await stored(theirsLater.id), 1, 'another owner’s expired document is left to that owner')
  t.equal((await call(app, 'GET', `/1.0/me/document/${next.id}`)).status, 200)
})

t.test(
  'sender documents: created, uploaded, renamed, seen by the operator, deleted with the sender',
  async (t) => {
    await call(app, 'POST', `${S}/senders`, { sender: 'Brand' })
    const base = `${S}/senders/Brand/documents`
    t.same((await call(app, 'GET', base)).body, [])
    const created = await call(app, 'POST', base, { name: 'kbis.pdf', description: 'company registration' })
    t.equal(created.status, 200, JSON.stringify(created.body))
    const doc = created.body
    t.same(Object.keys(doc).sort(), [
      'createdAt',
      'description',
      'documentID',
      'getUrl',
      'name',
      'putUrl',
      'size',
    ])
    t.match(doc, {
      name: 'kbis.pdf',
      description: 'company registration',
      size: 0,
      documentID: /^[0-9a-f-]{36}$/,
    })
    const pdf = Buffer.from('%PDF-1.4 fake')
    t.equal((await put(doc.putUrl, pdf, 'application/pdf')).statusCode, 201)
    t.same((await call(app, 'GET', base)).body, [doc.documentID])
    const read = await call(app, 'GET', `${base}/${doc.documentID}`)
    t.match(read.body, { size: pdf.length, name: 'kbis.pdf' })

    const renamed = await call(app, 'PUT', `${base}/${doc.documentID}`, {
      ...read.body,
      name: 'kbis-2026.pdf',
    })
    t.same([renamed.status, renamed.body], [200, null], 'PUT takes back what GET gave, with a new name')
    t.equal((await call(app, 'GET', `${base}/${doc.documentID}`)).body.name, 'kbis-2026.pdf')
    const moved = await call(app, 'PUT', `${base}/${doc.documentID}`, {
      documentID: '00000000-0000-4000-8000-000000000000',
    })
    t.equal(moved.status, 400)
    t.match(moved.body.message, /documentID: read-only/)
    t.equal((await call(app, 'GET', `${base}/00000000-0000-4000-8000-000000000000`)).status, 404)
    t.equal((await call(app, 'GET', `${base}/not-a-uuid`)).status, 400)
    t.equal((await call(app, 'GET', `${S}/senders/Nobody/documents`)).status, 404)
    t.equal((await call(app, 'POST', base, {})).status, 400, 'name is required')
    t.notOk(
      (await call(app, 'GET', '/1.0/me/document')).body.includes(doc.documentID),
      'a sender document is not a /me document',
    )

    const seen = await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}/senders/Brand/documents`)
    t.equal(seen.status, 200)
    t.match(seen.body, [{ documentID: doc.documentID, name: 'kbis-2026.pdf', size: pdf.length }])
    const file = await get(seen.body[0].getUrl)
    t.same(file.rawPayload, pdf, 'the operator downloads the file')
    t.equal(file.headers['content-type'], 'application/pdf')

    await call(app, 'DELETE', `${S}/senders/Brand`)
    t.equal((await get(doc.getUrl)).statusCode, 404, 'deleted with its sender')
  },
)
