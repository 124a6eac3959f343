import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ALL_OWNERS } from '../auth/scope.js'
import type { Db } from '../db/index.js'
import { conflict, invalid, notFound } from '../errors.js'
import { emailAddress } from '../fields/email.js'
import { nullable, ref } from '../http/schema.js'
import { hasAtMostTwoDecimals, MAX_CREDITS, toHundredths } from './amounts.js'
import { ledger, purchase } from './ledger.js'
import { AccountWithIAM } from './schema.js'
import { createAccount, getAccount, requireAccount } from './service.js'

export const OwnerId = Type.Integer({
  minimum: 1,
  maximum: 2147483647,
  description: 'id of the owner (tenant)',
})

const ContactEmail = nullable(
  Type.String({ maxLength: 254, description: 'e-mail address of the owner; null or empty to clear' }),
)
const OwnerAnswer = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  contactEmail: nullable(Type.String()),
})
const toOwnerAnswer = (row: { id: number; name: string; contact_email: string | null }) => ({
  id: row.id,
  name: row.name,
  contactEmail: row.contact_email,
})

/** 404 unless the owner exists (the admin API names owners by id). */
export async function requireOwner(db: Db, ownerId: number): Promise<void> {
  const owner = await db.selectFrom('owners').select('id').where('id', '=', ownerId).executeTakeFirst()
  if (!owner) throw notFound(`The owner ${ownerId} does not exist`)
}

/** /admin/v1 owners, accounts, purchased credits and the ledger; registered by the admin plugin. */
export const accountAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.post(
    '/owners',
    {
      schema: {
        tags,
        security,
        summary: 'Create an owner (tenant)',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }),
            contactEmail: Type.Optional(ContactEmail),
          },
          { additionalProperties: false },
        ),
        response: { 200: OwnerAnswer },
      },
    },
    async (request) => {
      const contactEmail = emailAddress('contactEmail', request.body.contactEmail ?? null)
      const inserted = await db
        .insertInto('owners')
        .values({ name: request.body.name, contact_email: contactEmail })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning(['id', 'name', 'contact_email'])
        .executeTakeFirst()
      if (!inserted) throw conflict(`The owner ${request.body.name} already exists`)
      return toOwnerAnswer(inserted)
    },
  )

  app.put(
    '/owners/:owner',
    {
      schema: {
        tags,
        security,
        summary: "Change an owner's contact e-mail address (where regenerated SMPP passwords go)",
        params: Type.Object({ owner: OwnerId }),
        body: Type.Object({ contactEmail: ContactEmail }, { additionalProperties: false }),
        response: { 200: OwnerAnswer },
      },
    },
    async (request) => {
      const contactEmail = emailAddress('contactEmail', request.body.contactEmail)
      const updated = await db
        .updateTable('owners')
        .set({ contact_email: contactEmail })
        .where('id', '=', request.params.owner)
        .returning(['id', 'name', 'contact_email'])
        .executeTakeFirst()
      if (!updated) throw notFound(`The owner ${request.params.owner} does not exist`)
      return toOwnerAnswer(updated)
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
        response: {
          200: Type.Object(
            {
              ...AccountWithIAM.properties,
              smppSystemID: Type.Optional(Type.String({ description: 'smpp- accounts: the system ID' })),
              smppPassword: Type.Optional(
                Type.String({ description: 'smpp- accounts: the SMPP password, shown this once only' }),
              ),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { serviceName, owner, credits, description } = request.body
      await requireOwner(db, owner)
      const created = await createAccount(db, {
        ownerId: owner,
        serviceName,
        secretBox: app.secretBox,
        ...(credits === undefined ? {} : { credits }),
        ...(description === undefined ? {} : { description }),
      })
      const account = await getAccount(db, ALL_OWNERS, serviceName)
      return created.smpp
        ? { ...account, smppSystemID: created.smpp.systemId, smppPassword: created.smpp.password }
        : account
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
}
