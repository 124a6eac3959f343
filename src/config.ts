import { existsSync } from 'node:fs'
import { type Static, Type } from 'typebox'
import Value from 'typebox/value'

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
  ADMIN_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'bearer token of /admin/v1, ≥ 16 characters' }),
  ),
  TLS_CERT: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM certificate file; with TLS_KEY, serve HTTPS' }),
  ),
  TLS_KEY: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM private key file; with TLS_CERT, serve HTTPS' }),
  ),
})

type Env = Static<typeof EnvSchema>

/** Never echoed back in an error message. */
const SECRET_VARIABLES = new Set(['SECRET_KEY', 'DATABASE_URL', 'ADMIN_TOKEN'])

export type Config = {
  port: number
  host: string
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string | null }
  logLevel: Env['LOG_LEVEL']
  /** Secret from SECRET_KEY; null means "use the key file kept in the embedded data folder". */
  secretKey: string | null
  dataDir: string
  publicUrl: string | null
  authTimeWindowSeconds: number
  oauthTokenTtlSeconds: number
  /** null: start generates one and logs it once. */
  adminToken: string | null
  tls: { certFile: string; keyFile: string } | null
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
  const inMemory = parsed.DATA_DIR === 'memory'
  return {
    port: parsed.PORT,
    host: parsed.HOST,
    database: parsed.DATABASE_URL
      ? { kind: 'postgres', url: parsed.DATABASE_URL }
      : { kind: 'pglite', dataDir: inMemory ? null : parsed.DATA_DIR },
    logLevel: parsed.LOG_LEVEL,
    secretKey: parsed.SECRET_KEY ?? null,
    dataDir: parsed.DATA_DIR,
    publicUrl: parsed.PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    authTimeWindowSeconds: parsed.AUTH_TIME_WINDOW_S,
    oauthTokenTtlSeconds: parsed.OAUTH_TOKEN_TTL_S,
    adminToken: parsed.ADMIN_TOKEN ?? null,
    tls: parsed.TLS_CERT && parsed.TLS_KEY ? { certFile: parsed.TLS_CERT, keyFile: parsed.TLS_KEY } : null,
  }
}
