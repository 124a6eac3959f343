import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { CarrierSettings } from '../config.js'
import { badRequest } from '../errors.js'
import { SimulatorRules, simulatorRulesProblem } from './simulator-rules.js'

const Session = Type.Object({
  role: Type.String({ description: 'transceiver, transmitter or receiver' }),
  state: Type.String({ description: 'connecting, bound, waiting (to reconnect) or stopped' }),
  boundSince: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  unanswered: Type.Integer({ description: 'submit_sm sent and not answered yet' }),
})

const CarrierView = Type.Object({
  name: Type.String(),
  kind: Type.String({ description: 'smpp or simulator' }),
  url: Type.Union([Type.String({ description: 'without the password' }), Type.Null()]),
  prefixes: Type.Array(Type.String()),
  default: Type.Boolean({ description: 'takes the receivers no prefix matches' }),
  routed: Type.Boolean({
    description: 'false: configured for nothing (the simulator when CARRIERS omits it)',
  }),
  status: Type.String({ description: 'up, connecting or down' }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  inFlight: Type.Integer({ description: 'parts handed to the carrier and not answered yet' }),
  queued: Type.Integer({ description: 'messages of this process waiting for a window slot' }),
  sessions: Type.Array(Session),
})

/** The URL of a carrier as the operator wrote it, less the password. */
function shownUrl(settings: CarrierSettings | undefined): string | null {
  if (!settings) return null
  if (settings.kind === 'simulator') return 'simulator:'
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host
  return `${settings.tls ? 'smpps' : 'smpp'}://${encodeURIComponent(settings.systemId)}@${host}:${settings.port}`
}

/** /admin/v1 carriers and simulator rules of this process; registered by the admin plugin. */
export const carrierAdminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { simulator } = app
  const tags = ['admin']
  const security = [{ adminToken: [] }]

  app.get(
    '/carriers',
    {
      schema: {
        tags,
        security,
        summary: 'The carriers of this process: routes, sessions, state, last error, in flight, queue',
        response: { 200: Type.Array(CarrierView) },
      },
    },
    async () =>
      app.carriers.carriers().map((carrier) => {
        const state = carrier.state()
        const settings = app.config.carriers.find((c) => c.name === carrier.name)
        return {
          name: state.name,
          kind: state.kind,
          url: shownUrl(settings),
          prefixes: settings?.prefixes ?? [],
          default: settings?.default ?? false,
          routed: settings !== undefined,
          status: state.status,
          lastError: state.detail,
          inFlight: state.inFlight,
          queued: state.queued,
          sessions: state.sessions.map((s) => ({ ...s, boundSince: s.boundSince?.toISOString() ?? null })),
        }
      }),
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
