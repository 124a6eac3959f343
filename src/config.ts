import { existsSync } from 'node:fs'
import { type Static, Type } from 'typebox'
import Value from 'typebox/value'
import { parseDurations } from './durations.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** Callback attempts, Standard Webhooks-like: roughly three days of tries before a dead letter. */
export const DEFAULT_CALLBACK_SCHEDULE_MS: readonly number[] = Object.freeze([
  5_000,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
])

/** Waits after the 1st, 2nd… failed try of a limit alert; once used up, the channel is 'failed'. */
export const DEFAULT_ALERT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  MINUTE,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  6 * HOUR,
])

/**
 * Environment variables understood by sms-mirror. Every value arrives as a string; the schema
 * says what it must look like, `loadConfig` converts it and names the variable when it is wrong.
 */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'address to listen on' }),
  DATABASE_URL: Type.Optional(
    Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection URL (postgres://…)' }),
  ),
  DATABASE_WAIT_S: Type.Integer({
    minimum: 0,
    maximum: 3600,
    default: 30,
    description:
      'seconds start waits for a PostgreSQL server that is unreachable or still starting (0 to 3600)',
  }),
  DATA_DIR: Type.String({
    minLength: 1,
    default: './data',
    description: 'embedded database folder when DATABASE_URL is unset; "memory" for an in-memory database',
  }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    default: 'info',
    description: 'one of fatal, error, warn, info, debug, trace, silent',
  }),
  SECRET_KEY: Type.Optional(
    Type.String({ minLength: 32, description: 'at least 32 characters; encrypts passwords at rest' }),
  ),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/]+', description: 'public base URL' })),
  AUTH_TIME_WINDOW_S: Type.Integer({
    minimum: 1,
    maximum: 86400,
    default: 300,
    description: 'allowed distance in seconds between X-Ovh-Timestamp and the server clock',
  }),
  OAUTH_TOKEN_TTL_S: Type.Integer({
    minimum: 60,
    maximum: 86400,
    default: 3600,
    description: 'lifetime of OAuth2 access tokens in seconds (60 to 86400)',
  }),
  SMS_RATES: Type.Optional(
    Type.String({
      description:
        'JSON object of credits per SMS part by country calling code, e.g. {"33":1,"44":1.5}; others cost 1',
    }),
  ),
  SIMULATOR_DELAY_MS: Type.Integer({
    minimum: 0,
    maximum: 86_400_000,
    default: 1000,
    description: 'delay before the simulated carrier reports delivery (ms)',
  }),
  SIMULATOR_RULES: Type.Optional(
    Type.String({ description: 'JSON list of simulator rules (see README), replacing the default rule' }),
  ),
  CARRIERS: Type.Optional(
    Type.String({
      description:
        'JSON list of carriers: [{"name":"eu","url":"smpp://ID:PASSWORD@host:2775?window=10","prefixes":["33"],"default":true}]',
    }),
  ),
  CARRIER_URL: Type.Optional(
    Type.String({ description: 'one SMPP carrier for every receiver: smpp://SYSTEM_ID:PASSWORD@host:port' }),
  ),
  STOP_MENTION: Type.Optional(
    Type.String({
      description:
        'the STOP mention appended to commercial messages: exactly 11 GSM 03.38 basic characters, e.g. "\\nSTOP 36xxx"',
    }),
  ),
  SENDING_POLL_MS: Type.Integer({
    minimum: 10,
    maximum: 60_000,
    default: 250,
    description: 'how often the sending worker looks for due messages and carrier steps (ms)',
  }),
  HANDOVER_LEASE_MS: Type.Integer({
    minimum: 1000,
    maximum: 3_600_000,
    default: 60_000,
    description:
      'how long a replica keeps messages and simulator reports it took hidden from the others: what a replica killed mid-hand-over delays (ms)',
  }),
  TRUST_PROXY: Type.Optional(
    Type.String({
      description: 'comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For is trusted',
    }),
  ),
  SMTP_URL: Type.Optional(
    Type.String({
      pattern: '^smtps?://',
      description:
        'SMTP server for limit-alert e-mails: smtp://user:pass@host:port (STARTTLS when offered) or smtps://…',
    }),
  ),
  ALERT_FROM: Type.Optional(
    Type.String({
      minLength: 3,
      description: 'From of limit-alert e-mails, e.g. "sms-mirror <alerts@example.com>"',
    }),
  ),
  ALERT_RETRY_SCHEDULE: Type.Optional(
    Type.String({
      description: 'waits between tries of a limit alert, e.g. 1m,5m,30m,2h,6h (units ms, s, m, h)',
    }),
  ),
  DISPATCHER_ENABLED: Type.Enum(['true', 'false'], {
    default: 'true',
    description: 'true or false: run the DLR callback dispatcher in this process',
  }),
  DISPATCHER_CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 50,
    description: 'callback requests in flight at most (1 to 1000)',
  }),
  CALLBACK_RETRY_SCHEDULE: Type.Optional(
    Type.String({ description: 'waits between callback attempts, e.g. 5s,5m,30m,2h,5h,10h,14h,20h,24h' }),
  ),
  CALLBACK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 120_000,
    default: 10_000,
    description: 'bound on one callback attempt in milliseconds (100 to 120000)',
  }),
  CALLBACK_ALLOW_PRIVATE: Type.Enum(['true', 'false'], {
    default: 'false',
    description: 'true or false: allow callback URLs resolving to loopback/private/link-local addresses',
  }),
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 20_000,
    description: 'time a client has to send the request line and headers, in milliseconds (100 to 600000)',
  }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 60_000,
    description:
      'time a client has to send a whole request (headers and body), in milliseconds (100 to 3600000)',
  }),
  HTTP_IDLE_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 72_000,
    description: 'how long an idle keep-alive connection stays open, in milliseconds (100 to 600000)',
  }),
  LOG_PERSONAL_DATA: Type.Enum(['true', 'false'], {
    default: 'false',
    description:
      'true or false: show phone numbers, message texts and e-mail addresses in logs (debugging only)',
  }),
  ADMIN_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'bearer token of /admin/v1, ≥ 16 characters' }),
  ),
  SMPP_PORT: Type.String({
    pattern: '^(off|\\d{1,5})$',
    default: '2775',
    description: 'TCP port of the SMPP server of smpp- accounts (0: any free port), or off',
  }),
  SMPP_HOST: Type.Optional(
    Type.String({ minLength: 1, description: 'address the SMPP server listens on (default: HOST)' }),
  ),
  SMPP_TLS_PORT: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 65535,
      description: 'TCP port of the SMPP server over TLS (needs TLS_CERT and TLS_KEY)',
    }),
  ),
  SMPP_PUBLIC_HOST: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'host name shown in GET …/smpp/settings endpoints (default: PUBLIC_URL host, else SMPP_HOST)',
    }),
  ),
  SMPP_SESSION_MAX_S: Type.Integer({
    minimum: 1,
    maximum: 31_536_000,
    default: 86_400,
    description: 'the SMPP server unbinds each session after this many seconds (OVH: 24 h)',
  }),
  SMPP_BINDS_PER_ACCOUNT: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 1,
    description: 'transceivers (or transmitter + receiver pairs) an smpp- account may have bound at once',
  }),
  SMPP_BIND_FAILURES: Type.Integer({
    minimum: 1,
    maximum: 1000,
    default: 5,
    description: 'failed binds from one address within 5 minutes before its binds get ESME_RBINDTHROTTLED',
  }),
  SMPP_DELIVERY_RETRY_S: Type.Integer({
    minimum: 1,
    maximum: 86_400,
    default: 60,
    description: 'wait before a deliver_sm not acknowledged is sent again, in seconds',
  }),
  TLS_CERT: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM certificate file; with TLS_KEY, serve HTTPS' }),
  ),
  TLS_KEY: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM private key file; with TLS_CERT, serve HTTPS' }),
  ),
})

