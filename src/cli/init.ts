import { randomInt } from 'node:crypto'
import { parseArgs } from 'node:util'
import { type AdminIo, DEFAULT_URL } from './admin.js'

export const INIT_USAGE = `usage: sms-mirror init [--service sms-xx12345-1] [--credits N] [--sender NAME] [--owner-name NAME]
On a running server (SMS_MIRROR_URL, default ${DEFAULT_URL}; ADMIN_TOKEN required): creates an owner,
an SMS account with credits, an enabled sender, an application with a validated consumer key and an
OAuth2 service account (both with every right), then prints export lines and examples to paste.`

const ALL_RULES = ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' }))

class InitError extends Error {}

/** `sms-mirror init`: everything a first request needs, in one command. Returns the exit code. */
export async function runInit(argv: string[], env: NodeJS.ProcessEnv, io: AdminIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        service: { type: 'string' },
        credits: { type: 'string' },
        sender: { type: 'string' },
        'owner-name': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    io.stderr(`sms-mirror init: ${(error as Error).message}\n${INIT_USAGE}\n`)
    return 2
  }
  if (values.help) {
    io.stdout(`${INIT_USAGE}\n`)
    return 0
  }
  const credits = values.credits === undefined ? 100 : Number(values.credits)
  if (!Number.isFinite(credits) || credits < 0) {
    io.stderr(`sms-mirror init: --credits must be a number ≥ 0, got "${values.credits}"\n`)
    return 2
  }
  const token = env.ADMIN_TOKEN
  if (!token) {
    io.stderr(
      'sms-mirror init: ADMIN_TOKEN is not set; export ADMIN_TOKEN=<the token the server printed at start>\n',
    )
    return 1
  }
  const base = (env.SMS_MIRROR_URL || DEFAULT_URL).replace(/\/+$/, '')
  const suffix = String(randomInt(10_000, 99_999))
  const serviceName = (values.service as string | undefined) ?? `sms-mi${suffix}-1`
  const sender = (values.sender as string | undefined) ?? 'SMSMIRROR'
  const ownerName = (values['owner-name'] as string | undefined) ?? `owner-${suffix}`

  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    let response: Response
    try {
      response = await fetch(`${base}/admin/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message
      throw new InitError(`cannot reach ${base} (SMS_MIRROR_URL): ${cause}`)
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? {} : JSON.parse(text)
    } catch {
      parsed = { message: text }
    }
    if (!response.ok) {
      const message = (parsed as { message?: unknown }).message
      throw new InitError(
        `${method} /admin/v1${path}: ${response.status} ${String(message ?? response.statusText)}`,
      )
    }
    return parsed as Record<string, unknown>
  }

  try {
    const owner = await call('POST', '/owners', { name: ownerName })
    await call('POST', '/accounts', { serviceName, owner: owner.id, credits })
    await call(
      'POST',
      `/accounts/${encodeURIComponent(serviceName)}/senders/${encodeURIComponent(sender)}/enable`,
    )
    const application = await call('POST', '/applications', { owner: owner.id, name: 'sms-mirror init' })
    const credential = await call('POST', '/credentials', {
      applicationKey: application.applicationKey,
      accessRules: ALL_RULES,
    })
    const serviceAccount = await call('POST', '/service-accounts', {
      owner: owner.id,
      accessRules: ALL_RULES,
      name: 'sms-mirror init',
    })
    io.stdout(
      initReport({
        base,
        ownerId: owner.id as number,
        ownerName,
        serviceName,
        credits,
        sender,
        applicationKey: application.applicationKey as string,
        applicationSecret: application.applicationSecret as string,
        consumerKey: credential.consumerKey as string,
        clientId: serviceAccount.clientId as string,
        clientSecret: serviceAccount.clientSecret as string,
      }),
    )
    return 0
  } catch (error) {
    if (!(error instanceof InitError)) throw error
    io.stderr(`sms-mirror init: ${error.message}\n`)
    return 1
  }
}

type Created = {
  base: string
  ownerId: number
  ownerName: string
  serviceName: string
  credits: number
  sender: string
  applicationKey: string
  applicationSecret: string
  consumerKey: string
  clientId: string
  clientSecret: string
}

/** What init prints: shell lines that work pasted as they are (keys are [A-Za-z0-9], no quoting needed). */
function initReport(c: Created): string {
  const url = new URL(c.base)
  const httpsPort = url.protocol === 'https:' ? url.port || '443' : '8443'
  return `# sms-mirror init: owner ${c.ownerId} (${c.ownerName}), account ${c.serviceName} with ${c.credits} credits,
# sender ${c.sender} enabled, an application with a validated consumer key and an OAuth2 service
# account, both with every right. Paste these lines in your shell:
export SMS_MIRROR_URL=${c.base}
export SMS_SERVICE=${c.serviceName}
export SMS_SENDER=${c.sender}
export OVH_APPLICATION_KEY=${c.applicationKey}
export OVH_APPLICATION_SECRET=${c.applicationSecret}
export OVH_CONSUMER_KEY=${c.consumerKey}
export OAUTH_CLIENT_ID=${c.clientId}
export OAUTH_CLIENT_SECRET=${c.clientSecret}

# curl: a bearer token (OAuth2 client credentials), then the account
export TOKEN=$(curl -s "$SMS_MIRROR_URL/auth/oauth2/token" -d grant_type=client_credentials \\
  -d client_id="$OAUTH_CLIENT_ID" -d client_secret="$OAUTH_CLIENT_SECRET" \\
  | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).access_token)')
curl -s -H "Authorization: Bearer $TOKEN" "$SMS_MIRROR_URL/1.0/sms/$SMS_SERVICE"

# the official Node client (npm install ovh) signs with the three keys; it speaks HTTPS only:
# npx sms-mirror dev-cert, then start the server with TLS_CERT/TLS_KEY and NODE_EXTRA_CA_CERTS as it prints
node --input-type=module -e '
import ovh from "ovh"
const client = ovh({ appKey: process.env.OVH_APPLICATION_KEY, appSecret: process.env.OVH_APPLICATION_SECRET,
  consumerKey: process.env.OVH_CONSUMER_KEY, host: "${url.hostname}", port: ${httpsPort}, basePath: "/1.0" })
console.log(await client.requestPromised("GET", "/sms/" + process.env.SMS_SERVICE))'
`
}
