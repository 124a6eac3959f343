// A client generated from the served OpenAPI document by openapi-typescript, used through openapi-fetch
// by a small program that is type-checked (tsc, strict) and then run against a live server: it creates
// a user, sets a quota, sends a job, reads the outgoing SMS and handles a 409 through the typed error.
// The OVH paths are written without their server: the client's baseUrl is the document's first server
// (/1.0), and a second client on its second server (/v1) reads the same user.
import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import openapiTS, { astToString } from 'openapi-typescript'
import t from 'tap'
import { admin, buildTestApp, SERVICE } from './helpers.js'
import { ROOT } from './support/paths.js'

t.setTimeout(400_000)

const PROGRAM = `import createClient from 'openapi-fetch'
import type { paths } from './schema.js'

const serviceName = process.env.SERVICE as string
const headers = { authorization: \`Bearer \${process.env.TOKEN}\` }
const [server10, serverV1] = JSON.parse(process.env.SERVERS as string) as string[]
const client = createClient<paths>({ baseUrl: server10, headers })
const v1 = createClient<paths>({ baseUrl: serverV1, headers })
const path = { serviceName }
const created = await client.POST('/sms/{serviceName}/users', {
  params: { path },
  body: { login: 'genuser1', password: 'abcd1234' },
})
if (created.error) throw new Error(\`create: \${created.error.message}\`)
const again = await client.POST('/sms/{serviceName}/users', {
  params: { path },
  body: { login: 'genuser1', password: 'abcd1234' },
})
let conflict = ''
if (again.error) {
  // The typed error: class and message are strings, not never.
  const errorClass: string = again.error.class
  conflict = \`\${again.response.status} \${errorClass}: \${again.error.message}\`
}
const user = { serviceName, login: 'genuser1' }
const quota = await client.PUT('/sms/{serviceName}/users/{login}', {
  params: { path: user },
  body: { quotaInformations: { quotaStatus: 'active', quotaLeft: 10 } },
})
if (quota.error) throw new Error(\`quota: \${quota.error.message}\`)
const read = await client.GET('/sms/{serviceName}/users/{login}', { params: { path: user } })
if (read.error) throw new Error(\`read: \${read.error.message}\`)
const readV1 = await v1.GET('/sms/{serviceName}/users/{login}', { params: { path: user } })
if (readV1.error) throw new Error(\`read under /v1: \${readV1.error.message}\`)
const job = await client.POST('/sms/{serviceName}/users/{login}/jobs', {
  params: { path: user },
  body: { message: 'hello', receivers: ['+33601020304'], sender: 'ACME' },
})
if (job.error) throw new Error(\`job: \${job.error.message}\`)
// Listed once the sending worker handed it to the carrier (the test runs the worker meanwhile).
let ids = await client.GET('/sms/{serviceName}/users/{login}/outgoing', { params: { path: user } })
for (let tries = 0; !ids.error && ids.data.length === 0 && tries < 600; tries++) {
  await new Promise((resolve) => setTimeout(resolve, 100))
  ids = await client.GET('/sms/{serviceName}/users/{login}/outgoing', { params: { path: user } })
}
if (ids.error) throw new Error(\`outgoing: \${ids.error.message}\`)
const first = ids.data[0] as number
const outgoing = await client.GET('/sms/{serviceName}/users/{login}/outgoing/{id}', {
  params: { path: { ...user, id: first } },
})
if (outgoing.error) throw new Error(\`outgoing/{id}: \${outgoing.error.message}\`)
console.log(JSON.stringify({ conflict, quota: read.data.quotaInformations, loginV1: readV1.data.login, jobIds: job.data.ids, ids: ids.data, receiver: outgoing.data.receiver }))
`

t.test('openapi-typescript + openapi-fetch: type-checked, then run against the server', async (t) => {
  const { app } = await buildTestApp(t, { credits: 100 })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal((await admin(app, 'POST', `/admin/v1/accounts/${SERVICE}/senders/ACME/enable`)).status, 200)
  const owner = (await admin(app, 'GET', `/admin/v1/accounts/${SERVICE}`)).body?.owner ?? 1
  const serviceAccount = await admin(app, 'POST', '/admin/v1/service-accounts', {
    owner,
    accessRules: ['GET', 'POST', 'PUT', 'DELETE'].map((method) => ({ method, path: '/*' })),
  })
  t.equal(serviceAccount.status, 200, JSON.stringify(serviceAccount.body))
  const tokenAnswer = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: serviceAccount.body.clientId,
      client_secret: serviceAccount.body.clientSecret,
    }).toString(),
  })
  const token = tokenAnswer.json().access_token as string

  // Inside the repository (.tap/ is git-ignored) so that openapi-fetch resolves from node_modules.
  const dir = join(ROOT, '.tap', `generated-client-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const document = await (await fetch(`${base}/openapi.json`)).json()
  // Relative server URLs, resolved against the document's own URL as a browser would.
  const servers = (document.servers as { url: string }[]).map(
    (server) => new URL(server.url, `${base}/openapi.json`).href,
  )
  t.same(servers, [`${base}/1.0`, `${base}/v1`])
  writeFileSync(join(dir, 'schema.d.ts'), astToString(await openapiTS(document)))
  writeFileSync(join(dir, 'client.ts'), PROGRAM)
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n')
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      files: ['client.ts'],
    }),
  )
  const checked = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    encoding: 'utf8',
  })
  t.equal(checked.status, 0, `tsc: ${checked.stdout}${checked.stderr}`)

  // Asynchronous: the server answers from this very process, whose sending worker runs meanwhile.
  let running = true
  const worker = (async () => {
    while (running) {
      await app.sendingWorker.runOnce()
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  const ran = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(dir, 'client.ts')],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, SERVERS: JSON.stringify(servers), TOKEN: token, SERVICE },
      },
      (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
    )
  })
  running = false
  await worker
  t.equal(ran.status, 0, ran.stderr)
  const result = JSON.parse(ran.stdout.trim().split('\n').pop() as string)
  t.match(result.conflict, /^409 Client::Conflict: /)
  t.same(result.quota, { quotaStatus: 'active', quotaLeft: 10 })
  t.equal(result.loginV1, 'genuser1', 'the same user read through the /v1 server')
  t.equal(result.jobIds.length, 1)
  t.same(result.ids, result.jobIds, 'the outgoing SMS is the job’s')
  t.equal(result.receiver, '+33601020304')
})
