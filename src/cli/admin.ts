import { parseArgs } from 'node:util'

/** Where `runAdmin` writes; tests pass collectors, the CLI passes process.stdout/stderr. */
export type AdminIo = { stdout: (s: string) => void; stderr: (s: string) => void }

export const DEFAULT_URL = 'http://127.0.0.1:8080'

export const ADMIN_USAGE = `usage: sms-mirror admin <verb> [arguments] [--flags]
  owner-create <name> [--contact-email ADDRESS]
  owner-contact-email <ownerId> <address|"">   (where regenerated SMPP passwords are mailed)
  owner-identity <ownerId> [--nichandle NIC] [--domain NAME …]   (senders they prove: enabled when requested)
  account-create <serviceName> --owner <id> [--credits N] [--description TEXT]
  credits-add <serviceName> <credits>
  application-create --owner <id> --name <name> [--description TEXT]
  credential-create <applicationKey> --rule 'GET /sms/*' [--rule 'POST /sms/*' …]
                    [--expiration ISO-8601] [--allowed-ip IP …]
  credential-validate <consumerKey>
  service-account-create --owner <id> --rule 'GET /sms/*' [--rule …] [--name NAME]
  service-account-delete <clientId>
  sender-enable <serviceName> <sender>      enable a sender (created when the account never requested it)
  sender-refuse <serviceName> <sender> [--comment TEXT]
  callbacks <serviceName> [--status pending|delivered|gone|failed]   callback deliveries (failed: dead letters)
  callback-replay <deliveryId>
A rule is "METHOD PATH" (METHOD: GET, POST, PUT or DELETE); --rule all grants every method on /*.
Environment: ADMIN_TOKEN (required), SMS_MIRROR_URL (default ${DEFAULT_URL}).`

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'
type AccessRule = { method: HttpMethod; path: string }
type Request = { method: HttpMethod; path: string; body?: Record<string, unknown> }
type Values = Record<string, string | string[] | boolean | undefined>
type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>

/** A mistake in the command line: answered with the usage and exit code 2. */
class UsageError extends Error {}

const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE']

const str = { type: 'string' } as const
const many = { type: 'string', multiple: true } as const

type Verb = {
  positionals: string[]
  options: OptionSpec
  build(args: string[], values: Values): Request
}

