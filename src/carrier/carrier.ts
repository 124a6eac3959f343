import type { Encoding } from '../sending/encoding.js'

/**
 * A carrier is a network peer that takes SMS to phones: an upstream SMSC, or the built-in simulator
 * that plays one. It is never called inside a database transaction, and it can vanish at any moment:
 * the sending worker leases what it hands over and records an outcome only once the peer answered,
 * so a crash replays a hand-over (at least once) rather than losing it.
 *
 * Status reports and incoming messages arrive later, on their own, through the `CarrierEvents` the
 * carrier was started with; a carrier acknowledges one to its peer only after the returned promise
 * resolved (the event is committed), so a crash before that makes the peer send it again.
 */
export interface Carrier {
  /** Unique among the configured carriers; stored with each message it accepted. */
  readonly name: string
  /**
   * Hands messages over: one promise per message, in the same order, each settled when the peer has
   * answered for it. The carrier applies its own window and throughput. A rejected promise counts as
   * `retry` (the peer did not answer).
   */
  submit(messages: readonly CarrierMessage[]): Promise<SubmitOutcome>[]
  /**
   * `submit` without a Promise per message, for carriers that can: `onOutcome(i, outcome)` is called
   * once for each message (its index in `messages`), when the peer has answered for it.
   */
  submitEach?(messages: readonly CarrierMessage[], onOutcome: OutcomeHandler): void
  /** Starts receiving reports and incoming messages (and connecting, for a network carrier). */
  start(events: CarrierEvents): Promise<void>
  /** Stops taking messages; waits for the hand-overs and events in progress. */
  stop(): Promise<void>
  /**
   * A carrier whose peer lives in this process (the simulator) does its due work when the sending
   * worker gives it a turn, so tests drive it with the worker's runOnce; a network carrier has none.
   * Returns how many events it produced.
   */
  runDue?(now: Date): Promise<number>
  /** What /health, metrics and the admin API show. */
  state(): CarrierState
}

/** Where a carrier's answer for the message at `index` of a `submitEach` goes. */
export type OutcomeHandler = (index: number, outcome: SubmitOutcome) => void

/** One outgoing SMS as a carrier needs it. */
export type CarrierMessage = {
  outgoingId: number
  /** E.164, with its `+`. */
  receiver: string
  sender: string
  text: string
  encoding: Encoding
  /** Parts the text is sent as (concatenated SMS). */
  parts: number
  /** sms.ClassEnum, when asked for. */
  smsClass: string | null
  /** The peer may try until then; null: its own default. */
  validUntil: Date | null
}

/**
 * The peer's answer for one message: accepted, with the id it gave each part (status reports refer to
 * these); refused for good, ending the message with that ptt and DLR; or to be handed over again later
 * (the peer is busy, throttling, or did not answer).
 */
export type SubmitOutcome =
  | {
      kind: 'accepted'
      carrierMessageIds: string[]
      /** The status acceptance means, recorded with it (an SMSC's acceptance: ptt 3 / DLR 8). */
      status?: { ptt: number; dlr: number }
    }
  | { kind: 'refused'; ptt: number; dlr: number; reason: string }
  /** `afterMs`: when to try again, as the carrier knows best; absent, the worker backs off. */
  | { kind: 'retry'; reason: string; afterMs?: number }

/** A status report of the peer about a message it accepted. */
export type CarrierReport = { carrierMessageId: string; ptt: number; dlr: number; at: Date }

/**
 * An SMS the peer received for us (a reply, an opt-out): `from` the phone, `to` the number or short
 * code it wrote to, as the peer gives them (E.164 with or without +). `part` when it is one part of
 * a concatenated message (the parts are put together before the message is received).
 */
export type CarrierIncoming = {
  from: string
  to: string
  text: string
  at: Date
  part?: { reference: number; total: number; sequence: number }
}

/** Where a carrier's events go; each call resolves once they are committed. */
export type CarrierEvents = {
  reports(carrier: string, reports: readonly CarrierReport[]): Promise<void>
  incoming(carrier: string, messages: readonly CarrierIncoming[]): Promise<void>
}

export type CarrierState = {
  name: string
  kind: 'simulator' | 'smpp'
  /** up: can take messages; connecting: not yet or not any more; down: gave up or stopped. */
  status: 'up' | 'connecting' | 'down'
  /** The last error (a refused bind, a lost connection), null when none since the last bind. */
  detail: string | null
  /** Parts handed to the peer and not answered yet. */
  inFlight: number
  /** Messages waiting in this process for a free window slot. */
  queued: number
  /** The carrier's connections to its peer (none for the simulator). */
  sessions: SessionState[]
}

/** One connection to the peer. */
export type SessionState = {
  role: 'transceiver' | 'transmitter' | 'receiver'
  state: 'connecting' | 'bound' | 'waiting' | 'stopped'
  /** When it was bound, null when it is not. */
  boundSince: Date | null
  lastError: string | null
  /** submit_sm sent on it and not answered yet. */
  unanswered: number
}

/** What carriers tell the metrics. */
export type CarrierObserver = {
  /** A message's hand-over ended (accepted, refused, or to retry), in this many parts. */
  submitted(carrier: string, outcome: SubmitOutcome['kind'], parts: number): void
  /** A deliver_sm was taken (a receipt, an incoming message) or refused (unreadable). */
  delivered(carrier: string, kind: 'receipt' | 'incoming' | 'refused'): void
  /** A bind attempt ended. */
  bound(carrier: string, ok: boolean): void
}
