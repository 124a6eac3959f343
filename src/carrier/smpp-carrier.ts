import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { Clock } from '../clock.js'
import type { SmppCarrierSettings } from '../config.js'
import { MESSAGE_STATE, parseReceipt, type ReceiptState, statusOfReceipt } from '../smpp/receipt.js'
import {
  connectSmpp,
  type Pdu,
  type SmppSession,
  STATUS,
  type SubmitSmFields,
  statusName,
} from '../smpp/session.js'
import { decodeText, type EncodedPart, encodeText } from '../smpp/short-message.js'
import { Batcher } from './batcher.js'
import type {
  Carrier,
  CarrierEvents,
  CarrierIncoming,
  CarrierMessage,
  CarrierObserver,
  CarrierReport,
  CarrierState,
  OutcomeHandler,
  SessionState,
  SubmitOutcome,
} from './carrier.js'
import { submitRefusal } from './submit-status.js'

/** A message waits this long at most for a window slot, then goes back to the database (retry). */
const QUEUE_TIMEOUT_MS = 20_000
const MAX_RECONNECT_MS = 60_000
/** esm_class message types (SMPP 3.4 §5.2.12) that carry a receipt: SMSC receipt, intermediate notice. */
const RECEIPT_TYPES = new Set([0x04, 0x20])
const STATE_OF_MESSAGE_STATE = new Map(
  Object.entries(MESSAGE_STATE).map(([state, value]) => [value, state as ReceiptState]),
)

/** A message in this carrier: waiting for a window, being sent part by part, answered part by part. */
type Submission = {
  message: CarrierMessage
  parts: EncodedPart[]
  sent: number
  answers: ({ status: number; id: string } | { error: string })[]
  answered: number
  /** Its session was lost before every part was sent. */
  aborted: boolean
  queuedAt: number
  settled: boolean
  /** Where its outcome goes: onOutcome(index, outcome). */
  index: number
  onOutcome: OutcomeHandler
}

export type SmppCarrierOptions = {
  settings: SmppCarrierSettings
  log: FastifyBaseLogger
  /** Business time: the date of receipts and incoming messages. Network timers use real time. */
  clock: Clock
  observer?: CarrierObserver
}

/**
 * An upstream SMSC over SMPP 3.4: `binds` sessions (each one transceiver, or a transmitter and a
 * receiver), each keeping at most `window` submit_sm unanswered and sending at most `throughput` per
 * second; they reconnect with backoff, answer and send enquire_link, rebind after an unbind.
 *
 * submit() queues the messages; every bound transmitting session takes the next one when it has a
 * free slot and sends its parts (concatenated, one id per part). A message is answered when all its
 * parts are: accepted (ptt 3 / DLR 8, "accepted by the operator"), refused or to retry as the table
 * of submit-status.ts says, or to retry when its session was lost first (it may then reach the phone
 * twice: at least once). With no session bound, submit answers "retry" at once.
 *
 * deliver_sm: a receipt (matched later by `receipted_message_id`, else the receipt text's `id:`) or an
 * incoming message, each answered with deliver_sm_resp only after its event is committed, so that the
 * SMSC sends again whatever a crash lost; a receipt without an id or a state is refused for good
 * (ESME_RX_R_APPN), a database failure answered ESME_RX_T_APPN (the SMSC tries again).
 */
export class SmppCarrier implements Carrier {
  readonly name: string
  private readonly settings: SmppCarrierSettings
  private readonly log: FastifyBaseLogger
  private readonly clock: Clock
  private readonly observer: CarrierObserver | undefined
  private readonly links: Link[] = []
  private queue: Submission[] = []
  private queueHead = 0
  private queueTimer: NodeJS.Timeout | null = null
  private events: CarrierEvents | null = null
  private readonly receipts: Batcher<CarrierReport>
  private readonly incoming: Batcher<CarrierIncoming>
  private stopping = false
  private lastSource: { sender: string; source: ReturnType<typeof sourceAddress> } | null = null
  private lastEncoded: {
    text: string
    encoding: CarrierMessage['encoding']
    smsClass: CarrierMessage['smsClass']
    parts: EncodedPart[]
  } | null = null

