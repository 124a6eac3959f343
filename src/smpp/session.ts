import type { ConnectionOptions } from 'node:tls'
import smpp, { type RawPdu, type RawSession } from 'smpp'

/**
 * A small typed layer over the `smpp` package (0.5.1: PDU codec, sessions, client and server), the
 * only module that imports it. The SMPP server of smpp- accounts (src/smpp/server.ts) and the SMPP
 * carrier (src/carrier/) both speak through it.
 */

/** SMPP 3.4 command statuses we answer or meet, and OVH's own (0x400–0x402). */
export const STATUS = {
  ESME_ROK: 0x0000,
  ESME_RINVMSGLEN: 0x0001,
  ESME_RINVCMDLEN: 0x0002,
  ESME_RINVCMDID: 0x0003,
  ESME_RINVBNDSTS: 0x0004,
  ESME_RALYBND: 0x0005,
  ESME_RSYSERR: 0x0008,
  ESME_RINVSRCADR: 0x000a,
  ESME_RINVDSTADR: 0x000b,
  ESME_RINVMSGID: 0x000c,
  ESME_RBINDFAIL: 0x000d,
  ESME_RINVPASWD: 0x000e,
  ESME_RINVSYSID: 0x000f,
  ESME_RMSGQFUL: 0x0014,
  ESME_RINVESMCLASS: 0x0043,
  ESME_RSUBMITFAIL: 0x0045,
  ESME_RINVSRCTON: 0x0048,
  ESME_RINVSRCNPI: 0x0049,
  ESME_RINVDSTTON: 0x0050,
  ESME_RINVDSTNPI: 0x0051,
  ESME_RTHROTTLED: 0x0058,
  ESME_RINVSCHED: 0x0061,
  ESME_RINVEXPIRY: 0x0062,
  ESME_RX_T_APPN: 0x0064,
  /** ESME receiver permanent application error: the SMSC should not send this PDU again. */
  ESME_RX_R_APPN: 0x0065,
  ESME_RINVTLVVAL: 0x00c4,
  ESME_RDELIVERYFAILURE: 0x00fe,
  ESME_RUNKNOWNERR: 0x00ff,
  ESME_RINVDCS: 0x0104,
  /** OVH: too many bind attempts. */
  ESME_RBINDTHROTTLED: 0x0400,
  /** OVH: data coding not supported. */
  ESME_RUNSDATACODING: 0x0401,
  /** OVH: bytes that are not GSM 03.38. */
  ESME_RINVGSM7CODING: 0x0402,
} as const

export type Status = (typeof STATUS)[keyof typeof STATUS]

const STATUS_NAMES = new Map<number, string>(Object.entries(STATUS).map(([name, code]) => [code, name]))

/** `ESME_RTHROTTLED (0x58)`, for logs and errors. */
export function statusName(code: number): string {
  const hex = `0x${code.toString(16)}`
  const name = STATUS_NAMES.get(code)
  return name ? `${name} (${hex})` : hex
}

// Texts stay bytes: src/smpp/short-message.ts reads and writes them itself (data coding, UDH, GSM
// 03.38 checks). The library's own decoding guesses and cannot say what it could not read.
smpp.filters.message.decode = (value: unknown) => value
// Times too: the library reads a relative time against the real clock and an absolute one loosely;
// src/smpp-server/submit.ts reads the SMPP time text itself, against the injected clock.
smpp.filters.time.decode = (value: unknown) => value

// OVH's TLVs on deliver_sm: the id of the receipt's outgoing SMS / of the incoming SMS (≤ 64 bytes).
smpp.addTLV('ovh_outgoing_id', { id: 0x1401, type: smpp.types.tlv.cstring })
smpp.addTLV('ovh_incoming_id', { id: 0x1402, type: smpp.types.tlv.cstring })

/**
 * The fields of a submit_sm without TLVs, as the carrier sends them; the others are the SMPP 3.4
 * defaults (service_type and schedule_delivery_time empty, protocol_id, priority_flag,
 * replace_if_present_flag and sm_default_msg_id 0).
 */
export type SubmitSmFields = {
  source_addr_ton: number
  source_addr_npi: number
  source_addr: string
  dest_addr_ton: number
  dest_addr_npi: number
  destination_addr: string
  esm_class: number
  registered_delivery: number
  data_coding: number
  short_message: Buffer
  /** Absolute, written as the library writes a Date (YYMMDDhhmmsst00+, UTC). */
  validity_period?: Date
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n))

