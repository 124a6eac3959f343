import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { pipeline, Readable, Transform } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { stringify } from 'csv-stringify'
import type { ExpressionBuilder, Selectable } from 'kysely'
import { fromHundredths } from '../accounts/amounts.js'
import type { Scope } from '../auth/scope.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Database, Db } from '../db/index.js'
import type { DocumentKind, DocumentsTable } from '../db/schema.js'
import { DLR_STATUS } from '../dlr/ptt.js'
import { badRequest, notFound } from '../errors.js'
import { ovhDateTime } from '../http/schema.js'
import { resolveTarget, type Target } from '../sending/target.js'

/** How long a document and its getUrl stay valid (OVH's export links expire too). */
export const DOCUMENT_VALIDITY_MS = 24 * 3600 * 1000
/** How long a file uploaded at /me/document is kept (what a receiver list is created from). */
export const UPLOAD_VALIDITY_MS = 30 * 24 * 3600 * 1000
/** The largest file a putUrl takes: the CSV limit of receiver lists (the server's body limit). */
export const MAX_UPLOAD_BYTES = 1_048_576
/** Documents one sender may have. */
export const MAX_SENDER_DOCUMENTS = 20
/** Rows read per query while a document streams: memory stays bounded whatever the history holds. */
export const EXPORT_BATCH_ROWS = 1000

export type ExportFilters = {
  wayType: 'incoming' | 'outgoing'
  tag?: string
  batchID?: string
  'creationDatetime.from'?: string
  'creationDatetime.to'?: string
}

/** The CSV columns, as OVH's export (reference §users/document) for outgoing; ours for incoming. */
export const OUTGOING_COLUMNS = [
  'id',
  'date',
  'sender',
  'receiver',
  'ptt',
  'operatorCode',
  'descriptionDlr',
  'tag',
  'message',
  'sentAt',
  'deliveredAt',
] as const
export const INCOMING_COLUMNS = ['id', 'date', 'sender', 'tag', 'message', 'credits'] as const

/** `2021-09-28 16:16:53` (UTC), as OVH's CSV export writes dates. */
const csvDate = (date: Date | null) => (date ? date.toISOString().slice(0, 19).replace('T', ' ') : '')

function parseDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) throw badRequest(`Invalid ${name}: expected an ISO-8601 date-time`)
  return date
}

/**
 * Records an export of the target's history (the filter, and the highest row id it holds) and
 * answers the document id. Nothing is read but one max(id): the file is written while it downloads.
 */
export async function requestExport(
  db: Db,
  box: SecretBox,
  target: Target,
  filters: ExportFilters,
  now: Date,
): Promise<string> {
  const account = await resolveTarget(db, target)
  const from = parseDate(filters['creationDatetime.from'], 'creationDatetime.from')
  const to = parseDate(filters['creationDatetime.to'], 'creationDatetime.to')
  if (from && to && from > to)
    throw badRequest('Invalid creationDatetime.from: it is after creationDatetime.to')
  if (filters.wayType === 'incoming' && filters.batchID !== undefined)
    throw badRequest('Invalid batchID: it filters outgoing SMS only (wayType=outgoing)')
  const table = filters.wayType === 'outgoing' ? 'outgoing' : 'incoming'
  const last = await db
    .selectFrom(table)
    .select((eb) => eb.fn.max('id').as('max'))
    .where('account_id', '=', account.id)
    .executeTakeFirst()
  await purgeExpired(db, account.owner_id, now)
  const id = randomUUID()
  const token = randomBytes(32).toString('base64url')
  const saved: Omit<ExportFilters, 'wayType'> = {}
  if (filters.tag !== undefined) saved.tag = filters.tag
  if (filters.batchID !== undefined) saved.batchID = filters.batchID
  if (from) saved['creationDatetime.from'] = from.toISOString()
  if (to) saved['creationDatetime.to'] = to.toISOString()
  await db
    .insertInto('documents')
    .values({
      id,
      owner_id: account.owner_id,
      kind: 'export',
      account_id: account.id,
      login: target.login,
      name: `${target.serviceName}${target.login ? `-${target.login}` : ''}-${filters.wayType}-${csvDate(now).replace(/[ :]/g, '-')}.csv`,
      way_type: filters.wayType,
      filters: JSON.stringify(saved),
      last_row_id: Number(last?.max ?? 0),
      token_enc: box.seal(token),
      created_at: now,
      expires_at: new Date(now.getTime() + DOCUMENT_VALIDITY_MS),
    })
    .execute()
  return id
}