  constructor(options: SmppCarrierOptions) {
    this.settings = options.settings
    this.name = options.settings.name
    this.log = options.log.child({ carrier: this.name })
    this.clock = options.clock
    this.observer = options.observer
    const roles: Link['role'][] =
      this.settings.bind === 'transceiver' ? ['transceiver'] : ['transmitter', 'receiver']
    for (let bind = 0; bind < this.settings.binds; bind++) {
      for (const role of roles) this.links.push(new Link(this, role))
    }
    this.receipts = new Batcher((reports) => this.requireEvents().reports(this.name, reports))
    this.incoming = new Batcher((messages) => this.requireEvents().incoming(this.name, messages))
  }

  // ---------------------------------------------------------------- Carrier

  /** Connects every session; resolves once each has tried once (bound or not). */
  async start(events: CarrierEvents): Promise<void> {
    this.events = events
    this.stopping = false
    await Promise.all(this.links.map((link) => link.start()))
  }

  /**
   * Stops taking messages (those waiting go back, to retry), waits for the submits unanswered and the
   * events being committed (each bounded by the timeout), then unbinds and closes every session.
   */
  async stop(): Promise<void> {
    this.stopping = true
    this.requeueAll('the carrier is stopping', 0)
    const deadline = Date.now() + this.timeoutMs
    while (this.links.some((link) => link.unanswered > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await Promise.all([this.receipts.idle(), this.incoming.idle()])
    await Promise.all(this.links.map((link) => link.stop()))
    if (this.queueTimer) clearInterval(this.queueTimer)
    this.queueTimer = null
    this.events = null
  }

  submit(messages: readonly CarrierMessage[]): Promise<SubmitOutcome>[] {
    const resolvers: ((outcome: SubmitOutcome) => void)[] = []
    const outcomes = messages.map(() => new Promise<SubmitOutcome>((resolve) => resolvers.push(resolve)))
    this.submitEach(messages, (i, outcome) => resolvers[i]?.(outcome))
    return outcomes
  }

  submitEach(messages: readonly CarrierMessage[], onOutcome: OutcomeHandler): void {
    const now = Date.now()
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index] as CarrierMessage
      if (this.stopping) {
        onOutcome(index, { kind: 'retry', reason: 'the carrier is stopping', afterMs: 0 })
        continue
      }
      if (!this.links.some((link) => link.canSubmit)) {
        onOutcome(index, { kind: 'retry', reason: this.notBoundReason(), afterMs: this.untilNextBindMs() })
        continue
      }
      this.queue.push({
        message,
        parts: this.encode(message),
        sent: 0,
        answers: [],
        answered: 0,
        aborted: false,
        queuedAt: now,
        settled: false,
        index,
        onOutcome,
      })
    }
    this.watchQueue()
    for (const link of this.links) link.pump()
  }

  /**
   * A message's parts. The 8-bit reference of the concatenation header is the same for every attempt
   * of a message. The last single-part text is kept encoded: a bulk send hands over the same text to
   * each receiver, one after the other.
   */
  private encode(message: CarrierMessage): EncodedPart[] {
    const last = this.lastEncoded
    if (
      last &&
      last.text === message.text &&
      last.encoding === message.encoding &&
      last.smsClass === message.smsClass
    ) {
      return last.parts
    }
    const parts = encodeText(message.text, message.encoding, message.outgoingId & 0xff, message.smsClass)
    // Several parts carry the message's own reference: never shared.
    this.lastEncoded =
      parts.length === 1
        ? { text: message.text, encoding: message.encoding, smsClass: message.smsClass, parts }
        : null
    return parts
  }

  state(): CarrierState {
    const sessions: SessionState[] = this.links.map((link) => link.state())
    const up = this.links.some((link) => link.canSubmit) && this.links.some((link) => link.canReceive)
    const connecting = !this.stopping && this.links.some((link) => link.status !== 'stopped')
    return {
      name: this.name,
      kind: 'smpp',
      status: up ? 'up' : connecting ? 'connecting' : 'down',
      detail: up ? null : (this.links.find((link) => link.lastError)?.lastError ?? null),
      inFlight: this.links.reduce((sum, link) => sum + link.unanswered, 0),
      queued: this.queue.length - this.queueHead,
      sessions,
    }
  }

  // ---------------------------------------------------------------- what the sessions use

  get timeoutMs(): number {
    return this.settings.timeoutS * 1000
  }

  get config(): SmppCarrierSettings {
    return this.settings
  }

  get logger(): FastifyBaseLogger {
    return this.log
  }

  get isStopping(): boolean {
    return this.stopping
  }

  notifyBound(ok: boolean): void {
    this.observer?.bound(this.name, ok)
  }