/** SMPP absolute time of a Date, in UTC, as the `smpp` library writes it. */
function smppTime(date: Date): string {
  return (
    String(date.getUTCFullYear()).slice(-2) +
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    String(Math.floor(date.getUTCMilliseconds() / 100)) +
    '00+'
  )
}

/**
 * A submit_sm written straight into its buffer: the bytes the library's PDU would write for the same
 * fields (test/smpp/wire.test.ts compares them), without its generic encoder (a filter pass over
 * every field, then a size pass, then a write pass, each looking fields up by name). The library's
 * session numbers it (sequence_number) and calls toBuffer when it sends it.
 */
class SubmitSmPdu {
  readonly command = 'submit_sm'
  sequence_number = 0

  constructor(private readonly fields: SubmitSmFields) {}

  isResponse(): boolean {
    return false
  }

  toBuffer(): Buffer {
    const f = this.fields
    if (f.short_message.length > 255) throw new RangeError('short_message longer than 255 bytes')
    const validity = f.validity_period ? smppTime(f.validity_period) : ''
    // Header 16; service_type 1; tons/npis 4; the three addresses; esm_class, protocol_id,
    // priority_flag 3; schedule_delivery_time 1; validity_period; registered_delivery,
    // replace_if_present_flag, data_coding, sm_default_msg_id, sm_length 5; the message.
    const length =
      16 +
      1 +
      4 +
      f.source_addr.length +
      1 +
      f.destination_addr.length +
      1 +
      3 +
      1 +
      validity.length +
      1 +
      5 +
      f.short_message.length
    const buffer = Buffer.allocUnsafe(length)
    buffer.writeUInt32BE(length, 0)
    buffer.writeUInt32BE(0x00000004, 4)
    buffer.writeUInt32BE(0, 8)
    buffer.writeUInt32BE(this.sequence_number, 12)
    let at = 16
    buffer[at++] = 0 // service_type
    buffer[at++] = f.source_addr_ton & 0xff
    buffer[at++] = f.source_addr_npi & 0xff
    at += buffer.write(f.source_addr, at, 'ascii')
    buffer[at++] = 0
    buffer[at++] = f.dest_addr_ton & 0xff
    buffer[at++] = f.dest_addr_npi & 0xff
    at += buffer.write(f.destination_addr, at, 'ascii')
    buffer[at++] = 0
    buffer[at++] = f.esm_class & 0xff
    buffer[at++] = 0 // protocol_id
    buffer[at++] = 0 // priority_flag
    buffer[at++] = 0 // schedule_delivery_time
    at += buffer.write(validity, at, 'ascii')
    buffer[at++] = 0
    buffer[at++] = f.registered_delivery & 0xff
    buffer[at++] = 0 // replace_if_present_flag
    buffer[at++] = f.data_coding & 0xff
    buffer[at++] = 0 // sm_default_msg_id
    buffer[at++] = f.short_message.length & 0xff
    f.short_message.copy(buffer, at)
    return buffer
  }
}

/** The bytes of a submit_sm of these fields, sequence number `sequence` (for tests). */
export function encodeSubmitSm(fields: SubmitSmFields, sequence: number): Buffer {
  const pdu = new SubmitSmPdu(fields)
  pdu.sequence_number = sequence
  return pdu.toBuffer()
}

/** A decoded PDU: the command, its header, and its fields (and TLVs) by their SMPP 3.4 names. */
export type Pdu = RawPdu

/** A session's request failed: the peer answered an error status, closed, or did not answer in time. */
export class SmppRequestError extends Error {
  constructor(
    message: string,
    /** The peer's command_status; null when it did not answer. */
    readonly status: number | null,
  ) {
    super(message)
    this.name = 'SmppRequestError'
  }
}

/** A request sent and not answered yet: what to call with its answer, and until when to wait. */
type Waiting = { answer: Answer; deadline: number; command: string; timeoutMs: number }

/** A request's answer: the response PDU (whatever its status), or why there is none. */
export type Answer = (response: Pdu | null, error: SmppRequestError | null) => void

/**
 * One SMPP session over one TCP (or TLS) connection, either side. `request` sends a PDU and resolves
 * with its response; `onRequest` hears every request the peer sends (answer it with `respond`).
 * A PDU the codec cannot read, or any socket error, ends the session (the library would otherwise
 * stop reading): a peer that sends garbage is disconnected, never left half-alive.
 */
export class SmppSession {
  private open = true
  /** By sequence number, in the order sent. */
  private readonly waiting = new Map<number, Waiting>()
  /** One timer for every request's deadline (not one each), armed for the earliest. */
  private deadlineTimer: NodeJS.Timeout | null = null
  private deadlineAt = Number.POSITIVE_INFINITY
  private readonly closeHandlers: ((error: Error | null) => void)[] = []
  private lastError: Error | null = null
  private writesHeld = false

