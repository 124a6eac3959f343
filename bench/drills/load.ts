import { type Keys, nowSeconds, receiverFor, signedHeaders } from '../../test/support/signing.js'
import { sleep } from './harness.js'
import { LOGIN, MESSAGE, PASSWORD, SENDER, SERVICE } from './setup.js'

/** The drills' load: a few clients sending one request at a time, every answer recorded. */

export type Kind = 'jobs' | 'http2sms'

/** One request of the load and what came of it. */
export type Outcome = {
  n: number
  receiver: string
  kind: Kind
  startedAt: number
  ms: number
  /** HTTP status; null when no answer came (connection refused or reset, timeout). */
  status: number | null
  error: string | null
  accepted: boolean
  ids: number[]
  body: string
}

/**
 * A few clients in this process, each sending one request at a time (one new receiver each) with a
 * pause between them: signed POST …/users/{login}/jobs and http2sms GETs. Every answer is recorded.
 */
export class Load {
  readonly outcomes: Outcome[] = []
  private next = 1
  private stopped = false
  private running: Promise<void>[] = []

  constructor(
    private readonly base: string,
    private readonly keys: Keys,
    private readonly options: {
      jobsClients: number
      http2smsClients: number
      paceMs: number
      timeoutMs: number
    },
  ) {}

  start(): void {
    const { jobsClients, http2smsClients } = this.options
    for (let i = 0; i < jobsClients; i++) this.running.push(this.client('jobs'))
    for (let i = 0; i < http2smsClients; i++) this.running.push(this.client('http2sms'))
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.running)
  }

  accepted(): Outcome[] {
    return this.outcomes.filter((o) => o.accepted)
  }

  acceptedSince(at: number): number {
    return this.outcomes.filter((o) => o.accepted && o.startedAt >= at).length
  }

  /** Answers by status ('none' for no answer), e.g. `200 ×310, 503 ×40`. */
  statusDigest(since = 0): string {
    const counts = new Map<string, number>()
    for (const o of this.outcomes) {
      if (o.startedAt < since) continue
      const key = o.status === null ? 'no answer' : String(o.status)
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return [...counts.entries()].map(([k, n]) => `${k} ×${n}`).join(', ')
  }

  private async client(kind: Kind): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.send(kind, this.next++)
      this.outcomes.push(outcome)
      // No answer at all (the server is down): do not spin.
      await sleep(outcome.status === null ? 150 : this.options.paceMs)
    }
  }

  /** One more request of `kind` (a new receiver), recorded like the clients' ones. */
  async probe(kind: Kind): Promise<Outcome> {
    const outcome = await this.send(kind, this.next++)
    this.outcomes.push(outcome)
    return outcome
  }

  /** One request of `kind` to receiver n, classified. */
  async send(kind: Kind, n: number): Promise<Outcome> {
    const receiver = receiverFor(n)
    const startedAt = Date.now()
    const outcome: Outcome = {
      n,
      receiver,
      kind,
      startedAt,
      ms: 0,
      status: null,
      error: null,
      accepted: false,
      ids: [],
      body: '',
    }
    try {
      const response = kind === 'jobs' ? await this.jobs(receiver) : await this.http2sms(receiver)
      outcome.status = response.status
      outcome.body = await response.text()
      outcome.ms = Date.now() - startedAt
      if (response.status === 200) {
        const body = JSON.parse(outcome.body) as { ids?: number[]; status?: number; SmsIds?: string[] }
        outcome.ids =
          kind === 'jobs' ? (body.ids ?? []) : body.status === 100 ? (body.SmsIds ?? []).map(Number) : []
        outcome.accepted = outcome.ids.length === 1
      }
    } catch (error) {
      outcome.ms = Date.now() - startedAt
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      outcome.error = cause?.code ?? cause?.message ?? (error as Error).name ?? String(error)
    }
    return outcome
  }

  jobs(receiver: string): Promise<Response> {
    const path = `/1.0/sms/${SERVICE}/users/${LOGIN}/jobs`
    const body = JSON.stringify({
      message: MESSAGE,
      sender: SENDER,
      receivers: [receiver],
      noStopClause: true,
    })
    const { host: _host, ...headers } = signedHeaders(
      this.keys,
      'POST',
      path,
      body,
      nowSeconds(),
      new URL(this.base).host,
    )
    return fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    })
  }

  http2sms(receiver: string): Promise<Response> {
    const query = new URLSearchParams({
      account: SERVICE,
      login: LOGIN,
      password: PASSWORD,
      from: SENDER,
      to: receiver,
      message: MESSAGE,
      noStop: '1',
      contentType: 'application/json',
    })
    return fetch(`${this.base}/cgi-bin/sms/http2sms.cgi?${query}`, {
      signal: AbortSignal.timeout(this.options.timeoutMs),
    })
  }
}

/** A signed GET of the OVH API, its JSON. */
export async function signedGet<T>(
  base: string,
  keys: Keys,
  path: string,
): Promise<{ status: number; body: T }> {
  const { host: _host, ...headers } = signedHeaders(keys, 'GET', path, '', nowSeconds(), new URL(base).host)
  const response = await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(10_000) })
  const text = await response.text()
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T }
}
