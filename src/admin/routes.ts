import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ledger, purchase } from '../accounts/credits.js'
import { AccountWithIAM } from '../accounts/schema.js'
import { createAccount, getAccount, requireAccount } from '../accounts/service.js'
import type { CredentialStore } from '../auth/credentials.js'
import type { TokenStore } from '../auth/oauth.js'
import { type SimulatorCarrier, validateRules } from '../carrier/simulator.js'
import { hasAtMostTwoDecimals, MAX_CREDITS, toHundredths } from '../credits.js'
import { ALL_OWNERS, type AppDeps } from '../deps.js'
import { callbackAdminRoutes } from '../dlr/admin-routes.js'
import type { CallbackDispatcher } from '../dlr/dispatcher.js'
import { ApiError, conflict, notFound } from '../errors.js'
import { ref } from '../schema-helpers.js'
import { toIncoming } from '../sending/history.js'
import { receiveIncoming } from '../sending/incoming.js'
import { Incoming } from '../sending/schema.js'
import { senderAdminRoutes } from '../sending/senders-admin-routes.js'
import { invalid } from '../validation.js'

const AccessRules = Type.Array(
  Type.Unsafe<{ method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string }>({ $ref: 'auth.AccessRule#' }),
  {
    minItems: 1,
    maxItems: 100,
    description: 'a non-empty list of access rules',
  },
)
const OwnerId = Type.Integer({ minimum: 1, maximum: 2147483647, description: 'id of the owner (tenant)' })

