import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { badRequest } from '../errors.js'
import { SimulatorRules, simulatorRulesProblem } from './simulator-rules.js'

/** /admin/v1 simulator rules of this process; registered by the admin plugin. */
export const carrierAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { simulator } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

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
        body: SimulatorRules,
      },
    },
    async (request) => {
      const problem = simulatorRulesProblem(request.body)
      if (problem) throw badRequest(`Invalid rules${problem}`)
      simulator.setRules(request.body)
      return simulator.rules()
    },
  )
}
