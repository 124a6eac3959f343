/**
 * Access rules grant exactly the operation the router runs, whatever the request target looks like.
 * app.inject and undici normalise URLs (a `#` never leaves them), so the app listens on 127.0.0.1:0
 * and every request here is raw HTTP/1.1 over node:net, signed (OVH) on the target exactly as sent,
 * or carrying an OAuth2 bearer token of a service account.
 *
 * Which operation ran and whether the rules let it through is read from the app itself: an onSend
 * hook notes, per request (X-Probe header), the route the router chose, its parameters and whether
 * the auth hook granted the call.
 */
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import t from 'tap'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { buildApp } from '../../src/app.js'
import { systemClock } from '../../src/clock.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import {
  ADMIN_TOKEN,
  admin,
  call,
  createKeys,
  createTestDatabase,
  SERVICE,
  signedHeaders,
  TEST_SECRET,
} from '../helpers.js'

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'
type Rule = { method: Method; path: string }
type Routed = { route: string | undefined; params: Record<string, string>; granted: boolean }
type Answer = { status: number; body: string; routed: Routed | undefined }

const { database, config } = await createTestDatabase(t)
const owner = await createOwner(database.db, 'acme')
await createAccount(database.db, { ownerId: owner.id, serviceName: SERVICE, credits: 100 })
// The real clock: call() from the helpers stamps its signatures with it.
const app = await buildApp(
  {
    config: { ...config, adminToken: ADMIN_TOKEN },
    database,
    secretBox: createSecretBox(TEST_SECRET),
    clock: systemClock,
  },
  { logger: false, workers: false },
)
t.teardown(() => app.close())

const routed = new Map<string, Routed>()
const probeOf = (request: { headers: Record<string, unknown> }) => {
  const probe = request.headers['x-probe']
  return typeof probe === 'string' ? probe : undefined
}
// Parameters as the auth hook reads them: before validation turns an id into a number.
app.addHook('preValidation', async (request) => {
  const probe = probeOf(request)
  if (probe)
    routed.set(probe, {
      route: request.routeOptions.url,
      params: { ...(request.params as Record<string, string>) },
      granted: false,
    })
})
app.addHook('onSend', async (request) => {
  const probe = probeOf(request)
  if (!probe) return
  const seen = routed.get(probe) ?? { route: request.routeOptions.url, params: {}, granted: false }
  routed.set(probe, { ...seen, granted: request.scope != null })
})

await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const host = `127.0.0.1:${port}`

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at)
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16)
    if (!(size > 0)) return Buffer.concat(parts)
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}

