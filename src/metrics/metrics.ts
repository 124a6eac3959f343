import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** How a DLR callback delivery ended. */
export const CALLBACK_OUTCOMES = ['success', 'retry', 'failed', 'gone', 'blocked'] as const
export type CallbackOutcome = (typeof CALLBACK_OUTCOMES)[number]

/** What the carrier gauges show of one carrier, read at scrape time. */
export type CarrierGauges = {
  name: string
  up: boolean
  boundSessions: number
  inFlight: number
  queued: number
}

export type QueueStats = { due: number; oldestDueAgeSeconds: number }
export type QueueStatsFn = () => Promise<QueueStats>

export type MetricsOptions = {
  /** Also collect the process metrics of prom-client (CPU, memory, event loop, GC). */
  defaultMetrics?: boolean
  /** Reads the DLR callback queue at scrape time (can also be given later with setQueueStats). */
  queueStats?: QueueStatsFn
  /** Told when queueStats fails (the scrape still answers, with the last values). */
  onQueueStatsError?: (error: unknown) => void
}

/** The label of requests no route matched: their raw URLs would make unbounded label values. */
export const UNMATCHED_ROUTE = '(unmatched)'

const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const CALLBACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** The metrics of one app, on a registry of its own (never prom-client's global one). */
export class Metrics {
  readonly registry = new Registry()
  readonly httpRequests: Counter<'method' | 'route' | 'status'>
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status'>
  readonly callbackDeliveries: Counter<'outcome'>
  readonly callbackAttempts: Counter
  readonly callbackAttemptDuration: Histogram
  readonly callbackQueueDue: Gauge
  readonly callbackOldestDueAge: Gauge
  readonly carrierSubmits: Counter<'carrier' | 'outcome'>
  readonly carrierDeliveries: Counter<'carrier' | 'kind'>
  readonly carrierBinds: Counter<'carrier' | 'outcome'>
  readonly smppBindsRefused: Counter<'reason'>
  readonly smppSubmits: Counter<'status'>
  readonly smppDeliveries: Counter<'kind' | 'outcome'>
  readonly smppQueued: Gauge
  readonly smppOldestQueuedAge: Gauge
  private smppSessions: () => Record<string, number> = () => ({})
  private carrierStates: () => CarrierGauges[] = () => []
  private queueStats: QueueStatsFn | undefined
  private readonly onQueueStatsError: ((error: unknown) => void) | undefined
  private pendingStats: Promise<QueueStats | null> | null = null

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry]
    this.queueStats = options.queueStats
    this.onQueueStatsError = options.onQueueStatsError
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry })

    this.httpRequests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.httpRequestDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    })
    this.callbackDeliveries = new Counter({
      name: 'sms_mirror_callback_deliveries_total',
      help: 'DLR callback deliveries, by outcome (success, retry, failed, gone, blocked)',
      labelNames: ['outcome'],
      registers,
    })
    for (const outcome of CALLBACK_OUTCOMES) this.callbackDeliveries.inc({ outcome }, 0)
    this.callbackAttempts = new Counter({
      name: 'sms_mirror_callback_attempts_total',
      help: 'HTTP attempts made to deliver DLR callbacks',
      registers,
    })
    this.callbackAttemptDuration = new Histogram({
      name: 'sms_mirror_callback_attempt_duration_seconds',
      help: 'Duration of the HTTP attempts made to deliver DLR callbacks',
      buckets: CALLBACK_BUCKETS,
      registers,
    })
    const readStats = () => this.readQueueStats()
    this.callbackQueueDue = new Gauge({
      name: 'sms_mirror_callback_queue_due',
      help: 'DLR callbacks due for delivery now',
      registers,
      async collect() {
        const stats = await readStats()
        if (stats) this.set(stats.due)
      },
    })
    this.carrierSubmits = new Counter({
      name: 'sms_mirror_carrier_submits_total',
      help: 'Messages handed to a carrier, by carrier and outcome (accepted, refused, retry)',
      labelNames: ['carrier', 'outcome'],
      registers,
    })
    this.carrierDeliveries = new Counter({
      name: 'sms_mirror_carrier_deliveries_total',
      help: 'deliver_sm received from a carrier, by carrier and kind (receipt, incoming, refused)',
      labelNames: ['carrier', 'kind'],
      registers,
    })
    this.carrierBinds = new Counter({
      name: 'sms_mirror_carrier_bind_attempts_total',
      help: 'Connection and bind attempts to a carrier, by carrier and outcome (ok, failed)',
      labelNames: ['carrier', 'outcome'],
      registers,
    })
    this.smppBindsRefused = new Counter({
      name: 'sms_mirror_smpp_binds_refused_total',
      help: 'Binds the SMPP server refused, by reason (credentials, address, throttled, limit, state, disabled)',
      labelNames: ['reason'],
      registers,
    })
    this.smppSubmits = new Counter({
      name: 'sms_mirror_smpp_submits_total',
      help: 'submit_sm answered by the SMPP server, by command status (ESME_ROK, ESME_RTHROTTLED…)',
      labelNames: ['status'],
      registers,
    })
    this.smppDeliveries = new Counter({
      name: 'sms_mirror_smpp_deliveries_total',
      help: 'deliver_sm sent to ESMEs, by kind (receipt, mo) and outcome (delivered, retry, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    })
    this.smppQueued = new Gauge({
      name: 'sms_mirror_smpp_deliveries_queued',
      help: 'Receipts and MO waiting for a bound SMPP receiver (as of the last dispatcher run)',
      registers,
    })
    this.smppOldestQueuedAge = new Gauge({
      name: 'sms_mirror_smpp_deliveries_oldest_age_seconds',
      help: 'Age of the oldest receipt or MO waiting for a bound SMPP receiver',
      registers,
    })
    const smppSessions = () => this.smppSessions()
    new Gauge({
      name: 'sms_mirror_smpp_sessions_bound',
      help: 'Sessions bound to the SMPP server, by mode (transmitter, receiver, transceiver)',
      labelNames: ['mode'],
      registers,
      collect() {
        this.reset()
        for (const [mode, count] of Object.entries(smppSessions())) this.set({ mode }, count)
      },
    })
    const states = () => this.carrierStates()
    const carrierGauge = (name: string, help: string, value: (state: CarrierGauges) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['carrier'],
        registers,
        collect() {
          this.reset()
          for (const state of states()) this.set({ carrier: state.name }, value(state))
        },
      })
    carrierGauge('sms_mirror_carrier_up', '1 when the carrier can take messages, else 0', (s) =>
      s.up ? 1 : 0,
    )
    carrierGauge(
      'sms_mirror_carrier_sessions_bound',
      'Bound SMPP sessions of the carrier',
      (s) => s.boundSessions,
    )
    carrierGauge(
      'sms_mirror_carrier_in_flight',
      'Parts handed to the carrier and not answered yet',
      (s) => s.inFlight,
    )
    carrierGauge(
      'sms_mirror_carrier_queued',
      'Messages waiting in this process for a window slot',
      (s) => s.queued,
    )
    this.callbackOldestDueAge = new Gauge({
      name: 'sms_mirror_callback_oldest_due_age_seconds',
      help: 'How long the oldest due DLR callback has been waiting (0 when none is due)',
      registers,
      async collect() {
        const stats = await readStats()
        if (stats) this.set(stats.oldestDueAgeSeconds)
      },
    })
  }

  /** Gives the function the carrier gauges read at scrape time. */
  /** The SMPP server's bound sessions by mode, read at scrape time. */
  setSmppSessions(read: () => Record<string, number>): void {
    this.smppSessions = read
  }

  countSmppSubmit(status: number): void {
    this.smppSubmits.inc({ status: smppStatusLabel(status) })
  }

  setCarrierStates(fn: () => CarrierGauges[]): void {
    this.carrierStates = fn
  }

  /** Gives the function the queue gauges read at scrape time. */
  setQueueStats(fn: QueueStatsFn): void {
    this.queueStats = fn
  }

  /** Counts one answered HTTP request. `route` is the route pattern, or undefined when none matched. */
  observeHttp(method: string, route: string | undefined, status: number, seconds: number): void {
    const labels = { method, route: route ?? UNMATCHED_ROUTE, status: String(status) }
    this.httpRequests.inc(labels)
    this.httpRequestDuration.observe(labels, seconds)
  }

  /** Counts one HTTP attempt of the DLR dispatcher and its duration. */
  observeCallbackAttempt(seconds: number): void {
    this.callbackAttempts.inc()
    this.callbackAttemptDuration.observe(seconds)
  }

  /** Counts one DLR callback delivery that ended (or was rescheduled) with this outcome. */
  countCallbackDelivery(outcome: CallbackOutcome): void {
    this.callbackDeliveries.inc({ outcome })
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** One queueStats call per scrape, shared by both gauges; null (keep the last values) when it fails. */
  private readQueueStats(): Promise<QueueStats | null> {
    const fn = this.queueStats
    if (!fn) return Promise.resolve(null)
    if (!this.pendingStats) {
      this.pendingStats = (async () => {
        try {
          return await fn()
        } catch (error) {
          this.onQueueStatsError?.(error)
          return null
        } finally {
          this.pendingStats = null
        }
      })()
    }
    return this.pendingStats
  }
}

const SMPP_STATUS_LABELS: Record<number, string> = {
  0: 'ESME_ROK',
  4: 'ESME_RINVBNDSTS',
  8: 'ESME_RSYSERR',
  10: 'ESME_RINVSRCADR',
  11: 'ESME_RINVDSTADR',
  69: 'ESME_RSUBMITFAIL',
  88: 'ESME_RTHROTTLED',
}

/** A bounded label for a command status: the common names, else its hex code. */
function smppStatusLabel(status: number): string {
  return SMPP_STATUS_LABELS[status] ?? `0x${status.toString(16).padStart(2, '0')}`
}