type Env = Static<typeof EnvSchema>

/** Never echoed back in an error message. */
const SECRET_VARIABLES = new Set([
  'SECRET_KEY',
  'DATABASE_URL',
  'ADMIN_TOKEN',
  'SMTP_URL',
  'CARRIERS',
  'CARRIER_URL',
])

export type Config = {
  port: number
  host: string
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string | null }
  /** How long start retries a PostgreSQL server that refuses connections or cannot be reached. */
  databaseWaitMs: number
  logLevel: Env['LOG_LEVEL']
  /** false: phone numbers, message texts and e-mail addresses are kept out of log lines. */
  logPersonalData: boolean
  /** Bounds Node's HTTP server puts on each client connection. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; idleTimeoutMs: number }
  /** Secret from SECRET_KEY; null means "use the key file kept in the embedded data folder". */
  secretKey: string | null
  dataDir: string
  publicUrl: string | null
  authTimeWindowSeconds: number
  oauthTokenTtlSeconds: number
  /** null: start generates one and logs it once. */
  adminToken: string | null
  tls: { certFile: string; keyFile: string } | null
  smpp: SmppServerSettings
  /** Hundredths of a credit per SMS part, by country calling code; `default` for the rest. */
  rates: { default: number; byCallingCode: Record<string, number> }
  simulatorDelayMs: number
  /** Raw SIMULATOR_RULES (validated by the simulator at start), null for the default rule. */
  simulatorRules: unknown[] | null
  /** Who takes the messages: from CARRIERS / CARRIER_URL; unset, the simulator takes every receiver. */
  carriers: CarrierSettings[]
  /**
   * Raw STOP_MENTION, appended to the text of commercial messages (checked by the sending plugin
   * against what src/sending/encoding.ts counts); null: the default mention.
   */
  stopMention: string | null
  sendingPollMs: number
  /** How long a claimed hand-over (a message to a carrier, a simulator report) stays with its replica. */
  handoverLeaseMs: number
  trustProxy: string[] | null
  alerts: { smtpUrl: string | null; from: string; retryScheduleMs: number[] }
  callbacks: {
    dispatcherEnabled: boolean
    concurrency: number
    scheduleMs: number[]
    timeoutMs: number
    allowPrivate: boolean
  }
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`)
    this.name = 'ConfigError'
  }
}

/** Reads `.env` when present (never overriding the real environment). Call once, from entry points. */
export function loadEnvFile(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw))
  const firstError = Value.Errors(EnvSchema, converted)[0]
  if (firstError) {
    const variable = firstError.instancePath.replace(/^\//, '') || 'environment'
    const schema = (EnvSchema.properties as Record<string, { description?: string }>)[variable]
    const hint = schema?.description ? ` (${schema.description})` : ''
    const got = SECRET_VARIABLES.has(variable) ? '' : `, got ${JSON.stringify(raw[variable])}`
    throw new ConfigError(variable, `${firstError.message}${hint}${got}`)
  }
  const parsed = converted as Env
  if (parsed.DATABASE_URL && !parsed.SECRET_KEY) {
    throw new ConfigError(
      'SECRET_KEY',
      'required when DATABASE_URL is set, so that every replica decrypts the same passwords (at least 32 characters)',
    )
  }
  if (Boolean(parsed.TLS_CERT) !== Boolean(parsed.TLS_KEY)) {
    throw new ConfigError(
      parsed.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT',
      'TLS_CERT and TLS_KEY must be set together',
    )
  }
  if (parsed.HTTP_HEADERS_TIMEOUT_MS > parsed.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${parsed.HTTP_REQUEST_TIMEOUT_MS}): the headers are part of the request, got ${parsed.HTTP_HEADERS_TIMEOUT_MS}`,
    )
  }
  const inMemory = parsed.DATA_DIR === 'memory'
  const rates = parseRates(parsed.SMS_RATES)
  if (parsed.SMTP_URL && !parsed.ALERT_FROM) {
    throw new ConfigError('ALERT_FROM', 'required when SMTP_URL is set (the From of limit-alert e-mails)')
  }
  let callbackScheduleMs = [...DEFAULT_CALLBACK_SCHEDULE_MS]
  if (parsed.CALLBACK_RETRY_SCHEDULE) {
    try {
      callbackScheduleMs = parseDurations(parsed.CALLBACK_RETRY_SCHEDULE)
    } catch (error) {
      throw new ConfigError('CALLBACK_RETRY_SCHEDULE', (error as Error).message)
    }
  }
  let retryScheduleMs = [...DEFAULT_ALERT_RETRY_SCHEDULE_MS]
  if (parsed.ALERT_RETRY_SCHEDULE) {
    try {
      retryScheduleMs = parseDurations(parsed.ALERT_RETRY_SCHEDULE)
    } catch (error) {
      throw new ConfigError('ALERT_RETRY_SCHEDULE', (error as Error).message)
    }
  }
  const simulatorRules = parseJsonList('SIMULATOR_RULES', parsed.SIMULATOR_RULES)
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    database: parsed.DATABASE_URL
      ? { kind: 'postgres', url: parsed.DATABASE_URL }
      : { kind: 'pglite', dataDir: inMemory ? null : parsed.DATA_DIR },
    databaseWaitMs: parsed.DATABASE_WAIT_S * 1000,
    logLevel: parsed.LOG_LEVEL,
    logPersonalData: parsed.LOG_PERSONAL_DATA === 'true',
    http: {
      headersTimeoutMs: parsed.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: parsed.HTTP_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: parsed.HTTP_IDLE_TIMEOUT_MS,
    },
    secretKey: parsed.SECRET_KEY ?? null,
    dataDir: parsed.DATA_DIR,
    publicUrl: parsed.PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    authTimeWindowSeconds: parsed.AUTH_TIME_WINDOW_S,
    oauthTokenTtlSeconds: parsed.OAUTH_TOKEN_TTL_S,
    adminToken: parsed.ADMIN_TOKEN ?? null,
    tls: parsed.TLS_CERT && parsed.TLS_KEY ? { certFile: parsed.TLS_CERT, keyFile: parsed.TLS_KEY } : null,
    smpp: smppSettings(parsed),
    rates,
    simulatorDelayMs: parsed.SIMULATOR_DELAY_MS,
    simulatorRules,
    carriers: parseCarriers(parsed.CARRIERS, parsed.CARRIER_URL),
    stopMention: parsed.STOP_MENTION ?? null,
    sendingPollMs: parsed.SENDING_POLL_MS,
    handoverLeaseMs: parsed.HANDOVER_LEASE_MS,
    callbacks: {
      dispatcherEnabled: parsed.DISPATCHER_ENABLED === 'true',
      concurrency: parsed.DISPATCHER_CONCURRENCY,
      scheduleMs: callbackScheduleMs,
      timeoutMs: parsed.CALLBACK_TIMEOUT_MS,
      allowPrivate: parsed.CALLBACK_ALLOW_PRIVATE === 'true',
    },
    alerts: {
      smtpUrl: parsed.SMTP_URL ?? null,
      from: parsed.ALERT_FROM ?? 'sms-mirror@localhost',
      retryScheduleMs,
    },
    trustProxy: parsed.TRUST_PROXY
      ? parsed.TRUST_PROXY.split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : null,
  }
}