let probes = 0
/** One raw HTTP/1.1 exchange on a fresh connection: the target goes on the wire byte for byte. */
async function raw(method: Method, target: string, headers: Record<string, string>, body = '') {
  const probe = String(++probes)
  const head = [
    `${method} ${target} HTTP/1.1`,
    `host: ${host}`,
    ...Object.entries(headers)
      .filter(([name]) => name !== 'host')
      .map(([name, value]) => `${name}: ${value}`),
    ...(body === '' ? [] : ['content-type: application/json']),
    `content-length: ${Buffer.byteLength(body)}`,
    `x-probe: ${probe}`,
    'connection: close',
  ]
  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('end', () => resolve(Buffer.concat(chunks)))
    socket.on('error', reject)
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`)
  })
  const split = response.indexOf('\r\n\r\n')
  const statusLine = response.subarray(0, split).toString('latin1')
  let payload = response.subarray(split + 4)
  if (/\r\ntransfer-encoding: *chunked/i.test(statusLine)) payload = dechunk(payload)
  return {
    status: Number(statusLine.split(' ')[1]),
    body: payload.toString('utf8'),
    routed: routed.get(probe),
  } satisfies Answer
}

type Caller = { kind: 'ovh' | 'bearer'; send(method: Method, target: string, body?: string): Promise<Answer> }

/** A client holding only these rules: an OVH consumer key, or a service account's bearer token. */
async function callerWith(kind: Caller['kind'], rules: Rule[]): Promise<Caller> {
  if (kind === 'ovh') {
    const keys = await createKeys(app, owner.id, rules)
    return {
      kind,
      send: (method, target, body = '') =>
        raw(
          method,
          target,
          signedHeaders(keys, method, target, body, Math.floor(Date.now() / 1000), host),
          body,
        ),
    }
  }
  const account = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: owner.id,
    accessRules: rules,
  })
  const issued = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: account.body.clientId,
      client_secret: account.body.clientSecret,
    }).toString(),
  })
  const authorization = `Bearer ${issued.json().access_token}`
  return { kind, send: (method, target, body = '') => raw(method, target, { authorization }, body) }
}

const everything: Rule[] = (['GET', 'POST', 'PUT', 'DELETE'] as const).map((method) => ({
  method,
  path: '/*',
}))
const fullKeys = await createKeys(app, owner.id, everything)
const TARGET = 'target01'
const PASSWORD = 'Secret12'
const users = `/1.0/sms/${SERVICE}/users`
t.equal((await call(app, 'POST', users, { login: TARGET, password: PASSWORD }, fullKeys)).status, 200)

const userExists = async (login: string) =>
  Boolean(
    await database.db.selectFrom('sms_users').select('login').where('login', '=', login).executeTakeFirst(),
  )

for (const kind of ['ovh', 'bearer'] as const) {
  t.test(`${kind}: a "#" in the request target is refused before any rule is read`, async (t) => {
    const outgoingOnly = await callerWith(kind, [{ method: 'GET', path: '/sms/*/outgoing' }])
    const allowed = await outgoingOnly.send('GET', `/1.0/sms/${SERVICE}/outgoing`)
    t.equal(allowed.status, 200, 'the rule grants what it says')
    for (const target of [`${users}/${TARGET}#/outgoing`, `/1.0/sms/${SERVICE}#/outgoing`]) {
      const answer = await outgoingOnly.send('GET', target)
      t.equal(answer.status, 400, target)
      t.match(JSON.parse(answer.body), {
        class: 'Client::BadRequest',
        message: /contains "#".*%23/,
      })
      t.notOk(answer.routed?.granted, 'not granted')
      t.notMatch(answer.body, PASSWORD, 'no password')
      t.notMatch(answer.body, 'creditsLeft', 'no account')
    }
    const jobsOnly = await callerWith(kind, [{ method: 'DELETE', path: '/sms/*/jobs/*' }])
    const deletion = await jobsOnly.send('DELETE', `${users}/${TARGET}#/jobs/1`)
    t.equal(deletion.status, 400)
    t.ok(await userExists(TARGET), 'the user is still there')
    const fragmentInQuery = await outgoingOnly.send('GET', `/1.0/sms/${SERVICE}/outgoing?receiver=x#y`)
    t.equal(fragmentInQuery.status, 400, 'a fragment after the query too')
  })

  t.test(`${kind}: a trailing slash routes to the parent, which the rule does not cover`, async (t) => {
    const underUsers = await callerWith(kind, [{ method: 'POST', path: `/sms/${SERVICE}/users/*` }])
    const login = `${kind.slice(0, 4)}slash1`
    const creation = await underUsers.send(
      'POST',
      `${users}/`,
      JSON.stringify({ login, password: 'abcd1234' }),
    )
    t.equal(creation.status, 403)
    t.match(JSON.parse(creation.body), { errorCode: 'NOT_GRANTED_CALL' })
    t.notOk(await userExists(login), 'no user was created')
    const child = await underUsers.send('POST', `${users}/${TARGET}/jobs`, '{}')
    t.ok(child.routed?.granted, 'a path under /users/ is granted (then refused for its empty body)')

    const underSms = await callerWith(kind, [{ method: 'GET', path: '/sms/*' }])
    for (const target of ['/1.0/sms/', '/v1/sms/', '/1.0/sms']) {
      const listing = await underSms.send('GET', target)
      t.equal(listing.status, 403, `${target}: /sms/* does not cover /sms`)
      t.notMatch(listing.body, SERVICE)
    }
    t.equal((await underSms.send('GET', `/1.0/sms/${SERVICE}/`)).status, 200, '/sms/{S}/ is /sms/{S}')
  })
}

t.test('a consumer key may always read and revoke itself; a bearer token has no consumer key', async (t) => {
  const ovh = await callerWith('ovh', [{ method: 'GET', path: '/sms' }])
  const current = await ovh.send('GET', '/1.0/auth/currentCredential')
  t.equal(current.status, 200)
  t.match(JSON.parse(current.body), { rules: [{ method: 'GET', path: '/sms' }], status: 'validated' })
  const bearer = await callerWith('bearer', [
    { method: 'GET', path: '/*' },
    { method: 'POST', path: '/*' },
  ])
  for (const [method, target] of [
    ['GET', '/1.0/auth/currentCredential'],
    ['POST', '/1.0/auth/logout'],
  ] as const) {
    const answer = await bearer.send(method, target)
    t.equal(answer.status, 403, `${method} ${target} with a bearer token`)
    t.match(JSON.parse(answer.body).message, /bearer token has none: sign the request/)
  }
  t.equal((await bearer.send('GET', '/1.0/sms')).status, 200, 'the token still works')
  t.equal((await ovh.send('POST', '/1.0/auth/logout')).status, 200)
  t.equal((await ovh.send('GET', '/1.0/auth/currentCredential')).status, 403, 'revoked')
})