const VERBS: Record<string, Verb> = {
  'owner-create': {
    positionals: ['name'],
    options: { 'contact-email': str },
    build: ([name], values) => ({
      method: 'POST',
      path: '/owners',
      body: {
        name,
        ...(values['contact-email'] === undefined ? {} : { contactEmail: values['contact-email'] }),
      },
    }),
  },
  'owner-contact-email': {
    positionals: ['ownerId', 'address'],
    options: {},
    build: ([owner, address]) => ({
      method: 'PUT',
      path: `/owners/${ownerId({ owner })}`,
      body: { contactEmail: address === '' ? null : address },
    }),
  },
  'owner-identity': {
    positionals: ['ownerId'],
    options: { nichandle: str, domain: many },
    build: ([owner], values) => ({
      method: 'PUT',
      path: `/owners/${ownerId({ owner })}/identity`,
      body: {
        nichandle: (values.nichandle as string | undefined) ?? null,
        domains: (values.domain as string[] | undefined) ?? [],
      },
    }),
  },
  'account-create': {
    positionals: ['serviceName'],
    options: { owner: str, credits: str, description: str },
    build: ([serviceName], values) => ({
      method: 'POST',
      path: '/accounts',
      body: {
        serviceName,
        owner: ownerId(values),
        ...(values.credits === undefined
          ? {}
          : { credits: number('--credits', values.credits as string, { allowZero: true }) }),
        ...(values.description === undefined ? {} : { description: values.description }),
      },
    }),
  },
  'credits-add': {
    positionals: ['serviceName', 'credits'],
    options: {},
    build: ([serviceName, credits]) => ({
      method: 'POST',
      path: `/accounts/${segment(serviceName)}/credits`,
      body: { credits: number('<credits>', credits as string, { allowZero: false }) },
    }),
  },
  'application-create': {
    positionals: [],
    options: { owner: str, name: str, description: str },
    build: (_, values) => ({
      method: 'POST',
      path: '/applications',
      body: {
        owner: ownerId(values),
        name: required(values, 'name'),
        ...(values.description === undefined ? {} : { description: values.description }),
      },
    }),
  },
  'credential-create': {
    positionals: ['applicationKey'],
    options: { rule: many, expiration: str, 'allowed-ip': many },
    build: ([applicationKey], values) => ({
      method: 'POST',
      path: '/credentials',
      body: {
        applicationKey,
        accessRules: rules(values),
        ...(values.expiration === undefined ? {} : { expiration: expiration(values.expiration as string) }),
        ...(values['allowed-ip'] === undefined ? {} : { allowedIPs: values['allowed-ip'] }),
      },
    }),
  },
  'credential-validate': {
    positionals: ['consumerKey'],
    options: {},
    build: ([consumerKey]) => ({ method: 'POST', path: `/credentials/${segment(consumerKey)}/validate` }),
  },
  'service-account-create': {
    positionals: [],
    options: { owner: str, rule: many, name: str },
    build: (_, values) => ({
      method: 'POST',
      path: '/service-accounts',
      body: {
        owner: ownerId(values),
        accessRules: rules(values),
        ...(values.name === undefined ? {} : { name: values.name }),
      },
    }),
  },
  'sender-enable': {
    positionals: ['serviceName', 'sender'],
    options: {},
    build: ([serviceName, sender]) => ({
      method: 'POST',
      path: `/accounts/${segment(serviceName)}/senders/${segment(sender)}/enable`,
    }),
  },
  'sender-refuse': {
    positionals: ['serviceName', 'sender'],
    options: { comment: str },
    build: ([serviceName, sender], values) => ({
      method: 'POST',
      path: `/accounts/${segment(serviceName)}/senders/${segment(sender)}/refuse`,
      body: values.comment === undefined ? {} : { comment: values.comment },
    }),
  },
  callbacks: {
    positionals: ['serviceName'],
    options: { status: str },
    build: ([serviceName], values) => {
      const status = values.status as string | undefined
      if (status !== undefined && !['pending', 'delivered', 'gone', 'failed'].includes(status)) {
        throw new UsageError(`--status must be one of pending, delivered, gone, failed, got "${status}"`)
      }
      const query = status === undefined ? '' : `?status=${status}`
      return { method: 'GET', path: `/accounts/${segment(serviceName)}/callbacks${query}` }
    },
  },
  'callback-replay': {
    positionals: ['deliveryId'],
    options: {},
    build: ([id]) => {
      if (!/^[1-9]\d{0,15}$/.test(id as string)) {
        throw new UsageError(`<deliveryId> must be a delivery id (an integer ≥ 1), got "${id}"`)
      }
      return { method: 'POST', path: `/callbacks/${id}/replay` }
    },
  },
  'service-account-delete': {
    positionals: ['clientId'],
    options: {},
    build: ([clientId]) => ({ method: 'DELETE', path: `/service-accounts/${segment(clientId)}` }),
  },
}

function segment(value: string | undefined): string {
  return encodeURIComponent(value as string)
}

function required(values: Values, flag: string): string {
  const value = values[flag]
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${flag} is required`)
  return value
}

function ownerId(values: Values): number {
  const raw = required(values, 'owner')
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--owner must be an owner id (an integer ≥ 1), got "${raw}"`)
  }
  return Number(raw)
}

function number(name: string, raw: string, { allowZero }: { allowZero: boolean }): number {
  const value = raw.trim() === '' ? Number.NaN : Number(raw)
  const bound = allowZero ? '≥ 0' : '> 0'
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(`${name} must be a number ${bound}, got "${raw}"`)
  }
  return value
}

function expiration(raw: string): string {
  if (Number.isNaN(Date.parse(raw))) {
    throw new UsageError(`--expiration must be an ISO-8601 date-time, got "${raw}"`)
  }
  return raw
}