/** The SMPP server of smpp- accounts (src/smpp-server/). */
export type SmppServerSettings = {
  /** null: SMPP_PORT=off. */
  port: number | null
  host: string
  /** null: no TLS listener. */
  tlsPort: number | null
  /** Shown in sms.Settings.endpoints. */
  publicHost: string
  sessionMaxMs: number
  bindsPerAccount: number
  bindFailures: number
  bindFailureWindowMs: number
  deliveryRetryMs: number
  /** Receipts and MO not acknowledged within this are given up (OVH: 7 days). */
  deliveryTtlMs: number
}

function smppSettings(parsed: Env): SmppServerSettings {
  const port = parsed.SMPP_PORT === 'off' ? null : Number(parsed.SMPP_PORT)
  if (port !== null && port > 65535) throw new ConfigError('SMPP_PORT', `at most 65535 or off, got ${port}`)
  if (parsed.SMPP_TLS_PORT !== undefined && !(parsed.TLS_CERT && parsed.TLS_KEY)) {
    throw new ConfigError(
      'SMPP_TLS_PORT',
      'needs TLS_CERT and TLS_KEY (the certificate the SMPP server shows)',
    )
  }
  const host = parsed.SMPP_HOST ?? parsed.HOST
  const publicHost =
    parsed.SMPP_PUBLIC_HOST ?? (parsed.PUBLIC_URL ? new URL(parsed.PUBLIC_URL).hostname : host)
  return {
    port,
    host,
    tlsPort: parsed.SMPP_TLS_PORT ?? null,
    publicHost,
    sessionMaxMs: parsed.SMPP_SESSION_MAX_S * 1000,
    bindsPerAccount: parsed.SMPP_BINDS_PER_ACCOUNT,
    bindFailures: parsed.SMPP_BIND_FAILURES,
    bindFailureWindowMs: 5 * 60_000,
    deliveryRetryMs: parsed.SMPP_DELIVERY_RETRY_S * 1000,
    deliveryTtlMs: 7 * 86_400_000,
  }
}

