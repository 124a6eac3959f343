import { timingSafeEqual } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import { ipAllowed } from '../fields/ip.js'
import type { SendQueue } from '../sending/service.js'
import {
  listenSmpp,
  type Pdu,
  type SmppListener,
  type SmppSession,
  STATUS,
  statusName,
} from '../smpp/session.js'
import { BindGuard } from './bind-guard.js'
import { checkSubmit, statusOfRefusal } from './submit.js'

export type BindMode = 'transmitter' | 'receiver' | 'transceiver'
export const BIND_MODES: readonly BindMode[] = ['transmitter', 'receiver', 'transceiver']

/** Why a bind was refused (metrics label). */
export type BindRefusal = 'throttled' | 'credentials' | 'address' | 'limit' | 'state' | 'disabled'

/** What the server tells its owner (metrics, the receipt dispatcher). */
export type SmppServerEvents = {
  onBindRefused?(reason: BindRefusal): void
  onSubmit?(status: number): void
  /** A receive-capable session of the account bound: its waiting deliver_sm can go. */
  onReceiverBound?(accountId: number): void
}

/** A bound ESME session. */
export class BoundSession {
  /** Submits received and not answered yet (the window). */
  inFlight = 0
  /** Start of the current one-second throughput window, and submits accepted in it. */
  private windowStart = 0
  private windowCount = 0

  constructor(
    readonly session: SmppSession,
    readonly mode: BindMode,
    readonly accountId: number,
    readonly serviceName: string,
    readonly windowing: number,
    readonly throughput: number,
  ) {}

  get transmits(): boolean {
    return this.mode !== 'receiver'
  }
  get receives(): boolean {
    return this.mode !== 'transmitter'
  }

  /** Counts a submit in its second; false beyond `throughput`. */
  takeThroughput(nowMs: number): boolean {
    if (nowMs - this.windowStart >= 1000) {
      this.windowStart = nowMs
      this.windowCount = 0
    }
    if (this.windowCount >= this.throughput) return false
    this.windowCount++
    return true
  }
}

export type SmppServerDeps = {
  db: Db
  box: SecretBox
  clock: Clock
  log: FastifyBaseLogger
  queue: SendQueue
  settings: Config['smpp']
  tls: { key: string | Buffer; cert: string | Buffer } | null
  events?: SmppServerEvents
}

const sameText = (a: string, b: string) => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/**
 * The SMPP 3.4 server of smpp- accounts: binds checked by system ID, password and allowed IPs;
 * enquire_link and unbind both ways; each session unbound after SMPP_SESSION_MAX_S; submit_sm into
 * the send queue (committed before submit_sm_resp), bounded by each account's window and throughput.
 */
export class SmppServer {
  private readonly listeners: SmppListener[] = []
  private readonly open = new Set<SmppSession>()
  private readonly bound = new Map<number, Set<BoundSession>>()
  private readonly guard: BindGuard
  private closing = false

  constructor(private readonly deps: SmppServerDeps) {
    this.guard = new BindGuard(deps.clock, deps.settings.bindFailures, deps.settings.bindFailureWindowMs)
  }

  /** Starts the plain (SMPP_PORT) and TLS (SMPP_TLS_PORT) listeners; overrides for tests. */
  async listen(overrides: { port?: number; tlsPort?: number; host?: string } = {}): Promise<void> {
    const host = overrides.host ?? this.deps.settings.host
    const port = overrides.port ?? this.deps.settings.port
    const tlsPort = overrides.tlsPort ?? this.deps.settings.tlsPort
    if (port !== null) {
      this.listeners.push(await listenSmpp({ host, port }, (session) => this.accept(session)))
    }
    if (tlsPort !== null && this.deps.tls) {
      this.listeners.push(
        await listenSmpp({ host, port: tlsPort, tls: this.deps.tls }, (session) => this.accept(session)),
      )
    }
    for (const listener of this.listeners) {
      this.deps.log.info({ smpp: listener.address() }, 'SMPP server listening')
    }
  }

  /** host:port of each listener (plain first). */
  addresses(): { host: string; port: number }[] {
    return this.listeners.map((l) => l.address())
  }