/**
 * Deletes the owner's documents past their expiry (already 404 everywhere), whenever it creates one:
 * an upload's file (up to 1 MiB) is not kept for ever, and no background job is needed for it. The
 * owner's own rows only (documents_owner_idx), in the statement's own transaction.
 */
async function purgeExpired(db: Db, ownerId: number, now: Date): Promise<void> {
  await db.deleteFrom('documents').where('owner_id', '=', ownerId).where('expires_at', '<=', now).execute()
}

export type DocumentRow = Selectable<DocumentsTable>
type Tag = { key: string; value: string }

const documentNotFound = (id: string) => notFound(`The requested object (id = ${id}) does not exist`)
const notExpired = (now: Date) => (eb: ExpressionBuilder<Database, 'documents'>) =>
  eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)])

/**
 * A /me document (an export or an upload) when the caller's owner holds it; else 404 (another
 * owner's id included).
 */
export async function findDocument(db: Db, scope: Scope, id: string, now: Date): Promise<DocumentRow> {
  let query = db
    .selectFrom('documents')
    .selectAll()
    .where('id', '=', id)
    .where('kind', 'in', ['export', 'upload'])
    .where(notExpired(now))
  if (scope.ownerId !== undefined) query = query.where('owner_id', '=', scope.ownerId)
  const row = await query.executeTakeFirst()
  if (!row) throw documentNotFound(id)
  return row
}

/** Ids of the owner's /me documents (exports and uploads), oldest first. */
export async function listDocuments(db: Db, scope: Scope, now: Date): Promise<string[]> {
  let query = db
    .selectFrom('documents')
    .select('id')
    .where('kind', 'in', ['export', 'upload'])
    .where(notExpired(now))
  if (scope.ownerId !== undefined) query = query.where('owner_id', '=', scope.ownerId)
  return (await query.orderBy('created_at').orderBy('id').execute()).map((row) => row.id)
}

/** The URLs of a document: getUrl downloads it, putUrl (uploads only) takes its file. */
export type DocumentUrls = { getUrl: string; putUrl: string | null }

/** nichandle.document.Document (OVH's /me model). */
export function toDocument(row: DocumentRow, urls: DocumentUrls) {
  return {
    creationDate: ovhDateTime(row.created_at),
    expirationDate: row.expires_at ? ovhDateTime(row.expires_at) : null,
    getUrl: urls.getUrl,
    id: row.id,
    name: row.name,
    putUrl: urls.putUrl ?? '',
    size: Number(row.size ?? 0),
    tags: JSON.parse(row.tags) as Tag[],
    validationDate: null,
  }
}

/** sms.SenderDocument. */
export function toSenderDocument(row: DocumentRow, urls: DocumentUrls) {
  return {
    createdAt: ovhDateTime(row.created_at),
    description: row.description,
    documentID: row.id,
    getUrl: urls.getUrl,
    name: row.name,
    putUrl: urls.putUrl,
    size: Number(row.size ?? 0),
  }
}

/** The token of a document's getUrl, or of its putUrl. */
export const tokenOf = (box: SecretBox, row: DocumentRow) => box.open(row.token_enc)
export const putTokenOf = (box: SecretBox, row: DocumentRow) =>
  row.put_token_enc === null ? null : box.open(row.put_token_enc)

/** The document a getUrl (or putUrl) token opens (not expired), or 404. */
export async function documentOfToken(
  db: Db,
  box: SecretBox,
  id: string,
  token: string,
  now: Date,
  which: 'get' | 'put' = 'get',
): Promise<DocumentRow> {
  const row = await db
    .selectFrom('documents')
    .selectAll()
    .where('id', '=', id)
    .where(notExpired(now))
    .executeTakeFirst()
  const sealed = row ? (which === 'get' ? row.token_enc : row.put_token_enc) : null
  const given = Buffer.from(token)
  const expected = sealed ? Buffer.from(box.open(sealed)) : Buffer.alloc(0)
  if (!row || !sealed || given.length !== expected.length || !timingSafeEqual(given, expected))
    throw notFound('No such document, or its link expired: ask for a new one')
  return row
}

const MAX_NAME_LENGTH = 255