function parseRates(raw: string | undefined): Config['rates'] {
  const rates: Config['rates'] = { default: 100, byCallingCode: {} }
  if (!raw) return rates
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new ConfigError('SMS_RATES', 'not valid JSON; expected an object such as {"33":1,"44":1.5}')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('SMS_RATES', 'expected an object such as {"33":1,"44":1.5}')
  }
  for (const [code, credits] of Object.entries(value)) {
    const hundredths = Math.round(Number(credits) * 100)
    if (typeof credits !== 'number' || !(credits > 0) || Math.abs(credits * 100 - hundredths) > 1e-6) {
      throw new ConfigError('SMS_RATES', `rate of "${code}" must be a number > 0 with at most 2 decimals`)
    }
    if (code === 'default') rates.default = hundredths
    else if (/^\d{1,3}$/.test(code)) rates.byCallingCode[code] = hundredths
    else
      throw new ConfigError(
        'SMS_RATES',
        `"${code}" is not a country calling code (1 to 3 digits) nor "default"`,
      )
  }
  return rates
}

function parseJsonList(variable: string, raw: string | undefined): unknown[] | null {
  if (!raw) return null
  try {
    const value = JSON.parse(raw)
    if (Array.isArray(value)) return value
  } catch {}
  throw new ConfigError(variable, 'expected a JSON list')
}