  get listening(): boolean {
    return this.listeners.length > 0
  }

  /** Bound sessions by mode, for metrics. */
  sessionCounts(): Record<BindMode, number> {
    const counts: Record<BindMode, number> = { transmitter: 0, receiver: 0, transceiver: 0 }
    for (const sessions of this.bound.values()) for (const s of sessions) counts[s.mode]++
    return counts
  }

  /** A bound receive-capable session of the account in this process, if any. */
  receiverOf(accountId: number): BoundSession | null {
    for (const s of this.bound.get(accountId) ?? []) if (s.receives && s.session.isOpen) return s
    return null
  }

  /** Accounts with a bound receive-capable session here. */
  receivingAccounts(): number[] {
    return [...this.bound.entries()]
      .filter(([, sessions]) => [...sessions].some((s) => s.receives && s.session.isOpen))
      .map(([id]) => id)
  }

  /** Stops accepting, unbinds every session (waiting briefly for unbind_resp), closes them. */
  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.listeners.splice(0).map((l) => l.close()))
    await Promise.all(
      [...this.open].map(async (session) => {
        try {
          await session.request('unbind', {}, 2000)
        } catch {}
        session.destroy()
      }),
    )
  }

  private accept(session: SmppSession): void {
    if (this.closing) {
      session.destroy()
      return
    }
    this.open.add(session)
    let bound: BoundSession | null = null
    let maxAge: NodeJS.Timeout | null = null
    session.onClose(() => {
      this.open.delete(session)
      if (maxAge) clearTimeout(maxAge)
      if (bound) this.bound.get(bound.accountId)?.delete(bound)
    })
    session.onRequest((pdu) => {
      switch (pdu.command) {
        case 'bind_transmitter':
        case 'bind_receiver':
        case 'bind_transceiver': {
          if (bound) {
            this.deps.events?.onBindRefused?.('state')
            session.respond(pdu, {}, STATUS.ESME_RALYBND)
            return
          }
          void this.bind(session, pdu).then(
            (result) => {
              if (!result) return
              bound = result
              maxAge = setTimeout(() => void this.unbind(session), this.deps.settings.sessionMaxMs)
              maxAge.unref?.()
            },
            (err) => {
              this.deps.log.error({ err }, 'SMPP bind failed')
              session.respond(pdu, {}, STATUS.ESME_RSYSERR)
            },
          )
          return
        }
        case 'enquire_link':
          session.respond(pdu)
          return
        case 'unbind':
          session.respond(pdu)
          void session.close()
          return
        case 'submit_sm':
          if (!bound?.transmits) {
            session.respond(pdu, {}, STATUS.ESME_RINVBNDSTS)
            return
          }
          this.submit(bound, pdu)
          return
        case 'generic_nack':
          return
        case 'query_sm':
        case 'cancel_sm':
        case 'replace_sm':
        case 'submit_multi':
        case 'data_sm':
        case 'alert_notification':
          // Not supported by OVH's SMSC: answered in kind with "invalid command ID".
          session.respond(pdu, {}, STATUS.ESME_RINVCMDID)
          return
        default:
          // outbind and anything an ESME should not send us.
          session.nack(pdu.sequence_number, STATUS.ESME_RINVCMDID)
      }
    })
  }

  /** Unbinds (the server's side: max age, shutdown) and closes after unbind_resp or 5 s. */
  private async unbind(session: SmppSession): Promise<void> {
    try {
      await session.request('unbind', {}, 5000)
    } catch {}
    await session.close()
  }

  private async bind(session: SmppSession, pdu: Pdu): Promise<BoundSession | null> {
    const mode = pdu.command.replace('bind_', '') as BindMode
    const address = session.remoteAddress
    const refuse = (reason: BindRefusal, status: number) => {
      if (reason === 'credentials' || reason === 'address') this.guard.fail(address)
      this.deps.events?.onBindRefused?.(reason)
      this.deps.log.info({ remoteAddress: address, mode, refused: reason }, 'SMPP bind refused')
      session.respond(pdu, {}, status)
      return null
    }
    if (this.guard.throttled(address)) return refuse('throttled', STATUS.ESME_RBINDTHROTTLED)
    const systemId = String(pdu.system_id ?? '')
    const password = String(pdu.password ?? '')
    if (systemId === '' || systemId.length > 15) return refuse('credentials', STATUS.ESME_RINVSYSID)
    const account = await this.deps.db
      .selectFrom('smpp_accounts')
      .innerJoin('accounts', 'accounts.id', 'smpp_accounts.account_id')
      .select([
        'smpp_accounts.account_id',
        'smpp_accounts.password_enc',
        'smpp_accounts.allowed_ips',
        'smpp_accounts.throughput',
        'smpp_accounts.windowing',
        'accounts.service_name',
        'accounts.status',
      ])
      .where('smpp_accounts.system_id', '=', systemId)
      .executeTakeFirst()
    // A stranger (unknown system ID, or an address the account does not allow) learns nothing of
    // which part was wrong: ESME_RBINDFAIL. Only a peer from an allowed address hears "password".
    if (!account || !ipAllowed(address, account.allowed_ips)) {
      return refuse(account ? 'address' : 'credentials', STATUS.ESME_RBINDFAIL)
    }
    if (!sameText(this.deps.box.open(account.password_enc), password)) {
      return refuse('credentials', STATUS.ESME_RINVPASWD)
    }
    if (account.status !== 'enable') return refuse('disabled', STATUS.ESME_RBINDFAIL)
    const sessions = this.bound.get(account.account_id) ?? new Set<BoundSession>()
    const limit = this.deps.settings.bindsPerAccount
    const transmitting = [...sessions].filter((s) => s.transmits).length
    const receiving = [...sessions].filter((s) => s.receives).length
    if ((mode !== 'receiver' && transmitting >= limit) || (mode !== 'transmitter' && receiving >= limit)) {
      return refuse('limit', STATUS.ESME_RALYBND)
    }
    if (!session.isOpen) return null
    this.guard.succeed(address)
    const result = new BoundSession(
      session,
      mode,
      account.account_id,
      account.service_name,
      account.windowing,
      account.throughput,
    )
    sessions.add(result)
    this.bound.set(account.account_id, sessions)
    session.respond(pdu, { system_id: 'sms-mirror' })
    this.deps.log.info(
      { serviceName: account.service_name, mode, remoteAddress: address },
      'SMPP session bound',
    )
    if (result.receives) this.deps.events?.onReceiverBound?.(account.account_id)
    return result
  }

  private submit(bound: BoundSession, pdu: Pdu): void {
    const answer = (status: number, fields: Record<string, unknown> = {}) => {
      this.deps.events?.onSubmit?.(status)
      bound.session.respondCorked(pdu, fields, status)
    }
    if (bound.inFlight >= bound.windowing) {
      answer(STATUS.ESME_RTHROTTLED)
      return
    }
    const now = this.deps.clock.now()
    if (!bound.takeThroughput(now.getTime())) {
      answer(STATUS.ESME_RTHROTTLED)
      return
    }
    const checked = checkSubmit(pdu, bound.serviceName, now)
    if (!checked.ok) {
      this.deps.log.debug(
        { serviceName: bound.serviceName, status: statusName(checked.status), reason: checked.reason },
        'submit_sm refused',
      )
      answer(checked.status)
      return
    }
    bound.inFlight++
    this.deps.queue.submit(checked.request).then(
      (report) => {
        bound.inFlight--
        if (report.ids.length === 0) {
          // The destination replied STOP to this account (blacklisted): nothing was written.
          answer(STATUS.ESME_RINVDSTADR)
          return
        }
        answer(STATUS.ESME_ROK, { message_id: checked.request.messageId })
      },
      (error: unknown) => {
        bound.inFlight--
        const refusal = statusOfRefusal(error)
        if (refusal.status === STATUS.ESME_RSYSERR) {
          this.deps.log.error(
            { err: error, serviceName: bound.serviceName },
            'submit_sm could not be recorded',
          )
        }
        answer(refusal.status)
      },
    )
  }
}