  constructor(private readonly raw: RawSession) {
    // PDUs are small writes answered by small writes: Nagle's algorithm would hold each write until
    // the last one is acknowledged (tens of milliseconds with delayed ACKs), and a window with it.
    raw.socket.setNoDelay?.(true)
    raw.on('error', (error: Error) => {
      this.lastError = error
      raw.destroy()
    })
    raw.on('close', () => {
      if (!this.open) return
      this.open = false
      const reason = new SmppRequestError(
        `the session closed${this.lastError ? ` (${this.lastError.message})` : ''}`,
        null,
      )
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer)
      this.deadlineTimer = null
      const waiting = [...this.waiting.values()]
      this.waiting.clear()
      for (const w of waiting) w.answer(null, reason)
      for (const handler of this.closeHandlers) handler(this.lastError)
    })
    // Responses are matched here rather than by the library's callbacks: no closure per request.
    raw.on('pdu', (pdu: Pdu) => {
      if (!pdu.isResponse()) return
      const waiting = this.waiting.get(pdu.sequence_number)
      if (!waiting) return // answered too late, or never asked
      this.waiting.delete(pdu.sequence_number)
      waiting.answer(pdu, null)
    })
  }

  get isOpen(): boolean {
    return this.open
  }

  /** The peer's address, IPv4-mapped IPv6 shown as plain IPv4. */
  get remoteAddress(): string {
    return (this.raw.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
  }

  /** Requests sent and not answered yet. */
  get unanswered(): number {
    return this.waiting.size
  }

  /**
   * Holds this tick's writes and sends them together on the next one (one syscall, one wake-up of
   * the peer): a carrier refilling its window after a read of several responses sends its submit_sm
   * in one write instead of one each.
   */
  corkUntilNextTick(): void {
    if (!this.open || this.writesHeld) return
    this.writesHeld = true
    this.raw.socket.cork()
    process.nextTick(() => {
      this.writesHeld = false
      this.raw.socket.uncork()
    })
  }

  /**
   * Sends a request PDU; resolves with the response whatever its status (check `command_status`),
   * rejects when the session closes first, or after `timeoutMs` without an answer.
   */
  request(command: string, fields: Record<string, unknown>, timeoutMs: number): Promise<Pdu> {
    return new Promise((resolve, reject) =>
      this.send(command, fields, timeoutMs, (response, error) =>
        response ? resolve(response) : reject(error),
      ),
    )
  }

  /**
   * `request` without a Promise: `answer` is called once, with the response, or with the error when
   * the session is closed or closes first, or after `timeoutMs` without an answer. What a carrier
   * keeping a window full calls for each submit_sm.
   */
  send(command: string, fields: Record<string, unknown>, timeoutMs: number, answer: Answer): void {
    // A failure to send is answered on the next tick, as a response would be: never from inside the
    // caller's own loop.
    if (!this.open) {
      process.nextTick(answer, null, new SmppRequestError('the session is closed', null))
      return
    }
    this.sendPdu(new smpp.PDU(command, fields), command, timeoutMs, answer)
  }

  /** `send` of a submit_sm, written by its own encoder (SubmitSmPdu): what a carrier sends most. */
  sendSubmitSm(fields: SubmitSmFields, timeoutMs: number, answer: Answer): void {
    if (!this.open) {
      process.nextTick(answer, null, new SmppRequestError('the session is closed', null))
      return
    }
    this.sendPdu(new SubmitSmPdu(fields) as unknown as Pdu, 'submit_sm', timeoutMs, answer)
  }

  private sendPdu(pdu: Pdu, command: string, timeoutMs: number, answer: Answer): void {
    if (!this.raw.send(pdu)) {
      process.nextTick(answer, null, new SmppRequestError('the session is not writable', null))
      return
    }
    const deadline = Date.now() + timeoutMs
    this.waiting.set(pdu.sequence_number, { answer, deadline, command, timeoutMs })
    if (deadline < this.deadlineAt) this.armDeadline(deadline)
  }

  private armDeadline(at: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer)
    this.deadlineAt = at
    this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()))
    // The socket keeps the process alive while the session is open; this timer need not.
    this.deadlineTimer.unref()
  }

  /** Fails the requests whose time is up; the timer then waits for the earliest of the others. */
  private expire(): void {
    this.deadlineTimer = null
    this.deadlineAt = Number.POSITIVE_INFINITY
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    const expired: Waiting[] = []
    for (const [sequence, w] of this.waiting) {
      if (w.deadline <= now) {
        this.waiting.delete(sequence)
        expired.push(w)
      } else if (w.deadline < next) {
        next = w.deadline
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(next)
    for (const w of expired) {
      w.answer(null, new SmppRequestError(`no ${w.command}_resp within ${w.timeoutMs} ms`, null))
    }
  }

  /** Every request PDU the peer sends (responses go to their `request`). */
  onRequest(handler: (pdu: Pdu) => void): void {
    this.raw.on('pdu', (pdu: Pdu) => {
      if (!pdu.isResponse()) handler(pdu)
    })
  }

  onClose(handler: (error: Error | null) => void): void {
    if (!this.open) handler(this.lastError)
    else this.closeHandlers.push(handler)
  }

  /** Answers a request; `status` other than ESME_ROK sends the response with no body. */
  respond(pdu: Pdu, fields: Record<string, unknown> = {}, status: number = STATUS.ESME_ROK): void {
    if (!this.open) return
    this.raw.send(pdu.response(status === STATUS.ESME_ROK ? fields : { ...fields, command_status: status }))
  }

  /**
   * `respond`, written together with every other response given in the same tick
   * (`corkUntilNextTick`), so the answers of one group-commit batch leave in one write (one
   * syscall, one wake-up of the peer) instead of one each.
   */
  respondCorked(pdu: Pdu, fields: Record<string, unknown> = {}, status: number = STATUS.ESME_ROK): void {
    if (!this.open) return
    this.corkUntilNextTick()
    this.respond(pdu, fields, status)
  }

  /** Sends generic_nack for a PDU that cannot be answered in kind. */
  nack(sequenceNumber: number, status: number): void {
    if (!this.open) return
    this.raw.send(new smpp.PDU('generic_nack', { sequence_number: sequenceNumber, command_status: status }))
  }

  /** Ends the connection after what was written (the peer sees a clean close). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.open) return resolve()
      this.onClose(() => resolve())
      this.raw.close()
    })
  }

  destroy(): void {
    this.raw.destroy()
  }
}

export type ConnectOptions = {
  host: string
  port: number
  /** TLS options (servername, ca…), or true for defaults; absent: plain TCP. */
  tls?: ConnectionOptions | true
  timeoutMs: number
  /** Local address the socket binds to (tests connect from 127.0.0.2). */
  localAddress?: string
}

/** Opens a session to an SMSC; rejects when the connection cannot be made in time. */
export function connectSmpp(options: ConnectOptions): Promise<SmppSession> {
  return new Promise((resolve, reject) => {
    const tlsOptions = options.tls === true ? {} : options.tls
    const raw = smpp.connect({
      host: options.host,
      port: options.port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(tlsOptions ? { tls: true, ...tlsOptions } : {}),
    })
    const timer = setTimeout(() => {
      raw.destroy()
      reject(
        new SmppRequestError(
          `no connection to ${options.host}:${options.port} within ${options.timeoutMs} ms`,
          null,
        ),
      )
    }, options.timeoutMs)
    const fail = (error: Error) => {
      clearTimeout(timer)
      reject(error)
    }
    // Errors after the first (a reset during the handshake) must not go unheard: an EventEmitter
    // 'error' with no listener throws.
    raw.on('error', () => {})
    raw.once('error', fail)
    raw.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer)
      raw.off('error', fail)
      resolve(new SmppSession(raw))
    })
  })
}

export type SmppListener = {
  /** host:port actually listened on (port 0 picks one). */
  address(): { host: string; port: number }
  /** Stops accepting; open sessions are left to their owner. */
  close(): Promise<void>
}

/** Listens for ESMEs; each connection becomes a session handed to `onSession`. */
export function listenSmpp(
  options: { host: string; port: number; tls?: { key: string | Buffer; cert: string | Buffer } },
  onSession: (session: SmppSession) => void,
): Promise<SmppListener> {
  const server = smpp.createServer(
    options.tls ? { key: options.tls.key, cert: options.tls.cert } : {},
    (raw) => onSession(new SmppSession(raw)),
  )
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      // A failed TLS handshake or a reset before the session exists must not take the process down.
      server.on('error', () => {})
      server.on('tlsClientError', () => {})
      const address = server.address()
      resolve({
        address: () =>
          typeof address === 'object' && address
            ? { host: address.address, port: address.port }
            : { host: options.host, port: options.port },
        close: () => new Promise<void>((done) => server.close(() => done())),
      })
    })
  })
}