// ---------------------------------------------------------------- carriers

/** How the SMPP carrier binds: one transceiver session, or a transmitter and a receiver. */
export type CarrierBind = 'transceiver' | 'transmitter+receiver'

/** Where a carrier is routed: E.164 prefixes (digits, longest match wins), and whether it is the default. */
type CarrierRouting = { name: string; prefixes: string[]; default: boolean }

export type SimulatorCarrierSettings = CarrierRouting & { kind: 'simulator' }

export type SmppCarrierSettings = CarrierRouting & {
  kind: 'smpp'
  host: string
  port: number
  tls: boolean
  systemId: string
  /** Never logged, never shown. */
  password: string
  bind: CarrierBind
  /** submit_sm sent and not answered yet, per session. */
  window: number
  /** submit_sm per second per session; 0: no limit. */
  throughput: number
  systemType: string
  /** TON/NPI of source_addr; null: from the sender's form (alphanumeric, short code, number). */
  sourceTon: number | null
  sourceNpi: number | null
  /** Sessions (binds) of this process. */
  binds: number
  enquireLinkS: number
  /** registered_delivery of every submit_sm (1: a receipt for the final outcome). */
  registeredDelivery: number
  /** Wait before the first reconnection; doubled after each failure, up to 60 s. */
  reconnectS: number
  /** Bound on connecting, binding and each response. */
  timeoutS: number
  /** PEM file of the CA that signs the SMSC's certificate (smpps://); absent: the system's CAs. */
  tlsCa: string | null
}

export type CarrierSettings = SimulatorCarrierSettings | SmppCarrierSettings

/** The URL query options of an SMPP carrier: their rule, and how each is read. */
const SMPP_OPTIONS: Record<
  string,
  { rule: string; read: (value: string) => unknown; key: keyof SmppCarrierSettings }
