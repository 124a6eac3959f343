import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { renderOpenApi } from '../src/cli/main.js'
import { loadConfig } from '../src/config.js'
import { openApiOptions } from '../src/http/openapi.js'
import { buildTestApp } from './helpers.js'
import { repoFile } from './support/paths.js'

const committedPath = repoFile('openapi/openapi.json')
const rendered = await renderOpenApi()
const doc = JSON.parse(rendered) as {
  servers: { url: string }[]
  paths: Record<string, Record<string, unknown> & { servers?: { url: string }[] }>
  components: { schemas: Record<string, { properties?: Record<string, unknown> }> }
}

t.test('the committed openapi/openapi.json is up to date', async (t) => {
  const committed = readFileSync(committedPath, 'utf8')
  t.ok(committed === rendered, 'openapi/openapi.json is stale: run `npm run openapi`')
})

t.test('the document is valid OpenAPI', async (t) => {
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never))
})

t.test('every route and model is documented', async (t) => {
  const expected: Record<string, string[]> = {
    '/sms': ['get'],
    '/sms/{serviceName}': ['get', 'put'],
    '/sms/{serviceName}/users': ['get', 'post'],
    '/sms/{serviceName}/users/{login}': ['delete', 'get', 'put'],
    '/sms/ptts': ['get'],
    '/auth/time': ['get'],
    '/health': ['get', 'servers'],
  }
  for (const [path, methods] of Object.entries(expected)) {
    const item = doc.paths[path]
    t.ok(item, `${path} documented`)
    t.same(Object.keys(item ?? {}).sort(), methods, `${path} methods`)
  }
  t.notOk(
    Object.keys(doc.paths).some((path) => path.startsWith('/v1') || path.startsWith('/1.0')),
    'the OVH paths are written without their server, and the /v1 copies are not repeated',
  )
  const schemas = doc.components.schemas
  for (const name of [
    'sms.User',
    'sms.Quota',
    'sms.AlertThreshold',
    'sms.Account',
    'sms.AccountWithIAM',
    'sms.PttDetails',
  ]) {
    t.ok(schemas[name], `component ${name}`)
  }
  t.same(Object.keys(schemas['sms.User']?.properties ?? {}).sort(), [
    'alertThresholdInformations',
    'callBack',
    'ipRestrictions',
    'login',
    'password',
    'quotaInformations',
    'stopCallBack',
  ])
})

t.test(
  'servers: /1.0 and /v1 for the OVH paths, the root for ours; each operation is served there',
  async (t) => {
    t.same(
      doc.servers.map((server) => server.url),
      ['/1.0', '/v1'],
    )
    const { app } = await buildTestApp(t)
    let checked = 0
    const missing: string[] = []
    for (const [path, item] of Object.entries(doc.paths)) {
      const servers = (item.servers ?? doc.servers).map((server) => server.url.replace(/\/$/, ''))
      if (item.servers)
        t.same(
          item.servers.map((server) => server.url),
          ['/'],
          `${path}: under the root`,
        )
      for (const method of Object.keys(item).filter((key) => key !== 'servers')) {
        for (const server of servers) {
          const url = `${server}${path.replace(/\{(\w+)\}/g, ':$1')}`
          checked++
          if (!app.hasRoute({ method: method.toUpperCase() as never, url })) missing.push(`${method} ${url}`)
        }
      }
    }
    t.same(missing, [], 'every operation is routed under each of its servers')
    t.ok(checked > 100, `${checked} operation × server pairs`)
    const inside = Object.keys(doc.paths).filter((path) => !doc.paths[path]?.servers)
    t.ok(inside.includes('/sms/{serviceName}/users') && !inside.includes('/health'))
    t.ok(doc.paths['/admin/v1/owners']?.servers && doc.paths['/auth/oauth2/token']?.servers)
  },
)

t.test('with PUBLIC_URL, the servers are absolute', async (t) => {
  const options = openApiOptions(loadConfig({ DATA_DIR: 'memory', PUBLIC_URL: 'https://sms.example.org' }))
  const { transformObject } = options as unknown as { transformObject: (input: object) => typeof doc }
  const built = transformObject({
    openapiObject: { paths: { '/1.0/sms': { get: {} }, '/health': { get: {} } } },
  })
  t.same(
    built.servers.map((server) => server.url),
    ['https://sms.example.org/1.0', 'https://sms.example.org/v1'],
  )
  t.same(
    built.paths['/health']?.servers?.map((server) => server.url),
    ['https://sms.example.org'],
  )
  t.notOk(built.paths['/sms']?.servers)
})

t.test('the app serves the document and the docs UI', async (t) => {
  const { app } = await buildTestApp(t)
  const served = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(served.statusCode, 200)
  t.match(served.headers['content-type'], /application\/json/)
  t.same(JSON.parse(served.body), doc)

  const docs = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-type'], /text\/html/)
  t.match(docs.body, /swagger-ui/)

  const assets = [...docs.body.matchAll(/(?:href|src)="([^"]+\.(?:css|js))"/g)].map((m) => m[1] as string)
  t.ok(assets.length > 0, 'the HTML references assets')
  for (const asset of assets) {
    const url = asset.startsWith('/') ? asset : `/docs/${asset.replace(/^\.\//, '')}`
    const response = await app.inject({ method: 'GET', url })
    t.equal(response.statusCode, 200, `${url} served`)
  }
  const css = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' })
  t.equal(css.statusCode, 200, '/docs/static/swagger-ui.css served')
})

t.test('every operation documents its errors with the one ovh.Error schema', async (t) => {
  const error = { $ref: '#/components/schemas/ovh.Error' }
  const errorSchema = doc.components.schemas['ovh.Error'] as { required?: string[]; properties?: object }
  t.same(errorSchema.required, ['class', 'message'])
  t.same(Object.keys(errorSchema.properties ?? {}), ['class', 'message', 'errorCode', 'httpCode'])
  type Op = { security?: unknown[]; responses: Record<string, { description: string; content?: unknown }> }
  let operations = 0
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (method === 'servers') continue
      const operation = raw as Op
      operations++
      const where = `${method.toUpperCase()} ${path}`
      for (const status of ['400', '503']) {
        t.same(
          operation.responses[status]?.content,
          { 'application/json': { schema: error } },
          `${where} ${status}`,
        )
      }
      const secured = (operation.security ?? [{}]).length > 0
      t.equal(Boolean(operation.responses['401']), secured, `${where}: 401 exactly when it needs credentials`)
      if (path.includes('{')) t.ok(operation.responses['404'], `${where} 404`)
      t.not(operation.responses['200']?.description, 'Default Response', `${where}: 200 described`)
    }
  }
  t.ok(operations > 40, `${operations} operations checked`)
})
