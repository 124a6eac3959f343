import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import type { Scope } from '../auth/scope.js'
import type { Db } from '../db/index.js'
import { badRequest, notFound } from '../errors.js'
import { DateTimeFilter, ref, ServiceNameParam, TextFilter, Void } from '../http/schema.js'
import { findSender } from '../senders/repository.js'
import { senderNotFound } from '../senders/service.js'
import { levelRoutes } from '../sending/target.js'
import {
  Document,
  DocumentCreate,
  DocumentWayTypeEnum,
  SenderDocument,
  SenderDocumentCreate,
  SenderDocumentUpdate,
} from './schema.js'
import {
  createUploadDocument,
  type DocumentRow,
  type DocumentUrls,
  deleteDocument,
  documentCsv,
  documentOfToken,
  findDocument,
  listDocuments,
  listSenderDocuments,
  MAX_SENDER_DOCUMENTS,
  MAX_UPLOAD_BYTES,
  putTokenOf,
  recordSize,
  requestExport,
  storeUpload,
  toDocument,
  tokenOf,
  toSenderDocument,
  updateSenderDocument,
} from './service.js'

const DocumentIdParam = Type.String({ format: 'uuid', description: 'a document id (uuid)' })
const SenderParam = Type.String({ maxLength: 100, description: 'the sender name' })

/** Where a document downloads: no credentials, the token in the query (kept out of logs). */
const downloadPath = (id: string) => `/documents/${encodeURIComponent(id)}/download`
const uploadPath = (id: string) => `/documents/${encodeURIComponent(id)}/upload`

function baseUrl(request: FastifyRequest, publicUrl: string | null): string {
  return publicUrl ?? `${request.protocol}://${request.host}`
}

/** History exports at one level: `GET {S}[/users/{login}]/document` answers a /me/document id. */
export const exportRoutes: FastifyPluginAsyncTypebox<{ level: 'user' | 'account' }> = async (
  app,
  { level },
) => {
  const { base, tags, Params, who, target, user } = levelRoutes(level)
  const filters = {
    'creationDatetime.from': DateTimeFilter('ISO-8601 date-time (>=)'),
    'creationDatetime.to': DateTimeFilter('ISO-8601 date-time (<=)'),
    tag: TextFilter('tag'),
    wayType: ref(DocumentWayTypeEnum, { description: 'outgoing or incoming SMS' }),
  }
  const batchID = Type.Optional(
    Type.String({ format: 'uuid', description: 'a batch UUID (outgoing SMS only)' }),
  )
  app.get(
    `${base}/document`,
    {
      schema: {
        tags,
        summary: `Export ${who}'s SMS history as CSV; answers a /me/document id`,
        params: Params,
        querystring: Type.Object(user ? filters : { ...filters, batchID }),
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      const id = await requestExport(app.db, app.secretBox, target(request), request.query, app.clock.now())
      // A bare string answer would go out as text/plain; OVH answers a JSON string.
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(id))
    },
  )
}

/** The getUrl and putUrl of a document, from the base URL and its tokens. */
export function urlsOf(request: FastifyRequest, app: FastifyInstance, row: DocumentRow): DocumentUrls {
  const base = baseUrl(request, app.config.publicUrl)
  const put = putTokenOf(app.secretBox, row)
  return {
    getUrl: `${base}${downloadPath(row.id)}?token=${tokenOf(app.secretBox, row)}`,
    putUrl: put === null ? null : `${base}${uploadPath(row.id)}?token=${put}`,
  }
}

/**
 * `/me/document`: the owner's documents — history exports and files uploaded through a putUrl
 * (another owner's id is a 404).
 */
export const documentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tags = ['me']
  const IdParams = Type.Object({ id: DocumentIdParam })
  app.get(
    '/me/document',
    {
      schema: {
        tags,
        summary: 'Ids of your documents (history exports, uploaded files)',
        response: { 200: Type.Array(Type.String({ format: 'uuid' })) },
      },
    },
    (request) => listDocuments(app.db, request.scope, app.clock.now()),
  )

  app.post(
    '/me/document',
    {
      schema: {
        tags,
        summary: `Create a document; PUT its file (at most ${MAX_UPLOAD_BYTES} bytes) to the putUrl it answers`,
        body: DocumentCreate,
        response: { 200: ref(Document) },
      },
    },
    async (request) => {
      const ownerId = request.scope.ownerId
      if (ownerId === undefined) throw badRequest('Documents belong to an owner: call with an owner’s keys')
      const row = await createUploadDocument(
        app.db,
        app.secretBox,
        { ownerId, kind: 'upload', name: request.body.name, tags: request.body.tags ?? [] },
        app.clock.now(),
      )
      return toDocument(row, urlsOf(request, app, row))
    },
  )

  app.get(
    '/me/document/:id',
    {
      schema: {
        tags,
        summary:
          'A document (an SMS history export or an uploaded file) and the URLs that download and upload it',
        params: IdParams,
        response: { 200: ref(Document) },
      },
    },
    async (request) => {
      const row = await findDocument(app.db, request.scope, request.params.id, app.clock.now())
      return toDocument(row, urlsOf(request, app, row))
    },
  )

  app.delete(
    '/me/document/:id',
    {
      schema: { tags, summary: 'Delete a document', params: IdParams, response: { 200: Void } },
    },
    (request) => deleteDocument(app.db, request.scope, request.params.id, app.clock.now()),
  )
}

