// Swagger UI at /docs in a real browser (Debian's chromium, driven by playwright-core, which downloads
// nothing): authorize once with the OVH application key, secret and consumer key — the page signs every
// call itself (server time, "$1$" SHA-1) and never sends the secret — then with the OAuth2 client
// credentials login, then with a pasted bearer token; each time Try it out POST …/users and
// GET …/users/{login} → 200 with the user shown; the same through the /v1 server, and GET /health under
// its own (root) server. Screenshots go to test-artifacts/swagger-ui/ (ignored by git).
// The browser talks to 127.0.0.1 only: every other request is aborted and fails the test.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium, type Page, type Request } from 'playwright-core'
import t from 'tap'
import { admin, buildTestApp, SERVICE } from './helpers.js'
import { ROOT } from './support/paths.js'

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = join(ROOT, 'test-artifacts', 'swagger-ui')
t.setTimeout(300_000)

const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: apt-get install -y chromium (bash .ci/run installs it)`

type Seen = { method: string; url: string; headers: Record<string, string>; body: string }

/** A page of a fresh browser context that records every request and refuses any host but 127.0.0.1. */
async function openDocs(browser: Browser, base: string, foreign: string[]) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 2000 } })
  const page = await context.newPage()
  const seen: Seen[] = []
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.hostname === '127.0.0.1') return route.continue()
    foreign.push(url.href)
    return route.abort()
  })
  page.on('request', (request: Request) => {
    seen.push({
      method: request.method(),
      url: request.url(),
      headers: request.headers(),
      body: request.postData() ?? '',
    })
  })
  await page.goto(`${base}/docs`)
  await page.locator('.swagger-ui .auth-wrapper button.authorize').waitFor()
  return { page, seen, close: () => context.close() }
}

/** The Authorize dialog's block of security scheme `scheme` (each has its own form and button). */
function schemeBlock(page: Page, scheme: string) {
  return page
    .locator('.dialog-ux .auth-container')
    .filter({ has: page.locator('h4', { hasText: new RegExp(`^${scheme}\\b`) }) })
}

/** Types `value` into the field of `scheme` and presses that block's Authorize. */
async function authorize(page: Page, scheme: string, value: string) {
  const block = schemeBlock(page, scheme)
  await block.locator('input').first().fill(value)
  await block.locator('button[type=submit]').click()
  await block.locator('button', { hasText: 'Logout' }).waitFor()
}

async function closeDialog(page: Page) {
  await page.locator('.dialog-ux button.btn-done').first().click()
  await page.locator('.dialog-ux').waitFor({ state: 'detached' })
}

/** Try it out on the operation `method path`: fills the path parameters and the body, executes, and
 * answers the status and the response body as shown. */
async function tryItOut(
  page: Page,
  method: string,
  path: string,
  parameters: Record<string, string>,
  body?: unknown,
) {
  const operation = page
    .locator(`.opblock.opblock-${method}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) })
  await operation.locator('.opblock-summary-control').click()
  // An operation tried out before stays in Try it out mode (its button reads Cancel then).
  const tryOut = operation.locator('button.try-out__btn:not(.cancel)')
  if ((await tryOut.count()) > 0) await tryOut.click()
  for (const [name, value] of Object.entries(parameters))
    await operation.locator(`tr[data-param-name="${name}"] input`).fill(value)
  if (body !== undefined) await operation.locator('textarea.body-param__text').fill(JSON.stringify(body))
  await operation.locator('button.execute').click()
  const live = operation.locator('.live-responses-table .response')
  await live.locator('.response-col_status').waitFor()
  const status = (await live.locator('.response-col_status').innerText()).trim()
  const shown = await live.locator('.response-col_description').innerText()
  // Folded again, so that the next call finds its own operation's Try it out.
  await operation.locator('.opblock-summary-control').click()
  return { status, shown }
}