  /** The next waiting message, oldest first. */
  takeNext(): Submission | null {
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead] as Submission
      this.queueHead++
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead)
        this.queueHead = 0
      }
      if (!next.settled) return next
    }
    return null
  }

  /** The submit_sm of one part. */
  submitFields(submission: Submission, index: number): SubmitSmFields {
    const { message } = submission
    const part = submission.parts[index] as EncodedPart
    const source = this.sourceOf(message.sender)
    return {
      source_addr_ton: this.settings.sourceTon ?? source.ton,
      source_addr_npi: this.settings.sourceNpi ?? source.npi,
      source_addr: source.address,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: message.receiver.charCodeAt(0) === 43 ? message.receiver.slice(1) : message.receiver,
      esm_class: part.esm_class,
      registered_delivery: this.settings.registeredDelivery,
      data_coding: part.data_coding,
      short_message: part.short_message,
      ...(message.validUntil ? { validity_period: message.validUntil } : {}),
    }
  }

  /** The last sender's address, kept: a bulk send has one sender. */
  private sourceOf(sender: string): ReturnType<typeof sourceAddress> {
    if (this.lastSource?.sender !== sender) this.lastSource = { sender, source: sourceAddress(sender) }
    return this.lastSource.source
  }

  /** One part's answer: the message is answered once every part sent is, and nothing is left to send. */
  answered(submission: Submission, index: number, answer: Submission['answers'][number]): void {
    submission.answers[index] = answer
    submission.answered++
    this.settleIfDone(submission)
  }

  /** Its session was lost: the parts not sent will not be. */
  abort(submission: Submission): void {
    submission.aborted = true
    this.settleIfDone(submission)
  }

  /** Every transmitting session is gone: what waits goes back to the database. */
  linkDown(): void {
    if (!this.links.some((link) => link.canSubmit)) {
      this.requeueAll(this.notBoundReason(), this.untilNextBindMs())
    }
  }

  /** A bound session: it may take what waits. */
  linkUp(): void {
    for (const link of this.links) link.pump()
  }

  deliver(link: Link, session: SmppSession, pdu: Pdu): void {
    const type = Number(pdu.esm_class ?? 0) & 0x3c
    if (RECEIPT_TYPES.has(type)) {
      const report = this.readReceipt(pdu)
      if (!report) {
        this.observer?.delivered(this.name, 'refused')
        this.log.warn({ role: link.role }, 'a receipt without a message id or a state was refused')
        session.respond(pdu, {}, STATUS.ESME_RX_R_APPN)
        return
      }
      this.observer?.delivered(this.name, 'receipt')
      this.afterCommit(this.receipts.add(report), session, pdu)
      return
    }
    if (type !== 0) {
      // An SME or user acknowledgement: nothing of ours follows from it.
      session.respond(pdu)
      return
    }
    const decoded = decodeText(pdu)
    if (!decoded.ok) {
      this.observer?.delivered(this.name, 'refused')
      this.log.warn({ role: link.role, reason: decoded.reason }, 'an incoming message was refused')
      session.respond(pdu, {}, decoded.status)
      return
    }
    const part = decoded.concatenation ?? sarConcatenation(pdu)
    this.observer?.delivered(this.name, 'incoming')
    this.afterCommit(
      this.incoming.add({
        from: String(pdu.source_addr ?? ''),
        to: String(pdu.destination_addr ?? ''),
        text: decoded.text,
        at: this.clock.now(),
        ...(part ? { part } : {}),
      }),
      session,
      pdu,
    )
  }

  // ---------------------------------------------------------------- inside

  private requireEvents(): CarrierEvents {
    if (!this.events) throw new Error(`carrier ${this.name} is not started`)
    return this.events
  }

  /** deliver_sm_resp once the event is committed; a failure to commit makes the SMSC send it again. */
  private afterCommit(committed: Promise<void>, session: SmppSession, pdu: Pdu): void {
    committed.then(
      () => session.respond(pdu),
      (error) => {
        this.log.error(
          { err: error },
          'a deliver_sm could not be recorded; the SMSC is asked to send it again',
        )
        session.respond(pdu, {}, STATUS.ESME_RX_T_APPN)
      },
    )
  }

  private readReceipt(pdu: Pdu): CarrierReport | null {
    const parsed = parseReceipt(bytesOf(pdu.short_message) || bytesOf(pdu.message_payload))
    const tlvId = typeof pdu.receipted_message_id === 'string' ? pdu.receipted_message_id.trim() : ''
    const id = tlvId || parsed?.id
    const state =
      typeof pdu.message_state === 'number' ? STATE_OF_MESSAGE_STATE.get(pdu.message_state) : undefined
    const receiptState = state ?? parsed?.state
    if (!id || !receiptState) return null
    return { carrierMessageId: id, ...statusOfReceipt(receiptState), at: this.clock.now() }
  }

  private settleIfDone(submission: Submission): void {
    if (submission.settled) return
    const allSent = submission.aborted || submission.sent === submission.parts.length
    if (!allSent || submission.answered < submission.sent) return
    submission.settled = true
    const outcome = this.outcomeOf(submission)
    this.observer?.submitted(this.name, outcome.kind, submission.parts.length)
    submission.onOutcome(submission.index, outcome)
  }

  private outcomeOf(submission: Submission): SubmitOutcome {
    const failed = submission.answers.find((a) => 'error' in a)
    if (submission.aborted || failed) {
      const reason =
        failed && 'error' in failed ? failed.error : 'the session was lost before every part was sent'
      // Another session can take it now; with none left, it waits for the next bind (in the database).
      const afterMs = this.links.some((link) => link.canSubmit) ? 0 : this.untilNextBindMs()
      return { kind: 'retry', reason: `no answer: ${reason}`, afterMs }
    }
    const answers = submission.answers as { status: number; id: string }[]
    const refused = answers.find((a) => a.status !== STATUS.ESME_ROK)
    if (refused) return submitRefusal(refused.status)
    return {
      kind: 'accepted',
      // An SMSC that gives no id cannot have its receipts matched; the id stays unique all the same.
      carrierMessageIds: answers.map((a, i) => a.id || `none:${submission.message.outgoingId}:${i + 1}`),
      status: { ptt: 3, dlr: 8 },
    }
  }

  private requeueAll(reason: string, afterMs: number): void {
    for (let submission = this.takeNext(); submission; submission = this.takeNext()) {
      submission.settled = true
      submission.onOutcome(submission.index, { kind: 'retry', reason, afterMs })
    }
  }

  /** Every second while messages wait: the ones that waited too long go back to the database. */
  private watchQueue(): void {
    if (this.queueTimer) return
    this.queueTimer = setInterval(() => {
      const oldest = Date.now() - QUEUE_TIMEOUT_MS
      while (this.queueHead < this.queue.length) {
        const next = this.queue[this.queueHead] as Submission
        if (!next.settled && next.queuedAt > oldest) break
        this.queueHead++
        if (!next.settled) {
          next.settled = true
          next.onOutcome(next.index, { kind: 'retry', reason: 'no window slot freed in time', afterMs: 0 })
        }
      }
      if (this.queueHead >= this.queue.length && this.queueTimer) {
        clearInterval(this.queueTimer)
        this.queueTimer = null
        this.queue = []
        this.queueHead = 0
      }
    }, 1000)
    this.queueTimer.unref()
  }

  private notBoundReason(): string {
    const error = this.links.find((link) => link.lastError)?.lastError
    return `not bound to the SMSC${error ? ` (${error})` : ''}`
  }

  private untilNextBindMs(): number {
    const next = Math.min(...this.links.map((link) => link.nextAttemptAt))
    return Math.max(250, Number.isFinite(next) ? next - Date.now() : 1000)
  }
}