function rules(values: Values): AccessRule[] {
  const raw = (values.rule as string[] | undefined) ?? []
  if (raw.length === 0) throw new UsageError('at least one --rule is required')
  return raw.flatMap((text): AccessRule[] => {
    if (text.trim().toLowerCase() === 'all') return METHODS.map((method) => ({ method, path: '/*' }))
    const match = /^\s*([A-Za-z]+)\s+(\/\S*)\s*$/.exec(text)
    const method = match?.[1]?.toUpperCase() as HttpMethod | undefined
    if (!match || !method || !METHODS.includes(method)) {
      throw new UsageError(
        `--rule must be "METHOD PATH" (METHOD: ${METHODS.join(', ')}; PATH starts with /) or "all", got "${text}"`,
      )
    }
    return [{ method, path: match[2] as string }]
  })
}

function parse(argv: string[]): Request | 'help' {
  const [verbName, ...rest] = argv
  if (verbName === undefined || verbName === 'help' || verbName === '--help' || verbName === '-h')
    return 'help'
  const verb = Object.hasOwn(VERBS, verbName) ? VERBS[verbName] : undefined
  if (!verb) throw new UsageError(`unknown verb "${verbName}"`)
  let parsed: { values: Values; positionals: string[] }
  try {
    parsed = parseArgs({ args: rest, options: verb.options, allowPositionals: true, strict: true }) as {
      values: Values
      positionals: string[]
    }
  } catch (error) {
    throw new UsageError(`${verbName}: ${(error as Error).message}`)
  }
  const { values, positionals } = parsed
  if (positionals.length !== verb.positionals.length) {
    const expected = verb.positionals.map((name) => `<${name}>`).join(' ') || 'no argument'
    throw new UsageError(`${verbName} takes ${expected}, got ${positionals.length} argument(s)`)
  }
  positionals.forEach((value, index) => {
    if (value === '') throw new UsageError(`<${verb.positionals[index]}> must not be empty`)
  })
  try {
    return verb.build(positionals, values)
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${verbName}: ${error.message}`)
    throw error
  }
}

function errorMessage(text: string, fallback: string): string {
  try {
    const body = JSON.parse(text) as unknown
    if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
      return (body as { message: string }).message
    }
  } catch {
    // not JSON: use the text itself
  }
  const line = text.trim().split('\n')[0]
  return line ? line : fallback
}

/**
 * `sms-mirror admin <verb> …`: one call to the /admin/v1 API. Returns the exit code: 0 on a 2xx answer
 * (its JSON printed on stdout), 1 on an error answer or a missing ADMIN_TOKEN, 2 on a usage error.
 */
export async function runAdmin(argv: string[], env: NodeJS.ProcessEnv, io: AdminIo): Promise<number> {
  let request: Request | 'help'
  try {
    request = parse(argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    io.stderr(`sms-mirror admin: ${error.message}\n${ADMIN_USAGE}\n`)
    return 2
  }
  if (request === 'help') {
    io.stdout(`${ADMIN_USAGE}\n`)
    return 0
  }

  const token = env.ADMIN_TOKEN
  if (!token) {
    io.stderr('sms-mirror admin: ADMIN_TOKEN is not set; export ADMIN_TOKEN=<the server admin token>\n')
    return 1
  }
  const base = (env.SMS_MIRROR_URL || DEFAULT_URL).replace(/\/+$/, '')
  const url = `${base}/admin/v1${request.path}`

  let response: Response
  try {
    response = await fetch(url, {
      method: request.method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    })
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message
    io.stderr(`sms-mirror admin: cannot reach ${base} (SMS_MIRROR_URL): ${cause}\n`)
    return 1
  }

  const text = await response.text()
  if (!response.ok) {
    io.stderr(`sms-mirror admin: ${response.status} ${errorMessage(text, response.statusText)}\n`)
    return 1
  }
  if (text !== '') {
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      io.stdout(`${text}\n`)
      return 0
    }
    io.stdout(`${JSON.stringify(body, null, 2)}\n`)
  }
  return 0
}