t.test('Swagger UI: OVH keys signed in the page, OAuth2 login, bearer token', { skip }, async (t) => {
  const { app, keys, ownerId } = await buildTestApp(t)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  mkdirSync(ARTIFACTS, { recursive: true })

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      // Any name but 127.0.0.1 resolves to nothing: the browser cannot reach another host.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  })
  t.teardown(() => browser.close())
  const foreign: string[] = []
  // The OVH paths as the document writes them, under its servers (/1.0 first, /v1 second).
  const users = `/sms/{serviceName}/users`
  const user = `/sms/{serviceName}/users/{login}`

  await t.test('OVH application key, secret and consumer key', async (t) => {
    const docs = await openDocs(browser, base, foreign)
    const { page } = docs
    await page.locator('.swagger-ui .auth-wrapper button.authorize').click()
    await authorize(page, 'ovhApplication', keys.applicationKey)
    await authorize(page, 'ovhApplicationSecret', keys.applicationSecret)
    await authorize(page, 'ovhConsumer', keys.consumerKey)
    await closeDialog(page)

    const created = await tryItOut(
      page,
      'post',
      users,
      { serviceName: SERVICE },
      {
        login: 'swaggerkeys',
        password: 'abcd1234',
      },
    )
    t.equal(created.status, '200', created.shown)
    const read = await tryItOut(page, 'get', user, { serviceName: SERVICE, login: 'swaggerkeys' })
    t.equal(read.status, '200', read.shown)
    t.match(read.shown, /"login": "swaggerkeys"/, 'the user is shown')
    await page.screenshot({ path: join(ARTIFACTS, 'ovh-keys.png') })

    const calls = docs.seen.filter((r) => r.url.startsWith(`${base}/1.0/sms/`))
    t.equal(calls.length, 2, 'two calls made')
    for (const call of calls) {
      t.equal(call.headers['x-ovh-application'], keys.applicationKey)
      t.equal(call.headers['x-ovh-consumer'], keys.consumerKey)
      const timestamp = call.headers['x-ovh-timestamp'] ?? ''
      // The server's (manual) clock, not the browser's: the page read it from GET /1.0/auth/time.
      // (6 days behind the real time; the 200 says it is within the server's window)
      t.ok(Math.abs(Number(timestamp) - Date.now() / 1000) > 86_400, 'the server time, not the browser time')
      const hash = createHash('sha1')
        .update(
          [keys.applicationSecret, keys.consumerKey, call.method, call.url, call.body, timestamp].join('+'),
        )
        .digest('hex')
      t.equal(call.headers['x-ovh-signature'], `$1$${hash}`, `${call.method} signed`)
    }
    t.equal(docs.seen.filter((r) => r.url.endsWith('/auth/time')).length, 1, 'server time read once')
    const leaked = docs.seen.filter((r) =>
      [r.url, r.body, ...Object.values(r.headers)].some((v) => v.includes(keys.applicationSecret)),
    )
    t.same(leaked, [], 'the application secret is in no request')

    // The SHA-1 fallback for pages outside a secure context agrees with node's.
    for (const text of ['', 'abc', 'é+€+😀', 'x'.repeat(55), 'y'.repeat(56), 'z'.repeat(1000)]) {
      const fallback = await page.evaluate(
        (s) => (window as never as Sha1Window).smsMirrorDocs.sha1Fallback(s),
        text,
      )
      t.equal(fallback, createHash('sha1').update(text).digest('hex'), `sha1 of ${text.length} chars`)
    }
    await docs.close()
  })

  const serviceAccount = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner: ownerId,
    accessRules: ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' })),
  })
  // Its secret stays out of the test output unless the call failed.
  t.equal(
    serviceAccount.status,
    200,
    serviceAccount.status === 200 ? 'a service account' : JSON.stringify(serviceAccount.body),
  )

  await t.test('OAuth2 client credentials login', async (t) => {
    const docs = await openDocs(browser, base, foreign)
    const { page } = docs
    await page.locator('.swagger-ui .auth-wrapper button.authorize').click()
    const form = schemeBlock(page, 'oauth2')
    await form.locator('input[id^="client_id"]').fill(serviceAccount.body.clientId)
    await form.locator('input[id^="client_secret"]').fill(serviceAccount.body.clientSecret)
    await form.locator('a[data-all="true"]').click()
    await form.locator('button.authorize').click()
    await form.locator('button', { hasText: 'Logout' }).waitFor()
    await closeDialog(page)

    const created = await tryItOut(
      page,
      'post',
      users,
      { serviceName: SERVICE },
      {
        login: 'swaggeroauth',
        password: 'abcd1234',
      },
    )
    t.equal(created.status, '200', created.shown)
    const read = await tryItOut(page, 'get', user, { serviceName: SERVICE, login: 'swaggeroauth' })
    t.equal(read.status, '200', read.shown)
    t.match(read.shown, /"login": "swaggeroauth"/, 'the user is shown')
    await page.screenshot({ path: join(ARTIFACTS, 'oauth2.png') })
    const calls = docs.seen.filter((r) => r.url.startsWith(`${base}/1.0/sms/`))
    t.equal(calls.length, 2)
    for (const call of calls) t.match(call.headers.authorization, /^Bearer \S+$/)
    await docs.close()
  })

  await t.test('a pasted bearer token', async (t) => {
    const token = await app.inject({
      method: 'POST',
      url: '/auth/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: serviceAccount.body.clientId,
        client_secret: serviceAccount.body.clientSecret,
      }).toString(),
    })
    const accessToken = token.json().access_token as string
    const docs = await openDocs(browser, base, foreign)
    const { page } = docs
    await page.locator('.swagger-ui .auth-wrapper button.authorize').click()
    await authorize(page, 'bearerToken', accessToken)
    await closeDialog(page)

    const read = await tryItOut(page, 'get', user, { serviceName: SERVICE, login: 'swaggerkeys' })
    t.equal(read.status, '200', read.shown)
    t.match(read.shown, /"login": "swaggerkeys"/, 'the user is shown')
    await page.screenshot({ path: join(ARTIFACTS, 'bearer-token.png') })
    const calls = docs.seen.filter((r) => r.url.startsWith(`${base}/1.0/sms/`))
    t.equal(calls.length, 1)
    t.equal(calls[0]?.headers.authorization, `Bearer ${accessToken}`)

    // The second server of the document: the same operation under /v1.
    const servers = page.locator('.scheme-container .servers select')
    t.same(
      await servers
        .locator('option')
        .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value)),
      ['/1.0', '/v1'],
      'both servers offered',
    )
    await servers.selectOption('/v1')
    const readV1 = await tryItOut(page, 'get', user, { serviceName: SERVICE, login: 'swaggerkeys' })
    t.equal(readV1.status, '200', readV1.shown)
    t.match(readV1.shown, /"login": "swaggerkeys"/, 'the user is shown through /v1')
    const v1Calls = docs.seen.filter((r) => r.url.startsWith(`${base}/v1/sms/`))
    t.equal(v1Calls.length, 1, 'called under /v1')
    // A path with a server of its own (the root) is called there, whichever server is chosen above.
    const health = await tryItOut(page, 'get', '/health', {})
    t.equal(health.status, '200', health.shown)
    t.ok(
      docs.seen.some((r) => r.url === `${base}/health`),
      'GET /health called at the root, not under /v1',
    )
    await docs.close()
  })

  t.same(foreign, [], 'the browser asked for no other host')
})

type Sha1Window = { smsMirrorDocs: { sha1Fallback(text: string): string } }
