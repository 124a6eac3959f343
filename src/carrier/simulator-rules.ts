import { type Static, Type } from 'typebox'
import Value from 'typebox/value'
import { DLR_STATUS, PTT_TABLE } from '../dlr/ptt.js'

const MAX_DELAY_MS = 7 * 24 * 3600 * 1000
const DLR_IDS = [...DLR_STATUS.keys()]

/**
 * The simulator's rules, one schema for both places they come from: SIMULATOR_RULES and
 * PUT /admin/v1/simulator/rules. For each message the first rule whose `receiver` matches says which
 * status reports follow, and when.
 */
export const SimulatorStep = Type.Object(
  {
    ptt: Type.Integer({ minimum: 0, description: 'a ptt code of GET /sms/ptts' }),
    dlr: Type.Integer({ minimum: 0, description: `a DLR id: one of ${DLR_IDS.join(', ')}` }),
    afterMs: Type.Integer({
      minimum: 0,
      maximum: MAX_DELAY_MS,
      description: `milliseconds after the hand-over, 0 to ${MAX_DELAY_MS}`,
    }),
  },
  { additionalProperties: false },
)

export const SimulatorRule = Type.Object(
  {
    receiver: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'a regular expression matched against E.164 receivers, e.g. ^\\+3366',
    }),
    steps: Type.Array(SimulatorStep, {
      minItems: 1,
      maxItems: 20,
      description: '1 to 20 steps {ptt, dlr, afterMs}',
    }),
  },
  { additionalProperties: false },
)

const RULES_RULE = 'a list of 1 to 100 rules {receiver, steps}'
export const SimulatorRules = Type.Array(SimulatorRule, {
  minItems: 1,
  maxItems: 100,
  description: RULES_RULE,
})

export type SimulatorStep = Static<typeof SimulatorStep>
export type SimulatorRule = Static<typeof SimulatorRule>

/** The default rule: accepted by the operator at once (ptt 3, DLR 8), delivered after the delay. */
export const defaultRules = (delayMs: number): SimulatorRule[] => [
  {
    receiver: '.*',
    steps: [
      { ptt: 3, dlr: 8, afterMs: 0 },
      { ptt: 4, dlr: 1, afterMs: delayMs },
    ],
  },
]

/** What is wrong with a list of rules, or null: the schema, then what it cannot say (known codes, valid expressions). */
export function simulatorRulesProblem(value: unknown): string | null {
  const first = Value.Errors(SimulatorRules, value)[0]
  if (first) {
    const at = first.instancePath.replace(/^\//, '').replaceAll('/', '.')
    return `${at ? `[${at}]` : ''}: ${first.message}; expected ${RULES_RULE} where a step is {ptt, dlr, afterMs}`
  }
  for (const [i, rule] of (value as SimulatorRule[]).entries()) {
    try {
      new RegExp(rule.receiver)
    } catch {
      return `[${i}].receiver: not a valid regular expression`
    }
    for (const [j, step] of rule.steps.entries()) {
      if (!PTT_TABLE.has(step.ptt))
        return `[${i}].steps[${j}].ptt: ${step.ptt} is not a ptt code of GET /sms/ptts`
      if (!DLR_STATUS.has(step.dlr))
        return `[${i}].steps[${j}].dlr: ${step.dlr} is not a DLR id (one of ${DLR_IDS.join(', ')})`
    }
  }
  return null
}
