import { formatReceipt, MESSAGE_STATE, type ReceiptState } from '../../src/smpp/receipt.js'
import { listenSmpp, type Pdu, type SmppListener, type SmppSession, STATUS } from '../../src/smpp/session.js'
import { decodeText, encodeText } from '../../src/smpp/short-message.js'

/**
 * An SMSC played by the `smpp` library's server (through src/smpp/session.ts), on 127.0.0.1, for the
 * carrier tests. It binds (or refuses to), answers every submit_sm by `answer` (a status, a delay, or
 * holding it), and counts what a real SMSC's operator would watch: submits unanswered at once (the
 * window), submits per second (the throughput), binds, enquire_links. It sends receipts and incoming
 * messages, and records how each deliver_sm was answered.
 */

export type Submit = {
  pdu: Pdu
  /** Date.now() when it arrived. */
  at: number
  session: SmppSession
  /** The message_id answered (also for refusals, so a test can tell them apart). */
  messageId: string
  destination: string
  source: string
  text: string
}

export type SubmitAnswer = {
  status?: number
  /** Answer after this many milliseconds. */
  delayMs?: number
  /** Never answer (until the connection drops). */
  hold?: boolean
  /** Before answering, send the receipt of this message (a receipt that overtakes its submit_sm_resp). */
  receiptFirst?: ReceiptState
}

type Bound = { session: SmppSession; command: string }

export class FakeSmsc {
  readonly submits: Submit[] = []
  readonly binds: { command: string; systemId: string; password: string; status: number }[] = []
  readonly enquireLinks: number[] = []
  /** How the carrier answered each deliver_sm we sent: its command_status. */
  readonly deliverAnswers: number[] = []
  /** The status bind_* are answered with. */
  bindStatus: number = STATUS.ESME_ROK
  /** How submit_sm #n (0-based, over the SMSC's life) is answered. */
  answer: (submit: Submit, n: number) => SubmitAnswer = () => ({})
  unanswered = 0
  maxUnanswered = 0
  private readonly sessions = new Set<SmppSession>()
  private readonly bound: Bound[] = []
  private sequence = 0

  private constructor(private readonly listener: SmppListener) {}

  /** Listens on 127.0.0.1 (`port` 0: a free one); over TLS with this key and certificate when given. */
  static async start(port = 0, tls?: { key: string | Buffer; cert: string | Buffer }): Promise<FakeSmsc> {
    let smsc: FakeSmsc | null = null
    const listener = await listenSmpp({ host: '127.0.0.1', port, ...(tls ? { tls } : {}) }, (session) =>
      smsc?.accept(session),
    )
    smsc = new FakeSmsc(listener)
    return smsc
  }

  get port(): number {
    return this.listener.address().port
  }

  /** Sessions bound now that can carry deliver_sm (transceiver or receiver). */
  receivers(): SmppSession[] {
    return this.bound
      .filter((b) => b.command !== 'bind_transmitter' && b.session.isOpen)
      .map((b) => b.session)
  }

  boundCount(): number {
    return this.bound.filter((b) => b.session.isOpen).length
  }

  /** The largest number of submit_sm received within any one second (a window sliding by arrival). */
  maxPerSecond(): number {
    let max = 0
    let from = 0
    const times = this.submits.map((s) => s.at).sort((a, b) => a - b)
    for (let to = 0; to < times.length; to++) {
      while ((times[to] as number) - (times[from] as number) >= 1000) from++
      max = Math.max(max, to - from + 1)
    }
    return max
  }

  private accept(session: SmppSession): void {
    this.sessions.add(session)
    session.onClose(() => {
      this.sessions.delete(session)
      const index = this.bound.findIndex((b) => b.session === session)
      if (index >= 0) this.bound.splice(index, 1)
    })
    session.onRequest((pdu) => this.onRequest(session, pdu))
  }