/** A sender as SMPP addresses it: alphanumeric (TON 5, NPI 0), short code (3, 1), number (1, 1). */
function sourceAddress(sender: string): { address: string; ton: number; npi: number } {
  if (/^\+?\d+$/.test(sender)) {
    const digits = sender.replace(/^\+/, '')
    return digits.length <= 8 ? { address: digits, ton: 3, npi: 1 } : { address: digits, ton: 1, npi: 1 }
  }
  return { address: sender, ton: 5, npi: 0 }
}

/** A receipt's text: its bytes as Latin-1 (receipts are ASCII; GSM decoding would change `_` or `@`). */
function bytesOf(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('latin1')
  return typeof value === 'string' ? value : ''
}

/** Concatenation given by the sar_* TLVs instead of a user data header. */
function sarConcatenation(pdu: Pdu): CarrierIncoming['part'] | null {
  const reference = pdu.sar_msg_ref_num
  const total = pdu.sar_total_segments
  const sequence = pdu.sar_segment_seqnum
  if (typeof reference !== 'number' || typeof total !== 'number' || typeof sequence !== 'number') return null
  if (total < 1 || sequence < 1 || sequence > total) return null
  return { reference, total, sequence }
}

/**
 * One connection of the carrier to its SMSC, in one role, for the life of the carrier: connect, bind,
 * serve until the connection ends, wait (backoff: reconnectS doubled after each failure, up to a
 * minute, ±20 %), again.
 */