/** A new document waiting for its file (a putUrl): a /me upload or a sender's validation document. */
export async function createUploadDocument(
  db: Db,
  box: SecretBox,
  input: {
    ownerId: number
    kind: Exclude<DocumentKind, 'export'>
    name: string
    tags?: Tag[]
    description?: string | null
    accountId?: number
    sender?: string
  },
  now: Date,
): Promise<DocumentRow> {
  if (input.name.trim() === '') throw badRequest('Invalid name: expected a file name')
  if (input.name.length > MAX_NAME_LENGTH)
    throw badRequest(`Invalid name: at most ${MAX_NAME_LENGTH} characters`)
  const seen = new Set<string>()
  for (const tag of input.tags ?? []) {
    if (seen.has(tag.key)) throw badRequest(`Invalid tags: the key "${tag.key}" is given twice`)
    seen.add(tag.key)
  }
  await purgeExpired(db, input.ownerId, now)
  return db
    .insertInto('documents')
    .values({
      id: randomUUID(),
      owner_id: input.ownerId,
      kind: input.kind,
      account_id: input.accountId ?? null,
      sender: input.sender ?? null,
      login: null,
      name: input.name,
      description: input.description ?? null,
      tags: JSON.stringify(input.tags ?? []),
      token_enc: box.seal(randomBytes(32).toString('base64url')),
      put_token_enc: box.seal(randomBytes(32).toString('base64url')),
      size: 0,
      created_at: now,
      expires_at: input.kind === 'upload' ? new Date(now.getTime() + UPLOAD_VALIDITY_MS) : null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** The file PUT to a putUrl replaces the document's content (the last upload wins). */
export async function storeUpload(db: Db, row: DocumentRow, content: Buffer, contentType: string | null) {
  if (content.length > MAX_UPLOAD_BYTES)
    throw Object.assign(badRequest(`Invalid file: larger than ${MAX_UPLOAD_BYTES} bytes`), {
      statusCode: 413,
    })
  await db
    .updateTable('documents')
    .set({ content, content_type: contentType, size: content.length })
    .where('id', '=', row.id)
    .execute()
}

/** Deletes one of the owner's /me documents (its links stop working at once). */
export async function deleteDocument(db: Db, scope: Scope, id: string, now: Date): Promise<null> {
  const row = await findDocument(db, scope, id, now)
  await db.deleteFrom('documents').where('id', '=', row.id).execute()
  return null
}

/**
 * The text of a file uploaded at /me/document by the owner (a receivers CSV): 400 when the id is
 * not one of the owner's uploads, or when nothing was PUT to its putUrl yet.
 */
export async function uploadedText(db: Db, ownerId: number, id: string, now: Date): Promise<string> {
  const row = await db
    .selectFrom('documents')
    .select(['content', 'kind'])
    .where('id', '=', id)
    .where('owner_id', '=', ownerId)
    .where(notExpired(now))
    .executeTakeFirst()
  if (row?.kind !== 'upload')
    throw badRequest(
      `Invalid documentId: ${id} is not one of your documents (POST /me/document, then PUT the file to its putUrl)`,
    )
  if (row.content === null || row.content.length === 0)
    throw badRequest(`Invalid documentId: nothing was uploaded to the putUrl of document ${id} yet`)
  return Buffer.from(row.content).toString('utf8')
}

/** A sender's validation documents (kind 'sender'), oldest first. */
export async function listSenderDocuments(db: Db, accountId: number, sender: string): Promise<DocumentRow[]> {
  return db
    .selectFrom('documents')
    .selectAll()
    .where('kind', '=', 'sender')
    .where('account_id', '=', accountId)
    .where('sender', '=', sender)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
}

/**
 * The rows of a document, read EXPORT_BATCH_ROWS at a time by keyset (id > last seen, on the
 * (account_id, id) index): the same on pg and PGlite, no cursor held open between batches, and
 * never more than one batch in memory. Each batch after the first waits for a turn of the event loop:
 * an embedded PGlite query resolves without I/O, and a client reading as fast as the socket takes the
 * bytes never makes the stream wait either, so without it a 100,000-row export kept every other
 * request (and every timer) waiting until its last row (/health answered in 2.4 s, measured).
 */
async function* exportRecords(db: Db, doc: DocumentRow): AsyncGenerator<(string | number)[]> {
  const filters = JSON.parse(doc.filters ?? '{}') as Omit<ExportFilters, 'wayType'>
  const lastRowId = Number(doc.last_row_id ?? 0)
  const from = filters['creationDatetime.from'] ? new Date(filters['creationDatetime.from']) : undefined
  const to = filters['creationDatetime.to'] ? new Date(filters['creationDatetime.to']) : undefined
  let after = 0
  for (;;) {
    if (after > 0) await nextTurn()
    if (doc.way_type === 'outgoing') {
      let query = db
        .selectFrom('outgoing')
        .select([
          'id',
          'created_at',
          'sender',
          'receiver',
          'ptt',
          'delivery_receipt',
          'tag',
          'message',
          'sent_at',
          'delivered_at',
        ])
        .where('account_id', '=', Number(doc.account_id))
        .where('id', '>', after)
        .where('id', '<=', lastRowId)
        .where('state', '!=', 'cancelled')
      if (doc.login !== null) query = query.where('login', '=', doc.login)
      if (filters.tag !== undefined) query = query.where('tag', '=', filters.tag)
      if (filters.batchID !== undefined) query = query.where('batch_id', '=', filters.batchID)
      if (from) query = query.where('created_at', '>=', from)
      if (to) query = query.where('created_at', '<=', to)
      const rows = await query.orderBy('id').limit(EXPORT_BATCH_ROWS).execute()
      for (const row of rows) {
        yield [
          row.id,
          csvDate(row.created_at),
          row.sender,
          row.receiver,
          row.ptt,
          '',
          DLR_STATUS.get(row.delivery_receipt) ?? '',
          row.tag,
          row.message,
          csvDate(row.sent_at),
          csvDate(row.delivered_at),
        ]
      }
      if (rows.length < EXPORT_BATCH_ROWS) return
      after = rows[rows.length - 1]?.id ?? after
    } else {
      let query = db
        .selectFrom('incoming')
        .select(['id', 'created_at', 'sender', 'tag', 'message', 'credits'])
        .where('account_id', '=', Number(doc.account_id))
        .where('id', '>', after)
        .where('id', '<=', lastRowId)
      if (doc.login !== null) query = query.where('login', '=', doc.login)
      if (filters.tag !== undefined) query = query.where('tag', '=', filters.tag)
      if (from) query = query.where('created_at', '>=', from)
      if (to) query = query.where('created_at', '<=', to)
      const rows = await query.orderBy('id').limit(EXPORT_BATCH_ROWS).execute()
      for (const row of rows) {
        yield [row.id, csvDate(row.created_at), row.sender, row.tag, row.message, fromHundredths(row.credits)]
      }
      if (rows.length < EXPORT_BATCH_ROWS) return
      after = rows[rows.length - 1]?.id ?? after
    }
  }
}

/**
 * The CSV of a document as a stream (`;`-separated, header line, RFC 4180 quoting by csv-stringify),
 * with backpressure: the next batch is read only when the client took the previous one. `onComplete`
 * gets the byte count once the whole file was produced.
 */
export function documentCsv(db: Db, doc: DocumentRow, onComplete: (bytes: number) => void): Readable {
  const columns = doc.way_type === 'outgoing' ? OUTGOING_COLUMNS : INCOMING_COLUMNS
  const csv = stringify({ delimiter: ';', header: true, columns: [...columns], record_delimiter: '\n' })
  let bytes = 0
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      done(null, chunk)
    },
    flush(done) {
      onComplete(bytes)
      done()
    },
  })
  // pipeline destroys every stage when one fails (a query error, the client gone).
  pipeline(Readable.from(exportRecords(db, doc)), csv, counted, () => {})
  return counted
}

export async function recordSize(db: Db, id: string, bytes: number): Promise<void> {
  await db.updateTable('documents').set({ size: bytes }).where('id', '=', id).execute()
}

/** PUT of an sms.SenderDocument: name and description change; documentID must stay what it is. */
export async function updateSenderDocument(
  db: Db,
  row: DocumentRow,
  body: { name?: string; description?: string | null; documentID?: string },
): Promise<void> {
  if (body.documentID !== undefined && body.documentID !== row.id)
    throw badRequest(`Invalid documentID: read-only, it cannot be changed (current value "${row.id}")`)
  const patch: { name?: string; description?: string | null } = {}
  if (body.name !== undefined) {
    if (body.name.trim() === '') throw badRequest('Invalid name: expected a file name')
    patch.name = body.name
  }
  if (body.description !== undefined) patch.description = body.description
  if (Object.keys(patch).length > 0)
    await db.updateTable('documents').set(patch).where('id', '=', row.id).execute()
}
