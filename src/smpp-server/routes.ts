import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ref, ServiceNameParam, Void } from '../http/schema.js'
import { AllowedIPs, Settings } from './schema.js'
import { regeneratePassword, requireSmppAccount, smppSettings, updateAllowedIps } from './service.js'

/** OVH's `{S}/smpp/*` routes: settings, allowed IPs, password regeneration. */
export const smppRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app
  const tags = ['sms']
  const params = Type.Object({ serviceName: ServiceNameParam })
  const IpList = Type.Array(Type.String(), { description: 'allowed addresses and CIDR blocks' })

  app.get(
    '/sms/:serviceName/smpp/settings',
    {
      schema: {
        tags,
        summary: 'Get SMPP settings (400 on an account that is not an smpp- one)',
        params,
        response: { 200: ref(Settings) },
      },
    },
    async (request) => {
      const { smpp } = await requireSmppAccount(db, request.scope, request.params.serviceName)
      return smppSettings(smpp, app.config.smpp)
    },
  )

  app.get(
    '/sms/:serviceName/smpp/allowedIPs',
    { schema: { tags, summary: 'Get SMPP allowed IPs', params, response: { 200: IpList } } },
    async (request) => {
      const { smpp } = await requireSmppAccount(db, request.scope, request.params.serviceName)
      return smpp.allowed_ips
    },
  )

  app.put(
    '/sms/:serviceName/smpp/allowedIPs',
    {
      schema: {
        tags,
        summary: 'Add or remove allowed IPs; answers the resulting list',
        params,
        body: ref(AllowedIPs),
        response: { 200: IpList },
      },
    },
    (request) => updateAllowedIps(db, request.scope, request.params.serviceName, request.body),
  )

  app.post(
    '/sms/:serviceName/smpp/password',
    {
      schema: {
        tags,
        summary: "Renew SMPP password: mailed to the owner's contact address, never answered",
        params,
        response: { 200: Void },
      },
    },
    async (request) => {
      await regeneratePassword(
        db,
        app.secretBox,
        app.config,
        request.scope,
        request.params.serviceName,
        app.clock.now(),
      )
      app.alertDispatcher.nudge()
      request.log.info({ serviceName: request.params.serviceName }, 'SMPP password regenerated')
      return null
    },
  )
}
