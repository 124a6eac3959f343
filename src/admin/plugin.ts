import { timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync } from 'fastify'
import { accountAdminRoutes } from '../accounts/admin-routes.js'
import { authAdminRoutes } from '../auth/admin-routes.js'
import { carrierAdminRoutes } from '../carrier/admin-routes.js'
import { callbackAdminRoutes } from '../dlr/admin-routes.js'
import { documentAdminRoutes } from '../documents/admin-routes.js'
import { ApiError } from '../errors.js'
import { incomingAdminRoutes } from '../incoming/admin-routes.js'
import { senderAdminRoutes } from '../senders/admin-routes.js'
import { smppAdminRoutes } from '../smpp-server/admin-routes.js'

function sameToken(expected: string, received: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(received)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * /admin/v1: the operator's API, `Authorization: Bearer $ADMIN_TOKEN`. Each feature keeps its admin
 * routes beside its others (accounts/, auth/, senders/, incoming/, carrier/, dlr/); they are
 * registered here, behind the one token check.
 */
export const adminPlugin: FastifyPluginAsync = async (app) => {
  const adminToken = app.config.adminToken
  app.addHook('onRequest', async (request) => {
    const authorization = request.headers.authorization ?? ''
    const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : ''
    if (!adminToken || !token || !sameToken(adminToken, token)) {
      throw new ApiError(401, 'You must login first: send Authorization: Bearer <ADMIN_TOKEN>')
    }
  })
  await app.register(accountAdminRoutes)
  await app.register(authAdminRoutes)
  await app.register(senderAdminRoutes)
  await app.register(documentAdminRoutes)
  await app.register(incomingAdminRoutes)
  await app.register(callbackAdminRoutes)
  await app.register(carrierAdminRoutes)
  await app.register(smppAdminRoutes)
}
