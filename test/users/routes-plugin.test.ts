import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify from 'fastify'
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { systemClock } from '../../src/clock.js'
import { contextPlugin } from '../../src/context.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { httpPlugin, serverOptions } from '../../src/http/plugin.js'
import { userRoutes } from '../../src/users/routes.js'
import { userModels } from '../../src/users/schema.js'
import { createTestDatabase, SERVICE, TEST_SECRET } from '../helpers.js'

// A route plugin on its own: Fastify(), the context (database, clock, secrets), the HTTP plumbing
// and the users routes — no authentication plugin, no worker, no other route.

const { database, config } = await createTestDatabase(t)
const owner = await createOwner(database.db, 'solo')
await createAccount(database.db, { ownerId: owner.id, serviceName: SERVICE, credits: 10 })
const app = Fastify({ ...serverOptions(), logger: false }).withTypeProvider<TypeBoxTypeProvider>()
await app.register(contextPlugin, {
  config,
  database,
  secretBox: createSecretBox(TEST_SECRET),
  clock: systemClock,
})
await app.register(httpPlugin, { models: userModels })
// What the API's authentication would have decided: this owner's accounts.
app.decorateRequest('scope', null as unknown as { ownerId?: number })
app.addHook('onRequest', async (request) => {
  request.scope = { ownerId: owner.id }
})
await app.register(userRoutes)
t.teardown(() => app.close())

const json = (body: unknown) => ({
  payload: JSON.stringify(body),
  headers: { 'content-type': 'application/json' },
})

t.test('create, read, change and delete a user through the plugin alone', async (t) => {
  const created = await app.inject({
    method: 'POST',
    url: `/sms/${SERVICE}/users`,
    ...json({ login: 'plugin01', password: 'abcd1234' }),
  })
  t.equal(created.statusCode, 200)
  t.same(JSON.parse((await app.inject({ method: 'GET', url: `/sms/${SERVICE}/users` })).body), ['plugin01'])
  const changed = await app.inject({
    method: 'PUT',
    url: `/sms/${SERVICE}/users/plugin01`,
    ...json({ quotaInformations: { quotaStatus: 'active', quotaLeft: 4 } }),
  })
  t.equal(changed.statusCode, 200)
  const read = JSON.parse((await app.inject({ method: 'GET', url: `/sms/${SERVICE}/users/plugin01` })).body)
  t.match(read, {
    login: 'plugin01',
    password: 'abcd1234',
    quotaInformations: { quotaStatus: 'active', quotaLeft: 4 },
  })
  const refused = await app.inject({
    method: 'POST',
    url: `/sms/${SERVICE}/users`,
    ...json({ login: 'x', password: 'abcd1234' }),
  })
  t.equal(refused.statusCode, 400, 'schema errors answer OVH-shaped 400s from the plumbing')
  t.match(JSON.parse(refused.body), { class: 'Client::BadRequest', message: /Invalid login/ })
  t.equal((await app.inject({ method: 'DELETE', url: `/sms/${SERVICE}/users/plugin01` })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: `/sms/${SERVICE}/users/plugin01` })).statusCode, 404)
})