> = {
  bind: {
    rule: 'transceiver or transmitter+receiver',
    read: (v) => (v === 'transceiver' || v === 'transmitter+receiver' ? v : undefined),
    key: 'bind',
  },
  window: { rule: 'an integer from 1 to 1000', read: integerIn(1, 1000), key: 'window' },
  throughput: {
    rule: 'submits per second per session, an integer from 0 (no limit) to 100000',
    read: integerIn(0, 100_000),
    key: 'throughput',
  },
  systemType: {
    rule: 'at most 12 characters',
    read: (v) => (v.length <= 12 ? v : undefined),
    key: 'systemType',
  },
  sourceTon: { rule: 'an integer from 0 to 6', read: integerIn(0, 6), key: 'sourceTon' },
  sourceNpi: { rule: 'an integer from 0 to 18', read: integerIn(0, 18), key: 'sourceNpi' },
  binds: { rule: 'an integer from 1 to 32', read: integerIn(1, 32), key: 'binds' },
  enquireLinkS: { rule: 'seconds, from 0.05 to 3600', read: secondsIn(0.05, 3600), key: 'enquireLinkS' },
  registeredDelivery: {
    rule: 'an integer from 0 to 31 (1: a receipt for the final outcome)',
    read: integerIn(0, 31),
    key: 'registeredDelivery',
  },
  reconnectS: { rule: 'seconds, from 0.01 to 60', read: secondsIn(0.01, 60), key: 'reconnectS' },
  timeoutS: { rule: 'seconds, from 0.05 to 300', read: secondsIn(0.05, 300), key: 'timeoutS' },
  tlsCa: { rule: 'the path of a PEM file', read: (v) => (existsSync(v) ? v : undefined), key: 'tlsCa' },
}

function integerIn(min: number, max: number) {
  return (value: string) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
    return n >= min && n <= max ? n : undefined
  }
}

function secondsIn(min: number, max: number) {
  return (value: string) => {
    const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
    return n >= min && n <= max ? n : undefined
  }
}

const CARRIER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/
const ENTRY_KEYS = new Set(['name', 'url', 'prefixes', 'default'])

/**
 * The carriers of CARRIERS (a JSON list of {name, url, prefixes, default}) or CARRIER_URL (one SMPP
 * carrier named "upstream", the default). Neither: the simulator takes every receiver. A bad value
 * throws a ConfigError naming the carrier and the field; the password is never part of a message,
 * nor is the URL or the JSON text it sits in.
 */
export function parseCarriers(list: string | undefined, url: string | undefined): CarrierSettings[] {
  if (list && url) throw new ConfigError('CARRIER_URL', 'set CARRIERS or CARRIER_URL, not both')
  if (url) {
    return [carrierFromUrl(url, { name: 'upstream', prefixes: [], default: true }, 'CARRIER_URL')]
  }
  if (!list) return [{ kind: 'simulator', name: 'simulator', prefixes: [], default: true }]
  let entries: unknown
  try {
    entries = JSON.parse(list)
  } catch {
    throw new ConfigError(
      'CARRIERS',
      'not valid JSON; expected a list such as [{"name":"eu","url":"smpp://…"}]',
    )
  }
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > 64) {
    throw new ConfigError(
      'CARRIERS',
      'expected a JSON list of 1 to 64 carriers {name, url, prefixes, default}',
    )
  }
  const carriers: CarrierSettings[] = []
  const prefixOwner = new Map<string, string>()
  for (const [index, entry] of entries.entries()) {
    const where = `carrier #${index + 1}`
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new ConfigError('CARRIERS', `${where}: expected an object {name, url, prefixes, default}`)
    }
    const fields = entry as Record<string, unknown>
    const { name } = fields
    if (typeof name !== 'string' || !CARRIER_NAME.test(name)) {
      throw new ConfigError(
        'CARRIERS',
        `${where}: name must be 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit`,
      )
    }
    const fail = (field: string, rule: string) =>
      new ConfigError('CARRIERS', `carrier "${name}": ${field} must be ${rule}`)
    const unknown = Object.keys(fields).find((key) => !ENTRY_KEYS.has(key))
    if (unknown !== undefined) {
      throw fail(`"${unknown.slice(0, 40)}"`, 'absent: the fields are name, url, prefixes and default')
    }
    if (carriers.some((c) => c.name === name)) throw fail('name', 'unique: another carrier has it')
    const prefixes = fields.prefixes ?? []
    if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string' || !/^\+?\d{1,15}$/.test(p))) {
      throw fail('prefixes', 'a list of E.164 prefixes such as ["33", "+4477"] (1 to 15 digits)')
    }
    const digits = (prefixes as string[]).map((p) => p.replace(/^\+/, ''))
    for (const prefix of digits) {
      const owner = prefixOwner.get(prefix)
      if (owner !== undefined) throw fail('prefixes', `distinct: ${prefix} is already routed to "${owner}"`)
      prefixOwner.set(prefix, name)
    }
    const isDefault = fields.default ?? false
    if (typeof isDefault !== 'boolean') throw fail('default', 'true or false')
    if (isDefault && carriers.some((c) => c.default)) {
      throw fail('default', `false: "${carriers.find((c) => c.default)?.name}" is already the default`)
    }
    if (!isDefault && digits.length === 0) {
      throw fail('prefixes', 'given (at least one) unless the carrier is the default')
    }
    if (typeof fields.url !== 'string')
      throw fail('url', 'smpp://SYSTEM_ID:PASSWORD@host:port, or simulator:')
    const routing = { name, prefixes: digits, default: isDefault }
    if (/^simulator:(\/\/)?$/.test(fields.url)) {
      if (carriers.some((c) => c.kind === 'simulator')) throw fail('url', 'smpp://…: one simulator at most')
      carriers.push({ kind: 'simulator', ...routing })
    } else {
      carriers.push(carrierFromUrl(fields.url, routing, 'CARRIERS', `carrier "${name}": `))
    }
  }
  return carriers
}

