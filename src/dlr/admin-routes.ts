import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import { ALL_OWNERS } from '../auth/scope.js'
import { invalid, notFound } from '../errors.js'
import { nullable } from '../http/schema.js'
import { userNotFound } from '../users/service.js'
import { generateSecret, isValidSecret } from './signature.js'

const Delivery = Type.Object({
  id: Type.Integer(),
  kind: Type.String(),
  login: Type.Union([Type.String(), Type.Null()]),
  outgoingId: Type.Union([Type.Integer(), Type.Null()]),
  url: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'when the next attempt is due; null once the delivery is final (delivered, gone or failed)',
  }),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
})

/** Dead letters and replays of callback deliveries; registered inside adminRoutes (ADMIN_TOKEN). */
export const callbackAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.get(
    '/accounts/:serviceName/callbacks',
    {
      schema: {
        tags,
        security,
        summary: 'Callback deliveries of an account, newest first (status=failed: the dead letters)',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        querystring: Type.Object({
          status: Type.Optional(
            Type.Enum(['pending', 'delivered', 'gone', 'failed'], {
              description: 'one of pending, delivered, gone, failed',
            }),
          ),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 10000, description: '1 to 10000, default 1000' }),
          ),
        }),
        response: { 200: Type.Array(Delivery) },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      let query = db.selectFrom('callback_deliveries').selectAll().where('account_id', '=', account.id)
      if (request.query.status) query = query.where('status', '=', request.query.status)
      const rows = await query
        .orderBy('id', 'desc')
        .limit(request.query.limit ?? 1000)
        .execute()
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        login: r.login,
        outgoingId: r.outgoing_id,
        url: r.url,
        status: r.status,
        attempts: r.attempts,
        nextAttemptAt:
          r.status === 'pending'
            ? new Date(Math.max(r.next_attempt_at.getTime(), r.leased_until?.getTime() ?? 0)).toISOString()
            : null,
        lastStatus: r.last_status,
        lastError: r.last_error,
        createdAt: r.created_at.toISOString(),
        deliveredAt: r.delivered_at?.toISOString() ?? null,
      }))
    },
  )

  app.post(
    '/callbacks/:id/replay',
    {
      schema: {
        tags,
        security,
        summary: 'Deliver a callback again from scratch (a dead letter, or any other)',
        params: Type.Object({
          id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'a delivery id' }),
        }),
        response: { 200: Type.Object({ id: Type.Integer(), status: Type.String() }) },
      },
    },
    async (request) => {
      const updated = await db
        .updateTable('callback_deliveries')
        .set({
          status: 'pending',
          attempts: 0,
          next_attempt_at: app.clock.now(),
          leased_until: null,
          last_error: null,
        })
        .where('id', '=', request.params.id)
        .returning(['id', 'status'])
        .executeTakeFirst()
      if (!updated) throw notFound(`The callback delivery ${request.params.id} does not exist`)
      app.callbackDispatcher.nudge()
      return updated
    },
  )

  const SecretBody = Type.Object(
    {
      secret: Type.Optional(
        nullable(
          Type.String({
            maxLength: 200,
            description: 'a whsec_… secret to use; null to stop signing; omitted: a new secret is generated',
          }),
        ),
      ),
    },
    { additionalProperties: false },
  )
  const SecretAnswer = Type.Object({ secret: Type.Union([Type.String(), Type.Null()]) })

  const chooseSecret = (body: { secret?: string | null }): string | null => {
    if (body.secret === null) return null
    const secret = body.secret ?? generateSecret()
    if (!isValidSecret(secret)) throw invalid('secret', 'whsec_ followed by the base64 of 24 to 64 bytes')
    return secret
  }

  app.put(
    '/accounts/:serviceName/callback-secret',
    {
      schema: {
        tags,
        security,
        summary: 'Sign the account’s callbacks (Standard Webhooks headers) with this secret',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        body: SecretBody,
        response: { 200: SecretAnswer },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      const secret = chooseSecret(request.body)
      await db
        .updateTable('accounts')
        .set({ callback_secret_enc: secret === null ? null : app.secretBox.seal(secret) })
        .where('id', '=', account.id)
        .execute()
      return { secret }
    },
  )

  app.put(
    '/accounts/:serviceName/users/:login/callback-secret',
    {
      schema: {
        tags,
        security,
        summary: 'Sign one user’s callbacks with this secret (instead of the account’s)',
        params: Type.Object({
          serviceName: Type.String({ maxLength: 100 }),
          login: Type.String({ maxLength: 100 }),
        }),
        body: SecretBody,
        response: { 200: SecretAnswer },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      const secret = chooseSecret(request.body)
      const updated = await db
        .updateTable('sms_users')
        .set({ callback_secret_enc: secret === null ? null : app.secretBox.seal(secret) })
        .where('account_id', '=', account.id)
        .where('login', '=', request.params.login)
        .executeTakeFirst()
      if (updated.numUpdatedRows === 0n) throw userNotFound(request.params.login)
      return { secret }
    },
  )
}