  private onRequest(session: SmppSession, pdu: Pdu): void {
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver': {
        const status = this.bindStatus
        this.binds.push({
          command: pdu.command,
          systemId: String(pdu.system_id),
          password: String(pdu.password),
          status,
        })
        session.respond(pdu, { system_id: 'FAKESMSC' }, status)
        if (status === STATUS.ESME_ROK) this.bound.push({ session, command: pdu.command })
        return
      }
      case 'enquire_link':
        this.enquireLinks.push(Date.now())
        session.respond(pdu)
        return
      case 'unbind':
        session.respond(pdu)
        void session.close()
        return
      case 'submit_sm':
        this.onSubmit(session, pdu)
        return
      default:
        session.respond(pdu, {}, STATUS.ESME_RINVCMDID)
    }
  }

  private onSubmit(session: SmppSession, pdu: Pdu): void {
    const n = this.submits.length
    const decoded = decodeText(pdu)
    const submit: Submit = {
      pdu,
      at: Date.now(),
      session,
      messageId: `smsc-${++this.sequence}`,
      destination: String(pdu.destination_addr),
      source: String(pdu.source_addr),
      text: decoded.ok ? decoded.text : `(undecodable: ${decoded.reason})`,
    }
    this.submits.push(submit)
    this.unanswered++
    this.maxUnanswered = Math.max(this.maxUnanswered, this.unanswered)
    const answer = this.answer(submit, n)
    const respond = async () => {
      if (answer.receiptFirst) await this.receipt(submit.messageId, answer.receiptFirst, { session })
      this.unanswered--
      session.respond(pdu, { message_id: submit.messageId }, answer.status ?? STATUS.ESME_ROK)
    }
    if (answer.hold) {
      session.onClose(() => {
        this.unanswered--
      })
      return
    }
    if (answer.delayMs) setTimeout(() => void respond(), answer.delayMs)
    else void respond()
  }

  /**
   * Sends a receipt and resolves with the carrier's deliver_sm_resp status. `via`: the
   * receipted_message_id TLV and message_state (the default), or the receipt text only.
   */
  async receipt(
    messageId: string,
    state: ReceiptState,
    options: { via?: 'tlv' | 'text'; session?: SmppSession; error?: number } = {},
  ): Promise<number> {
    const now = new Date()
    const text = formatReceipt({
      id: messageId,
      submitted: 1,
      delivered: state === 'DELIVRD' ? 1 : 0,
      submitDate: now,
      doneDate: now,
      state,
      error: options.error ?? 0,
      text: '',
    })
    const tlvs =
      (options.via ?? 'tlv') === 'tlv'
        ? { receipted_message_id: messageId, message_state: MESSAGE_STATE[state] }
        : {}
    return this.deliver(
      { esm_class: 0x04, short_message: Buffer.from(text, 'latin1'), ...tlvs },
      options.session,
    )
  }

  /** Sends an incoming message (in concatenated parts when long); resolves with each part's answer. */
  async incoming(from: string, to: string, text: string, reference = 7): Promise<number[]> {
    const encoding = /^[\x20-\x7e]*$/.test(text) ? '7bits' : 'unicode'
    const parts = encodeText(text, encoding, reference)
    const answers: number[] = []
    for (const part of parts) {
      answers.push(
        await this.deliver({
          source_addr_ton: 1,
          source_addr_npi: 1,
          source_addr: from,
          dest_addr_ton: 1,
          dest_addr_npi: 1,
          destination_addr: to,
          ...part,
        }),
      )
    }
    return answers
  }

  /** A deliver_sm on the given session (else the first receiving one); its answer's status. */
  async deliver(fields: Record<string, unknown>, session?: SmppSession): Promise<number> {
    const target = session ?? this.receivers()[0]
    if (!target) throw new Error('no bound session to deliver to')
    const response = await target.request('deliver_sm', fields, 10_000)
    this.deliverAnswers.push(response.command_status)
    return response.command_status
  }

  /** Drops every connection at once (a crash, a network cut). */
  dropAll(): void {
    for (const session of this.sessions) session.destroy()
  }

  /** Asks every bound session to unbind, as an SMSC does before maintenance. */
  async unbindAll(): Promise<void> {
    await Promise.all(this.bound.map((b) => b.session.request('unbind', {}, 5000).catch(() => undefined)))
  }

  async close(): Promise<void> {
    this.dropAll()
    await this.listener.close()
  }
}

/** Waits for a condition, checking every 5 ms, with a deadline generous enough for a busy machine. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, ms = 15_000) {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
