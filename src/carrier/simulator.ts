import type { Transaction } from 'kysely'
import type { Database } from '../db/index.js'
import type { OutgoingRow } from '../db/schema.js'
import { DLR_STATUS, PTT_TABLE } from '../dlr/ptt.js'
import { badRequest } from '../errors.js'

/** What a carrier does with messages handed to it, inside the transaction that hands them over. */
export interface Carrier {
  submit(trx: Transaction<Database>, messages: readonly OutgoingRow[], now: Date): Promise<void>
}

export type SimulatorStep = { ptt: number; dlr: number; afterMs: number }
export type SimulatorRule = { receiver: string; steps: SimulatorStep[] }

const MAX_DELAY_MS = 7 * 24 * 3600 * 1000

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

/** Checks rules given by SIMULATOR_RULES or PUT /admin/v1/simulator/rules; each error says what to fix. */
export function validateRules(value: unknown, where = 'rules'): SimulatorRule[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 100) {
    throw badRequest(`Invalid ${where}: expected a list of 1 to 100 rules {receiver, steps}`)
  }
  return value.map((rule, i) => {
    const r = rule as Partial<SimulatorRule>
    if (!r || typeof r.receiver !== 'string' || r.receiver.length > 200) {
      throw badRequest(
        `Invalid ${where}[${i}].receiver: expected a regular expression matching E.164 receivers`,
      )
    }
    try {
      new RegExp(r.receiver)
    } catch {
      throw badRequest(`Invalid ${where}[${i}].receiver: not a valid regular expression`)
    }
    if (!Array.isArray(r.steps) || r.steps.length === 0 || r.steps.length > 20) {
      throw badRequest(`Invalid ${where}[${i}].steps: expected 1 to 20 steps {ptt, dlr, afterMs}`)
    }
    const steps = r.steps.map((step, j) => {
      const s = step as Partial<SimulatorStep>
      if (!Number.isInteger(s?.ptt) || !PTT_TABLE.has(s.ptt as number)) {
        throw badRequest(`Invalid ${where}[${i}].steps[${j}].ptt: expected a ptt code of GET /sms/ptts`)
      }
      if (!Number.isInteger(s.dlr) || !DLR_STATUS.has(s.dlr as number)) {
        throw badRequest(
          `Invalid ${where}[${i}].steps[${j}].dlr: expected one of ${[...DLR_STATUS.keys()].join(', ')}`,
        )
      }
      if (!Number.isInteger(s.afterMs) || (s.afterMs as number) < 0 || (s.afterMs as number) > MAX_DELAY_MS) {
        throw badRequest(
          `Invalid ${where}[${i}].steps[${j}].afterMs: expected milliseconds from 0 to ${MAX_DELAY_MS}`,
        )
      }
      return { ptt: s.ptt as number, dlr: s.dlr as number, afterMs: s.afterMs as number }
    })
    return { receiver: r.receiver, steps }
  })
}

/**
 * The embedded carrier: for each message, the first rule whose `receiver` matches decides the status
 * reports to come, written as carrier_steps rows in the hand-over transaction, so they survive a
 * restart and any replica's worker applies them when due.
 */
export class SimulatorCarrier implements Carrier {
  private compiled: { pattern: RegExp; rule: SimulatorRule }[] = []

  constructor(rules: SimulatorRule[]) {
    this.setRules(rules)
  }

  rules(): SimulatorRule[] {
    return this.compiled.map((c) => c.rule)
  }

  setRules(rules: SimulatorRule[]): void {
    this.compiled = rules.map((rule) => ({ pattern: new RegExp(rule.receiver), rule }))
  }

  async submit(trx: Transaction<Database>, messages: readonly OutgoingRow[], now: Date): Promise<void> {
    const steps = messages.flatMap((message) => {
      const rule = this.compiled.find((c) => c.pattern.test(message.receiver))?.rule
      return (rule?.steps ?? []).map((step) => ({
        outgoing_id: message.id,
        due_at: new Date(now.getTime() + step.afterMs),
        ptt: step.ptt,
        dlr: step.dlr,
      }))
    })
    for (let i = 0; i < steps.length; i += 1000) {
      await trx
        .insertInto('carrier_steps')
        .values(steps.slice(i, i + 1000))
        .execute()
    }
  }
}