function sameToken(expected: string, received: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(received)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** /admin/v1: operator-only, `Authorization: Bearer $ADMIN_TOKEN`. */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  deps: AppDeps
  store: CredentialStore
  tokens: TokenStore
  simulator: SimulatorCarrier
  callbacks: CallbackDispatcher
}> = async (app, { deps, store, tokens, simulator, callbacks }) => {
  const adminToken = deps.config.adminToken
  const { db } = deps.database
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.addHook('onRequest', async (request) => {
    const authorization = request.headers.authorization ?? ''
    const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : ''
    if (!adminToken || !token || !sameToken(adminToken, token)) {
      throw new ApiError(401, 'You must login first: send Authorization: Bearer <ADMIN_TOKEN>')
    }
  })

  await app.register(senderAdminRoutes, { deps })
  await app.register(callbackAdminRoutes, { deps, onReplay: () => callbacks.nudge() })

  async function requireOwner(ownerId: number) {
    const owner = await db.selectFrom('owners').select('id').where('id', '=', ownerId).executeTakeFirst()
    if (!owner) throw notFound(`The owner ${ownerId} does not exist`)
  }

  app.post(
    '/owners',
    {
      schema: {
        tags,
        security,
        summary: 'Create an owner (tenant)',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ id: Type.Integer(), name: Type.String() }) },
      },
    },
    async (request) => {
      const inserted = await db
        .insertInto('owners')
        .values({ name: request.body.name })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning(['id', 'name'])
        .executeTakeFirst()
      if (!inserted) throw conflict(`The owner ${request.body.name} already exists`)
      return inserted
    },
  )

  app.post(
    '/accounts',
    {
      schema: {
        tags,
        security,
        summary: 'Create an SMS account for an owner',
        body: Type.Object(
          {
            serviceName: Type.String({
              maxLength: 64,
              description: 'sms- or smpp- then lowercase letters, digits or dashes',
            }),
            owner: OwnerId,
            credits: Type.Optional(Type.Number({ minimum: 0, description: 'initial credits, ≥ 0' })),
            description: Type.Optional(
              Type.String({ maxLength: 255, description: 'at most 255 characters' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(AccountWithIAM) },
      },
    },
    async (request) => {
      const { serviceName, owner, credits, description } = request.body
      await requireOwner(owner)
      await createAccount(db, {
        ownerId: owner,
        serviceName,
        ...(credits === undefined ? {} : { credits }),
        ...(description === undefined ? {} : { description }),
      })
      return getAccount(db, ALL_OWNERS, serviceName)
    },
  )

  app.post(
    '/accounts/:serviceName/credits',
    {
      schema: {
        tags,
        security,
        summary: 'Add purchased credits to an account',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          { credits: Type.Number({ exclusiveMinimum: 0, description: 'credits to add, > 0' }) },
          { additionalProperties: false },
        ),
        response: { 200: ref(AccountWithIAM) },
      },
    },
    async (request) => {
      const { credits } = request.body
      if (!hasAtMostTwoDecimals(credits)) throw invalid('credits', 'a number > 0 with at most 2 decimals')
      if (credits > MAX_CREDITS) throw invalid('credits', `at most ${MAX_CREDITS} credits`)
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      await db.transaction().execute((trx) => purchase(trx, account.id, toHundredths(credits), 'admin'))
      return getAccount(db, ALL_OWNERS, account.service_name)
    },
  )

  app.get(
    '/accounts/:serviceName/ledger',
    {
      schema: {
        tags,
        security,
        summary: 'Credit movements of an account, oldest first (read-only)',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        querystring: Type.Object({
          afterId: Type.Optional(
            Type.Integer({
              minimum: 0,
              maximum: Number.MAX_SAFE_INTEGER,
              description: 'only entries after this id (paging)',
            }),
          ),
          limit: Type.Optional(
            Type.Integer({ minimum: 1, maximum: 10000, description: '1 to 10000, default 1000' }),
          ),
        }),
        response: {
          200: Type.Array(
            Type.Object({
              id: Type.Integer(),
              kind: Type.String(),
              login: Type.Union([Type.String(), Type.Null()]),
              accountDelta: Type.Number({ description: 'change of the account credits' }),
              quotaDelta: Type.Number({ description: 'change of the user quota' }),
              counterparty: Type.Union([Type.String(), Type.Null()]),
              reference: Type.Union([Type.String(), Type.Null()]),
              createdAt: Type.String({ format: 'date-time' }),
            }),
          ),
        },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      return ledger(db, account.id, request.query.afterId ?? 0, request.query.limit ?? 1000)
    },
  )

  app.post(
    '/applications',
    {
      schema: {
        tags,
        security,
        summary: 'Create an API application (application key and secret) for an owner',
        body: Type.Object(
          {
            owner: OwnerId,
            name: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }),
            description: Type.Optional(Type.String({ maxLength: 255 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ applicationKey: Type.String(), applicationSecret: Type.String() }) },
      },
    },
    async (request) => {
      await requireOwner(request.body.owner)
      return store.createApplication(request.body.owner, request.body.name, request.body.description)
    },
  )

  app.post(
    '/credentials',
    {
      schema: {
        tags,
        security,
        summary: 'Create a validated consumer key for an application',
        body: Type.Object(
          {
            applicationKey: Type.String({ maxLength: 64 }),
            accessRules: AccessRules,
            expiration: Type.Optional(
              Type.String({ format: 'date-time', description: 'ISO-8601 date-time' }),
            ),
            allowedIPs: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ consumerKey: Type.String(), state: Type.String() }) },
      },
    },
    async (request) => {
      const { applicationKey, accessRules, expiration, allowedIPs } = request.body
      const { consumerKey } = await store.createCredential({
        applicationKey,
        accessRules,
        state: 'validated',
        expiration: expiration ? new Date(expiration) : null,
        allowedIPs: allowedIPs ?? null,
      })
      return { consumerKey, state: 'validated' }
    },
  )

  app.post(
    '/credentials/:consumerKey/validate',
    {
      schema: {
        tags,
        security,
        summary: 'Validate a consumer key requested through POST /auth/credential',
        params: Type.Object({ consumerKey: Type.String({ maxLength: 64 }) }),
        response: { 200: Type.Object({ state: Type.String() }) },
      },
    },
    async (request) => {
      await store.validate(request.params.consumerKey)
      return { state: 'validated' }
    },
  )

  app.post(
    '/service-accounts',
    {
      schema: {
        tags,
        security,
        summary: 'Create an OAuth2 service account (client credentials) for an owner',
        body: Type.Object(
          {
            owner: OwnerId,
            accessRules: AccessRules,
            name: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ clientId: Type.String(), clientSecret: Type.String() }) },
      },
    },
    async (request) => {
      await requireOwner(request.body.owner)
      return tokens.createServiceAccount(request.body.owner, request.body.accessRules, request.body.name)
    },
  )

  app.delete(
    '/service-accounts/:clientId',
    {
      schema: {
        tags,
        security,
        summary: 'Revoke a service account and all its tokens',
        params: Type.Object({ clientId: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Null() },
      },
    },
    async (request) => {
      await tokens.revokeServiceAccount(request.params.clientId)
      return null
    },
  )

  app.post(
    '/accounts/:serviceName/incoming',
    {
      schema: {
        tags,
        security,
        summary: 'Inject a received SMS (a reply) into an account, as a carrier would',
        params: Type.Object({ serviceName: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          {
            sender: Type.String({
              maxLength: 32,
              description: 'an international number such as +33601020304',
            }),
            message: Type.String({ minLength: 1, maxLength: 5000, description: '1 to 5000 characters' }),
            tag: Type.Optional(Type.String({ maxLength: 20, description: 'at most 20 characters' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ref(Incoming) },
      },
    },
    async (request) => {
      const account = await requireAccount(db, ALL_OWNERS, request.params.serviceName)
      return toIncoming(await receiveIncoming(db, account.id, request.body, deps.clock.now()))
    },
  )

  app.get(
    '/simulator/rules',
    { schema: { tags, security, summary: 'Rules of the embedded carrier simulator' } },
    async () => simulator.rules(),
  )

  app.put(
    '/simulator/rules',
    {
      schema: {
        tags,
        security,
        summary: 'Replace the simulator rules (this process; also settable with SIMULATOR_RULES)',
        body: Type.Array(
          Type.Object({
            receiver: Type.String({ description: 'regular expression matched against E.164 receivers' }),
            steps: Type.Array(
              Type.Object({
                ptt: Type.Integer(),
                dlr: Type.Integer(),
                afterMs: Type.Integer({ minimum: 0 }),
              }),
            ),
          }),
        ),
      },
    },
    async (request) => {
      simulator.setRules(validateRules(request.body))
      return simulator.rules()
    },
  )
}