/** `{S}/senders/{sender}/documents`: the documents that back a sender's validation request. */
export const senderDocumentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const tags = ['sms senders']
  const SenderParams = Type.Object({ serviceName: ServiceNameParam, sender: SenderParam })
  const DocumentParams = Type.Object({
    serviceName: ServiceNameParam,
    sender: SenderParam,
    documentID: Type.String({ format: 'uuid', description: 'a document id (uuid)' }),
  })
  const base = '/sms/:serviceName/senders/:sender/documents'

  app.get(
    base,
    {
      schema: {
        tags,
        summary: 'Ids of the documents of a sender',
        params: SenderParams,
        response: { 200: Type.Array(Type.String({ format: 'uuid' })) },
      },
    },
    async (request) => {
      const { account, sender } = await requireSenderOf(app.db, request.scope, request.params)
      return (await listSenderDocuments(app.db, account.id, sender)).map((row) => row.id)
    },
  )

  app.post(
    base,
    {
      schema: {
        tags,
        summary: `Add a document to a sender's validation (e.g. a company registration); PUT its file (at most ${MAX_UPLOAD_BYTES} bytes) to putUrl`,
        params: SenderParams,
        body: SenderDocumentCreate,
        response: { 200: ref(SenderDocument) },
      },
    },
    async (request) => {
      const { account, sender } = await requireSenderOf(app.db, request.scope, request.params)
      const existing = await listSenderDocuments(app.db, account.id, sender)
      if (existing.length >= MAX_SENDER_DOCUMENTS)
        throw badRequest(`Too many documents: a sender has at most ${MAX_SENDER_DOCUMENTS}`)
      const row = await createUploadDocument(
        app.db,
        app.secretBox,
        {
          ownerId: account.owner_id,
          kind: 'sender',
          accountId: account.id,
          sender,
          name: request.body.name,
          description: request.body.description ?? null,
        },
        app.clock.now(),
      )
      return toSenderDocument(row, urlsOf(request, app, row))
    },
  )

  app.get(
    `${base}/:documentID`,
    {
      schema: {
        tags,
        summary: 'One document of a sender',
        params: DocumentParams,
        response: { 200: ref(SenderDocument) },
      },
    },
    async (request) => {
      const row = await senderDocumentOf(app.db, request.scope, request.params)
      return toSenderDocument(row, urlsOf(request, app, row))
    },
  )

  app.put(
    `${base}/:documentID`,
    {
      schema: {
        tags,
        summary: 'Change the name or description of a sender document',
        params: DocumentParams,
        body: SenderDocumentUpdate,
        response: { 200: Void },
      },
    },
    async (request) => {
      const row = await senderDocumentOf(app.db, request.scope, request.params)
      await updateSenderDocument(app.db, row, request.body)
      return null
    },
  )
}

/** The sender a request names, on the caller's account (404 for either). */
async function requireSenderOf(db: Db, scope: Scope, params: { serviceName: string; sender: string }) {
  const account = await requireAccount(db, scope, params.serviceName)
  const row = await findSender(db, account.id, params.sender)
  if (!row) throw senderNotFound(params.sender)
  return { account, sender: row.sender }
}

async function senderDocumentOf(
  db: Db,
  scope: Scope,
  params: { serviceName: string; sender: string; documentID: string },
): Promise<DocumentRow> {
  const { account, sender } = await requireSenderOf(db, scope, params)
  const row = (await listSenderDocuments(db, account.id, sender)).find((doc) => doc.id === params.documentID)
  if (!row) throw notFound(`The requested object (documentID = ${params.documentID}) does not exist`)
  return row
}

/**
 * Where files come in and go out: unauthenticated, opened by unguessable tokens (kept out of logs).
 * getUrl downloads a document (an export's CSV is produced while it downloads, from the filter saved
 * with it); putUrl takes an uploaded document's file, whatever its type, at most MAX_UPLOAD_BYTES.
 */
export const documentDownloadRoute: FastifyPluginAsyncTypebox = async (app) => {
  const TokenQuery = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) })
  app.get(
    '/documents/:id/download',
    {
      schema: {
        hide: true,
        params: Type.Object({ id: DocumentIdParam }),
        querystring: TokenQuery,
      },
    },
    async (request, reply) => {
      const { db } = app
      const row = await documentOfToken(
        db,
        app.secretBox,
        request.params.id,
        request.query.token,
        app.clock.now(),
      )
      const disposition = `attachment; filename="${row.name.replace(/["\\\r\n]/g, '_')}"`
      if (row.kind !== 'export') {
        if (row.content === null) throw notFound('Nothing was uploaded to this document yet')
        return reply
          .header('content-type', row.content_type ?? 'application/octet-stream')
          .header('content-disposition', disposition)
          .send(Buffer.from(row.content))
      }
      const stream = documentCsv(db, row, (bytes) => {
        recordSize(db, row.id, bytes).catch((error: unknown) =>
          request.log.warn({ err: error }, 'could not record the size of a document'),
        )
      })
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', disposition)
        .send(stream)
    },
  )

  await app.register(documentUploadRoute)
}

/** The putUrl, in a context of its own: its body is the file's bytes, whatever its content type. */
const documentUploadRoute: FastifyPluginAsyncTypebox = async (upload) => {
  const app = upload
  const TokenQuery = Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) })

  // Any file type: the body is taken as bytes, never parsed (the server's 1 MiB body limit holds).
  upload.removeAllContentTypeParsers()
  upload.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  upload.put(
    '/documents/:id/upload',
    {
      schema: {
        hide: true,
        params: Type.Object({ id: DocumentIdParam }),
        querystring: TokenQuery,
      },
    },
    async (request, reply) => {
      const row = await documentOfToken(
        app.db,
        app.secretBox,
        request.params.id,
        request.query.token,
        app.clock.now(),
        'put',
      )
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      if (body.length === 0) throw badRequest('Invalid file: the body is empty; PUT the file itself')
      const type = request.headers['content-type']
      await storeUpload(app.db, row, body, typeof type === 'string' ? type.slice(0, 200) : null)
      return reply.code(201).send()
    },
  )
}
