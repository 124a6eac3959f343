import { randomUUID } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { Db } from '../db/index.js'
import type { Carrier, CarrierEvents, CarrierMessage, CarrierState, SubmitOutcome } from './carrier.js'
import type { SimulatorRule } from './simulator-rules.js'

const BATCH = 500

/**
 * The built-in carrier: it plays an SMSC whose behaviour the rules describe. It accepts every message
 * at once, under an id of its own, and keeps the reports the first matching rule announces in its
 * own table (simulator_reports), as a real SMSC keeps its queue on disk: they survive a restart, and
 * any replica's simulator hands them over when due. A report is removed only after the status path
 * committed it, so a crash in between hands it over again (the status path ignores a repeat).
 */
export class SimulatorCarrier implements Carrier {
  private compiled: { pattern: RegExp; rule: SimulatorRule }[] = []
  private events: CarrierEvents | null = null
  private inFlight = 0

  private readonly db: Db
  private readonly clock: Clock
  /** Its name in CARRIERS, "simulator" by default. */
  readonly name: string
  /** How long reports being handed over stay hidden from the other replicas' simulators. */
  private readonly leaseMs: number

  constructor(options: { db: Db; clock: Clock; rules: SimulatorRule[]; name?: string; leaseMs?: number }) {
    this.db = options.db
    this.clock = options.clock
    this.name = options.name ?? 'simulator'
    this.leaseMs = options.leaseMs ?? 60_000
    this.setRules(options.rules)
  }

  rules(): SimulatorRule[] {
    return this.compiled.map((c) => c.rule)
  }

  /** Rules apply to the messages handed over from now on (checked by simulatorRulesProblem first). */
  setRules(rules: SimulatorRule[]): void {
    // Steps in time order, so reports due together go out in the order they were announced.
    this.compiled = rules.map((rule) => ({
      pattern: new RegExp(rule.receiver),
      rule: { ...rule, steps: [...rule.steps].sort((a, b) => a.afterMs - b.afterMs) },
    }))
  }

  async start(events: CarrierEvents): Promise<void> {
    this.events = events
  }

  async stop(): Promise<void> {
    this.events = null
  }

  state(): CarrierState {
    return {
      name: this.name,
      kind: 'simulator',
      status: 'up',
      detail: null,
      inFlight: this.inFlight,
      queued: 0,
      sessions: [],
    }
  }

  submit(messages: readonly CarrierMessage[]): Promise<SubmitOutcome>[] {
    const accepted = this.accept(messages)
    return messages.map((_, i) =>
      accepted.then((ids): SubmitOutcome => ({ kind: 'accepted', carrierMessageIds: [ids[i] as string] })),
    )
  }

  /** One id per message, and every report its rule announces, in one statement. */
  private async accept(messages: readonly CarrierMessage[]): Promise<string[]> {
    this.inFlight += messages.length
    try {
      const now = this.clock.now().getTime()
      const ids = messages.map(() => randomUUID())
      const reports = messages.flatMap((message, i) => {
        const rule = this.compiled.find((c) => c.pattern.test(message.receiver))?.rule
        return (rule?.steps ?? []).map((step) => ({
          carrier_message_id: ids[i] as string,
          due_at: new Date(now + step.afterMs),
          ptt: step.ptt,
          dlr: step.dlr,
        }))
      })
      for (let from = 0; from < reports.length; from += 1000) {
        await this.db
          .insertInto('simulator_reports')
          .values(reports.slice(from, from + 1000))
          .execute()
      }
      return ids
    } finally {
      this.inFlight -= messages.length
    }
  }

  /**
   * Hands over the reports due by `now`, oldest first; returns how many. A report waits while an
   * earlier report of the same message is still in the table (leased by a replica that may have died
   * before handing it over): reports of one message reach the status path in the order announced,
   * never a final one before the "sent" it follows.
   */
  async runDue(now: Date): Promise<number> {
    const events = this.events
    if (!events) return 0
    // Claimed and leased in one statement; removed once the status path has them.
    const due = await this.db
      .updateTable('simulator_reports')
      .set({ due_at: new Date(now.getTime() + this.leaseMs) })
      .where(
        'id',
        'in',
        this.db
          .selectFrom('simulator_reports')
          .select('id')
          .where('due_at', '<=', now)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('simulator_reports as earlier')
                  .select('earlier.id')
                  .whereRef('earlier.carrier_message_id', '=', 'simulator_reports.carrier_message_id')
                  .whereRef('earlier.id', '<', 'simulator_reports.id')
                  .where('earlier.due_at', '>', now),
              ),
            ),
          )
          .orderBy('due_at')
          .orderBy('id')
          .limit(BATCH)
          .forUpdate()
          .skipLocked(),
      )
      .returning(['id', 'carrier_message_id', 'ptt', 'dlr'])
      .execute()
    if (due.length === 0) return 0
    due.sort((a, b) => a.id - b.id)
    await events.reports(
      this.name,
      due.map((r) => ({ carrierMessageId: r.carrier_message_id, ptt: r.ptt, dlr: r.dlr, at: now })),
    )
    await this.db
      .deleteFrom('simulator_reports')
      .where(
        'id',
        'in',
        due.map((r) => r.id),
      )
      .execute()
    return due.length
  }
}
