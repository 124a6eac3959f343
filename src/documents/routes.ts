import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { DateTimeFilter, ref, TextFilter } from '../http/schema.js'
import { levelRoutes } from '../sending/target.js'
import { Document, DocumentWayTypeEnum } from './schema.js'
import {
  documentCsv,
  documentOfToken,
  findDocument,
  recordSize,
  requestExport,
  toDocument,
  tokenOf,
} from './service.js'

const DocumentIdParam = Type.String({ minLength: 1, maxLength: 100, description: 'a document id' })

/** Where a document downloads: no credentials, the token in the query (kept out of logs). */
const downloadPath = (id: string) => `/documents/${encodeURIComponent(id)}/download`

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

/** `GET /me/document/{id}`: the owner's documents only (another owner's id is a 404). */
export const documentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me/document/:id',
    {
      schema: {
        tags: ['me'],
        summary: 'A document (an SMS history export) and the URL that downloads it',
        params: Type.Object({ id: DocumentIdParam }),
        response: { 200: ref(Document) },
      },
    },
    async (request) => {
      const row = await findDocument(app.db, request.scope, request.params.id, app.clock.now())
      const url = `${baseUrl(request, app.config.publicUrl)}${downloadPath(row.id)}?token=${tokenOf(app.secretBox, row)}`
      return toDocument(row, url)
    },
  )
}

/**
 * The getUrl of a document: unauthenticated, opened by its unguessable token. The CSV is produced
 * while it downloads, from the filter saved with the document.
 */
export const documentDownloadRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/documents/:id/download',
    {
      schema: {
        hide: true,
        params: Type.Object({ id: DocumentIdParam }),
        querystring: Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) }),
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
      const stream = documentCsv(db, row, (bytes) => {
        recordSize(db, row.id, bytes).catch((error: unknown) =>
          request.log.warn({ err: error }, 'could not record the size of a document'),
        )
      })
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${row.name}"`)
        .send(stream)
    },
  )
}
