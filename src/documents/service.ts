import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { pipeline, Readable, Transform } from 'node:stream'
import { stringify } from 'csv-stringify'
import { fromHundredths } from '../accounts/amounts.js'
import type { Scope } from '../auth/scope.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import type { DocumentsTable } from '../db/schema.js'
import { DLR_STATUS } from '../dlr/ptt.js'
import { badRequest, notFound } from '../errors.js'
import { ovhDateTime } from '../http/schema.js'
import { resolveTarget, type Target } from '../sending/target.js'

/** How long a document and its getUrl stay valid (OVH's export links expire too). */
export const DOCUMENT_VALIDITY_MS = 24 * 3600 * 1000
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

type DocumentRow = DocumentsTable & { size: number | null }

/** The document when the caller's owner holds its account; else 404 (another owner's id included). */
export async function findDocument(db: Db, scope: Scope, id: string, now: Date): Promise<DocumentRow> {
  let query = db
    .selectFrom('documents')
    .innerJoin('accounts', 'accounts.id', 'documents.account_id')
    .selectAll('documents')
    .where('documents.id', '=', id)
    .where('documents.expires_at', '>', now)
  if (scope.ownerId !== undefined) query = query.where('accounts.owner_id', '=', scope.ownerId)
  const row = await query.executeTakeFirst()
  if (!row) throw notFound(`The requested object (id = ${id}) does not exist`)
  return row as DocumentRow
}

/** nichandle.document.Document, with the getUrl built from the base URL and the token. */
export function toDocument(row: DocumentRow, getUrl: string) {
  return {
    creationDate: ovhDateTime(row.created_at),
    expirationDate: ovhDateTime(row.expires_at),
    getUrl,
    id: row.id,
    name: row.name,
    putUrl: '',
    size: row.size ?? 0,
    tags: [],
    validity: ovhDateTime(row.expires_at),
  }
}

/** The token of a document's getUrl. */
export const tokenOf = (box: SecretBox, row: DocumentRow) => box.open(row.token_enc)

/** The document a getUrl token opens (not expired), or 404. */
export async function documentOfToken(
  db: Db,
  box: SecretBox,
  id: string,
  token: string,
  now: Date,
): Promise<DocumentRow> {
  const row = await db
    .selectFrom('documents')
    .selectAll()
    .where('id', '=', id)
    .where('expires_at', '>', now)
    .executeTakeFirst()
  const given = Buffer.from(token)
  const expected = row ? Buffer.from(box.open(row.token_enc)) : Buffer.alloc(0)
  if (!row || given.length !== expected.length || !timingSafeEqual(given, expected))
    throw notFound('No such document, or its link expired: ask for a new export')
  return row as DocumentRow
}

/**
 * The rows of a document, read EXPORT_BATCH_ROWS at a time by keyset (id > last seen, on the
 * (account_id, id) index): the same on pg and PGlite, no cursor held open between batches, and
 * never more than one batch in memory.
 */
async function* exportRecords(db: Db, doc: DocumentRow): AsyncGenerator<(string | number)[]> {
  const filters = JSON.parse(doc.filters) as Omit<ExportFilters, 'wayType'>
  const from = filters['creationDatetime.from'] ? new Date(filters['creationDatetime.from']) : undefined
  const to = filters['creationDatetime.to'] ? new Date(filters['creationDatetime.to']) : undefined
  let after = 0
  for (;;) {
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
        .where('account_id', '=', doc.account_id)
        .where('id', '>', after)
        .where('id', '<=', doc.last_row_id)
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
        .where('account_id', '=', doc.account_id)
        .where('id', '>', after)
        .where('id', '<=', doc.last_row_id)
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