class Link {
  status: SessionState['state'] = 'connecting'
  lastError: string | null = null
  /** Real time (Date.now) of the next connection attempt while waiting. */
  nextAttemptAt = Number.POSITIVE_INFINITY
  unanswered = 0
  private session: SmppSession | null = null
  private boundSince: Date | null = null
  private failures = 0
  private current: Submission | null = null
  private nextSendAt = 0
  private pausedUntil = 0
  private pumpTimer: NodeJS.Timeout | null = null
  private enquireTimer: NodeJS.Timeout | null = null
  private wakeUp: (() => void) | null = null
  private loop: Promise<void> | null = null
  private unbound = false

  constructor(
    private readonly carrier: SmppCarrier,
    readonly role: 'transceiver' | 'transmitter' | 'receiver',
  ) {}

  /** Read through a method: the state changes while an attempt awaits. */
  private stopped(): boolean {
    return this.status === 'stopped'
  }

  /**
   * Bound, and its connection still open: between the socket's close and the end of the attempt
   * (microtasks apart) the status still reads bound, and nothing may be sent on a closed session.
   */
  get canSubmit(): boolean {
    return this.status === 'bound' && this.role !== 'receiver' && this.session?.isOpen === true
  }

  get canReceive(): boolean {
    return this.status === 'bound' && this.role !== 'transmitter'
  }

  state(): SessionState {
    return {
      role: this.role,
      state: this.status,
      boundSince: this.boundSince,
      lastError: this.lastError,
      unanswered: this.unanswered,
    }
  }

  /** Starts the connection loop; resolves after its first attempt. */
  start(): Promise<void> {
    return new Promise((firstAttempt) => {
      this.loop = this.run(firstAttempt)
    })
  }

  async stop(): Promise<void> {
    const session = this.session
    if (session && this.status === 'bound') {
      this.status = 'stopped'
      await session.request('unbind', {}, this.carrier.timeoutMs).catch(() => {})
      await session.close()
    }
    this.status = 'stopped'
    this.wakeUp?.()
    await this.loop
  }

  /** Sends what waits, within the window and the throughput, while bound. */
  pump(): void {
    const { window, throughput } = this.carrier.config
    while (this.canSubmit && this.session && this.unanswered < window) {
      const now = Date.now()
      const at = Math.max(this.nextSendAt, this.pausedUntil)
      if (at > now) {
        if (!this.pumpTimer) {
          this.pumpTimer = setTimeout(() => {
            this.pumpTimer = null
            this.pump()
          }, at - now)
        }
        return
      }
      if (!this.current) this.current = this.carrier.takeNext()
      const submission = this.current
      if (!submission) return
      this.session.corkUntilNextTick()
      if (throughput > 0) this.nextSendAt = Math.max(this.nextSendAt, now) + 1000 / throughput
      const index = submission.sent++
      if (submission.sent === submission.parts.length) this.current = null
      this.send(this.session, submission, index)
    }
  }

  private send(session: SmppSession, submission: Submission, index: number): void {
    this.unanswered++
    session.sendSubmitSm(
      this.carrier.submitFields(submission, index),
      this.carrier.timeoutMs,
      (response, error) => {
        this.unanswered--
        if (response) {
          const status = response.command_status
          if (status === STATUS.ESME_RTHROTTLED || status === STATUS.ESME_RMSGQFUL) {
            // Slow down for the wait the refusal table gives before retrying.
            this.pausedUntil = Date.now() + 1000
          }
          const id = typeof response.message_id === 'string' ? response.message_id : ''
          this.carrier.answered(submission, index, { status, id })
        } else {
          this.carrier.answered(submission, index, { error: error?.message ?? 'no answer' })
        }
        this.pump()
      },
    )
  }