// ---------------------------------------------------------------------------------------------
// Every guarded route, against narrow rules, with path variants
// ---------------------------------------------------------------------------------------------

/** Routes any consumer key may call whatever its rules (they read or revoke that very key). */
const OWN_CREDENTIAL = ['/auth/currentCredential', '/auth/logout']
const document = app.swagger() as { paths: Record<string, Record<string, { security?: unknown[] }>> }
// OVH paths are written without their servers (/1.0 and /v1); paths with servers of their own
// (the root: admin, health, OAuth2, http2sms) are not OVH routes.
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  !('servers' in methods)
    ? Object.entries(methods)
        // security [] marks the routes without authentication; admin routes name their own.
        .filter(([method, operation]) => method !== 'servers' && operation.security === undefined)
        .map(([method]) => ({ method: method.toUpperCase() as Method, template: path }))
    : [],
)
const guarded = operations.filter((op) => !OWN_CREDENTIAL.includes(op.template))

const VALUES: Record<string, string> = {
  serviceName: SERVICE,
  login: TARGET,
  id: '1',
  sender: 'SHOP1',
  number: '+33601020399',
}
const concrete = (template: string) =>
  template.replace(/\{(\w+)\}/g, (_, name: string) => VALUES[name] ?? `${name}1`)

/**
 * The oracle: does a rule cover the operation that ran? The routed path is the route with its
 * parameters written as path segments (README: percent-encoded, `+ : @ = , ; $ &` kept), and `*`
 * in a rule matches any run of characters.
 */
const KEPT = new Set([...'+:@=,;$&'])
const asSegment = (value: string) => [...value].map((c) => (KEPT.has(c) ? c : encodeURIComponent(c))).join('')
const wildcard = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  )
function covers(rules: Rule[], method: Method, ran: Routed): boolean {
  const prefix = ['/1.0', '/v1'].find((p) => ran.route?.startsWith(`${p}/`))
  if (!prefix || !ran.route) return false
  const path = ran.route
    .slice(prefix.length)
    .replace(/:(\w+)/g, (_, name: string) => asSegment(ran.params[name] ?? ''))
  return rules.some((rule) => rule.method === method && wildcard(rule.path).test(path))
}

/** Spellings of one path: slashes, dot segments, fragments, escapes, `;`, case, prefixes. */
function variants(path: string): string[] {
  const cut = path.lastIndexOf('/')
  const parent = path.slice(0, cut)
  const last = path.slice(cut + 1)
  return [
    `/1.0${path}`,
    `/v1${path}`,
    `/1.0${path}/`,
    `/v1${path}/`,
    `/1.0${path}//`,
    `/1.0${path.replaceAll('/', '//')}`,
    `/1.0${parent}//${last}`,
    `/1.0${path}/.`,
    `/1.0${path}/./`,
    `/1.0${path}/..`,
    `/1.0${parent}/./${last}`,
    `/1.0${path}#`,
    `/1.0${path}#/x`,
    `/1.0${path}?a=1#/x`,
    `/1.0${parent}#/${last}`,
    `/1.0${path}%23`,
    `/1.0${path}%23/x`,
    `/1.0${parent}%23/${last}`,
    `/1.0${path};`,
    `/1.0${path};x=1`,
    `/1.0${parent};/${last}`,
    `/1.0${path}%3B`,
    `/1.0${path}%2F`,
    `/1.0${path}%2Fx`,
    `/1.0${parent}%2F${last}`,
    `/1.0${parent}%2f${last}`,
    `/1.0${path}%00`,
    `/1.0${path.toUpperCase()}`,
    `/1.0${path.toLowerCase()}`,
    `/1.0/${path.charAt(1).toUpperCase()}${path.slice(2)}`,
    `/1.0${path.replace('s', '%73')}`,
    `/V1${path}`,
    `/1.0${path}?x=%23`,
  ]
}

type Probe = { target: string; mustBeGranted?: boolean }

/**
 * Sends each probe with `caller` and lists what is wrong: a 5xx, a grant the rules do not cover, a
 * success without a grant, or a probe that should have been granted and was not.
 */