function carrierFromUrl(
  text: string,
  routing: CarrierRouting,
  variable: string,
  where = '',
): SmppCarrierSettings {
  const fail = (field: string, rule: string) => new ConfigError(variable, `${where}${field} must be ${rule}`)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw fail('url', 'a URL such as smpp://SYSTEM_ID:PASSWORD@host:2775 (smpps:// for TLS)')
  }
  if (url.protocol !== 'smpp:' && url.protocol !== 'smpps:') {
    throw fail('url', 'smpp://… or smpps://… (TLS)')
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) throw fail('url host', 'given: smpp://SYSTEM_ID:PASSWORD@host:port')
  const tls = url.protocol === 'smpps:'
  if (url.pathname !== '' && url.pathname !== '/')
    throw fail('url', 'without a path (options go in the query)')
  const decode = (value: string, field: string) => {
    try {
      return decodeURIComponent(value)
    } catch {
      throw fail(field, 'percent-encoded UTF-8')
    }
  }
  const systemId = decode(url.username, 'system ID')
  const password = decode(url.password, 'password')
  // SMPP 3.4 bounds them at 15 and 8 characters; some SMSCs accept longer ones, so only absurd
  // lengths are refused here (the SMSC's bind answer says the rest).
  if (systemId.length === 0 || systemId.length > 64) {
    throw fail('system ID', '1 to 64 characters (the user of smpp://SYSTEM_ID:PASSWORD@host:port)')
  }
  if (password.length > 64) throw fail('password', 'at most 64 characters (it is not shown here)')
  const settings: SmppCarrierSettings = {
    kind: 'smpp',
    ...routing,
    host,
    port: url.port ? Number(url.port) : tls ? 3550 : 2775,
    tls,
    systemId,
    password,
    bind: 'transceiver',
    window: 10,
    throughput: 0,
    systemType: '',
    sourceTon: null,
    sourceNpi: null,
    binds: 1,
    enquireLinkS: 30,
    registeredDelivery: 1,
    reconnectS: 1,
    timeoutS: 10,
    tlsCa: null,
  }
  const seen = new Set<string>()
  for (const [key, value] of url.searchParams) {
    const option = SMPP_OPTIONS[key]
    if (!option) {
      throw fail(`option "${key.slice(0, 40)}"`, `one of ${Object.keys(SMPP_OPTIONS).join(', ')}`)
    }
    if (seen.has(key)) throw fail(key, 'given once')
    seen.add(key)
    const read = option.read(value)
    if (read === undefined) throw fail(key, `${option.rule}, got ${JSON.stringify(value.slice(0, 40))}`)
    ;(settings as Record<string, unknown>)[option.key] = read
  }
  if (settings.tlsCa && !tls) throw fail('tlsCa', 'used with smpps:// only')
  return settings
}