  private async run(firstAttempt: () => void): Promise<void> {
    while (!this.stopped()) {
      await this.attempt(firstAttempt)
      firstAttempt()
      if (this.stopped() || this.carrier.isStopping) break
      const base = this.carrier.config.reconnectS * 1000
      const wait =
        Math.min(MAX_RECONNECT_MS, base * 2 ** Math.min(this.failures, 16)) * (0.8 + Math.random() * 0.4)
      this.status = 'waiting'
      this.nextAttemptAt = Date.now() + wait
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait)
        this.wakeUp = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wakeUp = null
    }
    this.status = 'stopped'
    this.nextAttemptAt = Number.POSITIVE_INFINITY
  }

  /** One connection, from connect to close (or to the failure to connect or bind). */
  private async attempt(firstAttempt: () => void): Promise<void> {
    const { config, timeoutMs, logger } = this.carrier
    this.status = 'connecting'
    this.nextAttemptAt = Number.POSITIVE_INFINITY
    this.unbound = false
    let session: SmppSession
    try {
      session = await connectSmpp({
        host: config.host,
        port: config.port,
        timeoutMs,
        ...(config.tls ? { tls: tlsOptions(config) } : {}),
      })
    } catch (error) {
      this.failed(`cannot connect: ${(error as Error).message}`)
      return
    }
    const closed = new Promise<Error | null>((resolve) => session.onClose(resolve))
    session.onRequest((pdu) => this.onRequest(session, pdu))
    const command =
      this.role === 'transceiver'
        ? 'bind_transceiver'
        : this.role === 'transmitter'
          ? 'bind_transmitter'
          : 'bind_receiver'
    let status: number
    try {
      const response = await session.request(
        command,
        {
          system_id: config.systemId,
          password: config.password,
          system_type: config.systemType,
          interface_version: 0x34,
        },
        timeoutMs,
      )
      status = response.command_status
    } catch (error) {
      this.failed(`no answer to ${command}: ${(error as Error).message}`)
      session.destroy()
      await closed
      return
    }
    if (status !== STATUS.ESME_ROK || this.stopped()) {
      if (status !== STATUS.ESME_ROK) this.failed(`the SMSC refused ${command}: ${statusName(status)}`)
      session.destroy()
      await closed
      return
    }
    this.session = session
    this.status = 'bound'
    this.boundSince = new Date()
    this.failures = 0
    this.carrier.notifyBound(true)
    logger.info({ role: this.role }, 'bound to the SMSC')
    this.enquireTimer = setInterval(() => {
      session.request('enquire_link', {}, timeoutMs).catch(() => {
        // No answer: the connection is dead, whatever TCP says.
        if (session.isOpen) {
          this.lastError = 'no answer to enquire_link'
          session.destroy()
        }
      })
    }, config.enquireLinkS * 1000)
    this.enquireTimer.unref()
    firstAttempt()
    this.carrier.linkUp()
    const error = await closed
    if (this.enquireTimer) clearInterval(this.enquireTimer)
    this.enquireTimer = null
    if (this.pumpTimer) clearTimeout(this.pumpTimer)
    this.pumpTimer = null
    this.session = null
    this.boundSince = null
    if (!this.stopped()) {
      this.status = 'waiting'
      this.lastError = this.unbound
        ? 'the SMSC unbound the session'
        : this.lastError === 'no answer to enquire_link'
          ? this.lastError
          : `the connection was lost${error ? ` (${error.message})` : ''}`
      logger.warn({ role: this.role, reason: this.lastError }, 'SMPP session ended; rebinding')
    }
    const current = this.current
    this.current = null
    if (current) this.carrier.abort(current)
    this.carrier.linkDown()
  }

  private failed(reason: string): void {
    this.failures++
    this.lastError = reason
    this.carrier.notifyBound(false)
    this.carrier.logger.warn({ role: this.role, reason, failures: this.failures }, 'cannot bind to the SMSC')
  }

  private onRequest(session: SmppSession, pdu: Pdu): void {
    switch (pdu.command) {
      case 'enquire_link':
        session.respond(pdu)
        return
      case 'unbind':
        this.unbound = true
        session.respond(pdu)
        void session.close()
        return
      case 'deliver_sm':
        this.carrier.deliver(this, session, pdu)
        return
      default:
        session.respond(pdu, {}, STATUS.ESME_RINVCMDID)
    }
  }
}

function tlsOptions(config: SmppCarrierSettings) {
  return {
    ...(isIP(config.host) ? {} : { servername: config.host }),
    ...(config.tlsCa ? { ca: readFileSync(config.tlsCa) } : {}),
    minVersion: 'TLSv1.2' as const,
  }
}