async function sweep(caller: Caller, rules: Rule[], method: Method, probes: Probe[], exact?: Routed) {
  const wrong: string[] = []
  for (const { target, mustBeGranted } of probes) {
    const answer = await caller.send(method, target)
    const ran = answer.routed
    const what = `${caller.kind} ${method} ${target} → ${answer.status} ${ran?.route ?? '(no route)'} ${JSON.stringify(ran?.params ?? {})}`
    if (answer.status >= 500) wrong.push(`${what}: a 5xx`)
    if (ran?.granted) {
      if (!covers(rules, method, ran)) wrong.push(`${what}: granted beyond ${JSON.stringify(rules)}`)
      if (
        exact &&
        (ran.route?.replace(/^\/v1\//, '/1.0/') !== exact.route ||
          JSON.stringify(ran.params) !== JSON.stringify(exact.params))
      )
        wrong.push(`${what}: granted another operation than the exact rule names`)
    } else {
      if (answer.status < 400) wrong.push(`${what}: answered without a grant`)
      if (mustBeGranted) wrong.push(`${what}: the rule should grant it`)
    }
  }
  return wrong
}

t.test('every guarded route, against narrow rules, with path variants', async (t) => {
  t.ok(guarded.length >= 40, `${guarded.length} guarded operations`)
  for (const own of OWN_CREDENTIAL)
    t.ok(
      operations.some((op) => op.template === own),
      `${own} is a route (and the only kind exempt)`,
    )
  for (const [index, op] of guarded.entries()) {
    const path = concrete(op.template)
    const sameMethod = guarded.filter((other) => other.method === op.method)
    const kinds = index % 2 === 0 ? (['ovh', 'bearer'] as const) : (['bearer', 'ovh'] as const)
    const wrong: string[] = []

    // The exact path: a variant is refused, or runs this very operation on these very values.
    const exactRules: Rule[] = [{ method: op.method, path }]
    const exactCaller = await callerWith(kinds[0], exactRules)
    const exact = {
      route: `/1.0${op.template.replace(/\{(\w+)\}/g, ':$1')}`,
      params: Object.fromEntries(
        [...op.template.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name, concrete(`{${name}}`)]),
      ),
      granted: true,
    }
    const spelled: Probe[] = variants(path).map((target) => ({ target }))
    spelled[0] = { target: `/1.0${path}`, mustBeGranted: true }
    spelled[1] = { target: `/v1${path}`, mustBeGranted: true }
    wrong.push(...(await sweep(exactCaller, exactRules, op.method, spelled, exact)))

    // Only what lies under the path: the path itself, however spelled, is not granted.
    const childRules: Rule[] = [{ method: op.method, path: `${path}/*` }]
    const childCaller = await callerWith(kinds[1], childRules)
    const children = sameMethod
      .map((other) => concrete(other.template))
      .filter((other) => other.startsWith(`${path}/`))
      .map((other) => ({ target: `/1.0${other}`, mustBeGranted: true }))
    const underneath = ['/', '//', '/#', '/#/x', '/.', '/?a=1', '/%2F', '/;', '%2F', '%23/x'].map(
      (suffix) => ({
        target: `/1.0${path}${suffix}`,
      }),
    )
    wrong.push(...(await sweep(childCaller, childRules, op.method, [...children, ...underneath])))

    // Every parameter a `*` (or, without parameters, the first segment): the shape of the attacks,
    // a `#` after another route's path followed by this one's tail, and a trailing slash.
    const starred = op.template.includes('{')
      ? op.template.replace(/\{\w+\}/g, '*')
      : op.template.replace(/^\/[^/]+/, '/*')
    if (starred !== '/*') {
      const starRules: Rule[] = [{ method: op.method, path: starred }]
      const starCaller = await callerWith(kinds[0], starRules)
      const firstStar = op.template.includes('{') ? op.template.indexOf('{') : 1
      const afterFirstStar = path.indexOf('/', firstStar)
      const tail = afterFirstStar === -1 ? '' : path.slice(afterFirstStar)
      const probes: Probe[] = [{ target: `/1.0${path}`, mustBeGranted: true }]
      for (const other of sameMethod) {
        const otherPath = concrete(other.template)
        probes.push({ target: `/1.0${otherPath}#${tail}` }, { target: `/1.0${otherPath}/` })
      }
      wrong.push(...(await sweep(starCaller, starRules, op.method, probes)))
    }
    t.same(wrong, [], `${op.method} ${op.template}`)
  }
  const answers = [...routed.values()]
  t.comment(`${answers.length} requests so far, ${answers.filter((r) => r.granted).length} granted`)
})
