/**
 * The document we serve against OVH's own schema (test/fixtures/ovh-sms-schema.json, OVH's /1.0/sms.json):
 * every OVH operation we serve has the same path, method, parameters (name, in, required, type) and
 * response type; every OVH model we expose has the same properties, types, enums, readOnly and
 * nullability. OVH's descriptions are there too: an operation's as its summary, a parameter's, a body
 * field's, a model's and a property's as the first paragraph of ours. Operations we do not serve are
 * only counted (the README lists them). OVH paths are written without their /1.0 and /v1 servers.
 */
import { readFileSync } from 'node:fs'
import t from 'tap'
import { renderOpenApi } from '../src/cli/main.js'
import { repoFile } from './support/paths.js'

type OvhProperty = {
  type: string
  fullType?: string
  canBeNull: boolean
  readOnly: boolean
  description?: string | null
}
type OvhModel = {
  description?: string | null
  enum?: string[]
  enumType?: string
  properties?: Record<string, OvhProperty>
}
type OvhParameter = {
  name?: string | null
  dataType: string
  paramType: string
  required: boolean
  description?: string | null
}
type OvhOperation = {
  httpMethod: string
  description: string
  parameters: OvhParameter[]
  responseType: string
}
type OvhSchema = { apis: { path: string; operations: OvhOperation[] }[]; models: Record<string, OvhModel> }

type Json = Record<string, unknown>
type OpenApiParameter = { name: string; in: string; required?: boolean; schema: Json; description?: string }
type OpenApiOperation = {
  summary?: string
  parameters?: OpenApiParameter[]
  requestBody?: { description?: string; content: Record<string, { schema: Json }> }
  responses: Record<string, { content?: Record<string, { schema: Json }> }>
}
type OpenApiDocument = {
  paths: Record<string, Record<string, OpenApiOperation> & { servers?: unknown }>
  components: { schemas: Record<string, Json> }
}

const ovh = JSON.parse(readFileSync(repoFile('test/fixtures/ovh-sms-schema.json'), 'utf8')) as OvhSchema
const served = JSON.parse(await renderOpenApi()) as OpenApiDocument
const components = served.components.schemas

const REF_PREFIX = '#/components/schemas/'
const STRING_TYPES = new Set([
  'string',
  'password',
  'text',
  'phoneNumber',
  'internationalPhoneNumber',
  'ip',
  'ipBlock',
])
const FORMATS: Record<string, string> = { datetime: 'date-time', date: 'date', uuid: 'uuid' }

/**
 * OVH's description is ours, or the first paragraph of ours (what sms-mirror adds follows it). A
 * description OVH does not give is not checked.
 */
function compareDescription(ovhText: string | null | undefined, ours: unknown, where: string): string[] {
  if (!ovhText) return []
  if (ours === ovhText || (typeof ours === 'string' && ours.startsWith(`${ovhText}\n\n`))) return []
  return [`${where}: description is ${JSON.stringify(ovhText)} at OVH, ours ${JSON.stringify(ours)}`]
}

function refName(schema: Json): string | undefined {
  const allOf = schema.allOf as Json[] | undefined
  if (allOf?.length === 1) return refName(allOf[0] as Json) // a $ref with annotations beside it
  const ref = schema.$ref
  return typeof ref === 'string' && ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : undefined
}

function typesOf(schema: Json): string[] {
  const type = schema.type
  return Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : []
}

/** Whether the schema lets null through (`type: [T, "null"]`, `anyOf: [.., {type: null}]`). */
function acceptsNull(schema: Json): boolean {
  if (typesOf(schema).includes('null')) return true
  const anyOf = (schema.anyOf ?? schema.oneOf) as Json[] | undefined
  return Boolean(anyOf?.some((branch) => acceptsNull(branch)))
}

/** The schema with its null alternative taken away. */
function withoutNull(schema: Json): Json {
  const anyOf = (schema.anyOf ?? schema.oneOf) as Json[] | undefined
  if (anyOf) {
    const rest = anyOf.filter((branch) => !(typesOf(branch).length === 1 && typesOf(branch)[0] === 'null'))
    if (rest.length === 1) return rest[0] as Json
  }
  const types = typesOf(schema)
  if (types.includes('null')) {
    const others = types.filter((type) => type !== 'null')
    return { ...schema, type: others.length === 1 ? others[0] : others }
  }
  return schema
}

/** Differences between an OVH type (`long`, `sms.User`, `string[]`, `map[string]string`) and our schema. */
function compareType(ovhType: string, schema: Json, where: string): string[] {
  const ours = withoutNull(schema)
  // `X[]`, and `[]X` inside map types (map[string][]iam.resource.TagFilter)
  const item = ovhType.endsWith('[]')
    ? ovhType.slice(0, -2)
    : ovhType.startsWith('[]')
      ? ovhType.slice(2)
      : null
  if (item !== null) {
    if (!typesOf(ours).includes('array')) return [`${where}: OVH ${ovhType}, ours is not an array`]
    return compareType(item, (ours.items ?? {}) as Json, `${where}[]`)
  }
  const map = /^map\[string\](.+)$/.exec(ovhType)
  if (map) {
    if (!typesOf(ours).includes('object') || typeof ours.additionalProperties !== 'object')
      return [`${where}: OVH ${ovhType}, ours is not a map`]
    return compareType(map[1] as string, ours.additionalProperties as Json, `${where}{}`)
  }
  const model = ovh.models[ovhType]
  if (model) {
    const name = refName(ours)
    if (name === ovhType) return []
    if (name) return [`${where}: OVH ${ovhType}, ours refers to ${name}`]
    if (model.enum) return compareEnum(ovhType, model, ours, where)
    // An inline object (a PUT body where every field is optional): the same properties, same types.
    return compareProperties(ovhType, model, ours, where, { flags: false })
  }
  const expectedType =
    ovhType === 'long' || ovhType === 'int'
      ? 'integer'
      : ovhType === 'double'
        ? 'number'
        : ovhType === 'boolean'
          ? 'boolean'
          : STRING_TYPES.has(ovhType) || FORMATS[ovhType]
            ? 'string'
            : undefined
  if (!expectedType) return [`${where}: OVH type ${ovhType} unknown to this test`]
  const types = typesOf(ours)
  if (types.length !== 1 || types[0] !== expectedType)
    return [`${where}: OVH ${ovhType} (${expectedType}), ours ${JSON.stringify(ours.type ?? ours)}`]
  const format = FORMATS[ovhType]
  if (format && ours.format !== format) return [`${where}: OVH ${ovhType}, ours lacks format ${format}`]
  return []
}

function compareEnum(name: string, model: OvhModel, ours: Json, where: string): string[] {
  const numeric = model.enumType === 'long' || model.enumType === 'double'
  const expected = (model.enum ?? []).map((value) => (numeric ? Number(value) : value))
  const values = (ours.enum ?? (ours.const !== undefined ? [ours.const] : undefined)) as unknown[] | undefined
  const problems: string[] = []
  if (!values) return [`${where}: OVH enum ${name}, ours has no enum`]
  const sorted = (list: unknown[]) => JSON.stringify([...list].sort())
  if (sorted(values) !== sorted(expected))
    problems.push(`${where}: enum ${name} is ${sorted(expected)} at OVH, ours ${sorted(values)}`)
  const expectedType =
    model.enumType === 'long' ? 'integer' : model.enumType === 'double' ? 'number' : 'string'
  if (JSON.stringify(typesOf(ours)) !== JSON.stringify([expectedType]))
    problems.push(`${where}: enum ${name} has type ${expectedType} at OVH, ours ${JSON.stringify(ours.type)}`)
  return problems
}

function compareProperties(
  name: string,
  model: OvhModel,
  ours: Json,
  where: string,
  { flags }: { flags: boolean },
): string[] {
  const properties = (ours.properties ?? {}) as Record<string, Json>
  const expected = Object.keys(model.properties ?? {}).sort()
  const actual = Object.keys(properties).sort()
  const problems: string[] = []
  if (JSON.stringify(expected) !== JSON.stringify(actual))
    problems.push(`${where}: ${name} properties are ${expected.join(', ')} at OVH, ours ${actual.join(', ')}`)
  for (const [property, definition] of Object.entries(model.properties ?? {})) {
    const schema = properties[property]
    if (!schema) continue
    const at = `${where}.${property}`
    problems.push(...compareDescription(definition.description, schema.description, at))
    problems.push(...compareType(definition.fullType ?? definition.type, schema, at))
    if (!flags) continue
    if (acceptsNull(schema) !== definition.canBeNull)
      problems.push(`${at}: canBeNull is ${definition.canBeNull} at OVH, ours ${acceptsNull(schema)}`)
    if ((schema.readOnly === true) !== definition.readOnly)
      problems.push(`${at}: readOnly is ${definition.readOnly} at OVH, ours ${schema.readOnly === true}`)
  }
  return problems
}

function jsonSchemaOf(content: Record<string, { schema: Json }> | undefined): Json | undefined {
  return content?.['application/json']?.schema
}

function compareOperation(path: string, operation: OvhOperation, ours: OpenApiOperation): string[] {
  const where = `${operation.httpMethod} ${path}`
  const problems: string[] = []
  if (ours.summary !== operation.description)
    problems.push(
      `${where}: summary is ${JSON.stringify(operation.description)} at OVH, ours ${JSON.stringify(ours.summary)}`,
    )
  const parameters = ours.parameters ?? []
  const ovhParameters = operation.parameters.filter((p) => p.paramType !== 'body')
  const key = (name: string, place: string) => `${place}:${name}`
  const expected = ovhParameters.map((p) => key(p.name as string, p.paramType)).sort()
  const actual = parameters.map((p) => key(p.name, p.in)).sort()
  if (JSON.stringify(expected) !== JSON.stringify(actual))
    problems.push(`${where}: parameters are ${expected.join(', ')} at OVH, ours ${actual.join(', ')}`)
  for (const parameter of ovhParameters) {
    const mine = parameters.find((p) => p.name === parameter.name && p.in === parameter.paramType)
    if (!mine) continue
    const at = `${where} ${parameter.paramType} ${parameter.name}`
    if (Boolean(mine.required) !== parameter.required)
      problems.push(`${at}: required is ${parameter.required} at OVH, ours ${Boolean(mine.required)}`)
    problems.push(...compareDescription(parameter.description, mine.description, at))
    problems.push(...compareType(parameter.dataType, mine.schema, at))
  }

  const body = operation.parameters.filter((p) => p.paramType === 'body')
  const bodySchema = jsonSchemaOf(ours.requestBody?.content)
  if (body.length === 0) {
    if (bodySchema) problems.push(`${where}: OVH takes no body, ours does`)
  } else if (!bodySchema) {
    problems.push(`${where}: OVH takes a body, ours does not`)
  } else if (body.length === 1 && !body[0]?.name) {
    // PUT: the body is the model itself (ours: the model with every field optional).
    problems.push(...compareDescription(body[0]?.description, ours.requestBody?.description, `${where} body`))
    problems.push(...compareType(body[0]?.dataType as string, bodySchema, `${where} body`))
  } else {
    const properties = (bodySchema.properties ?? {}) as Record<string, Json>
    const required = new Set((bodySchema.required ?? []) as string[])
    const names = body.map((p) => p.name as string).sort()
    const mine = Object.keys(properties).sort()
    if (JSON.stringify(names) !== JSON.stringify(mine))
      problems.push(`${where}: body fields are ${names.join(', ')} at OVH, ours ${mine.join(', ')}`)
    for (const parameter of body) {
      const name = parameter.name as string
      const schema = properties[name]
      if (!schema) continue
      if (required.has(name) !== parameter.required)
        problems.push(
          `${where} body ${name}: required is ${parameter.required} at OVH, ours ${required.has(name)}`,
        )
      problems.push(...compareDescription(parameter.description, schema.description, `${where} body ${name}`))
      problems.push(...compareType(parameter.dataType, schema, `${where} body ${name}`))
    }
  }

  const response = jsonSchemaOf(ours.responses['200']?.content)
  if (operation.responseType === 'void') {
    if (response && !(typesOf(response).length === 1 && typesOf(response)[0] === 'null'))
      problems.push(`${where}: OVH answers void, ours ${JSON.stringify(response)}`)
  } else if (!response) {
    problems.push(`${where}: OVH answers ${operation.responseType}, ours documents no JSON answer`)
  } else {
    problems.push(...compareType(operation.responseType, response, `${where} answer`))
  }
  return problems
}

const total = ovh.apis.reduce((sum, api) => sum + api.operations.length, 0)
const notServed: string[] = []
const operationProblems: string[] = []
let servedCount = 0
for (const api of ovh.apis) {
  for (const operation of api.operations) {
    const item = served.paths[api.path]
    const ours = item && !item.servers ? item[operation.httpMethod.toLowerCase()] : undefined
    if (!ours) {
      notServed.push(`${operation.httpMethod} ${api.path}`)
      continue
    }
    servedCount += 1
    operationProblems.push(...compareOperation(api.path, operation, ours))
  }
}

t.comment(`served ${servedCount} of ${total} operations`)

t.test('the fixture is OVH’s schema: 78 paths, 124 operations, 89 models', async (t) => {
  t.equal(ovh.apis.length, 78)
  t.equal(total, 124)
  t.equal(Object.keys(ovh.models).length, 89)
})

t.test(
  'every OVH operation we serve matches OVH’s (path, method, parameters, answer, descriptions)',
  async (t) => {
    t.ok(servedCount > 0, `served ${servedCount} of ${total} operations`)
    t.same(operationProblems, [], operationProblems.join('\n'))
  },
)

t.test(
  'every OVH model we expose matches OVH’s (properties, types, enums, readOnly, nullability, descriptions)',
  async (t) => {
    const exposed = Object.keys(components).filter((name) => ovh.models[name])
    t.ok(exposed.length > 0)
    const problems: string[] = []
    for (const name of exposed) {
      const model = ovh.models[name] as OvhModel
      const ours = components[name] as Json
      problems.push(...compareDescription(model.description, ours.description, name))
      if (model.enum) problems.push(...compareEnum(name, model, ours, name))
      else problems.push(...compareProperties(name, model, ours, name, { flags: true }))
    }
    t.same(problems, [], problems.join('\n'))
  },
)

t.test('the README lists exactly the OVH operations not served', async (t) => {
  const readme = readFileSync(repoFile('README.md'), 'utf8')
  const section = readme.split('#### Not served')[1]?.split(/\n#/)[0] ?? ''
  const listed = [...section.matchAll(/`((?:GET|POST|PUT|DELETE) [^`]+)`/g)].map((m) => m[1] as string)
  t.same(
    notServed.filter((operation) => !listed.includes(operation)),
    [],
    'every operation not served is in README "Not served"',
  )
  t.same(
    listed.filter((operation) => !notServed.includes(operation)),
    [],
    'README "Not served" names no served operation',
  )
})

t.test('the comparison catches differences', async (t) => {
  const user = ovh.models['sms.User'] as OvhModel
  const readOnlyLost = structuredClone(components['sms.User'] as Json)
  delete ((readOnlyLost.properties as Record<string, Json>).login as Json).readOnly
  t.match(compareProperties('sms.User', user, readOnlyLost, 'x', { flags: true }), [/x\.login: readOnly/])
  const nullAdded = structuredClone(components['sms.User'] as Json)
  ;(nullAdded.properties as Record<string, Json>).password = { type: ['string', 'null'] }
  t.match(compareProperties('sms.User', user, nullAdded, 'x', { flags: true }), [/x\.password: canBeNull/])
  t.match(compareType('long[]', { type: 'array', items: { type: 'string' } }, 'y'), [/y\[\]: OVH long/])
  t.match(
    compareEnum(
      'sms.SupportEnum',
      ovh.models['sms.SupportEnum'] as OvhModel,
      { type: 'string', enum: ['mail'] },
      'z',
    ),
    [/z: enum sms.SupportEnum/],
  )
  const described = structuredClone(components['sms.User'] as Json)
  ;((described.properties as Record<string, Json>).callBack as Json).description = 'a URL'
  t.match(compareProperties('sms.User', user, described, 'x', { flags: false }), [/x\.callBack: description/])
  ;((described.properties as Record<string, Json>).callBack as Json).description =
    'URL called when state of a sent SMS changes, and more'
  t.match(compareProperties('sms.User', user, described, 'x', { flags: false }), [/x\.callBack: description/])
  ;((described.properties as Record<string, Json>).callBack as Json).description =
    'URL called when state of a sent SMS changes\n\nours'
  t.same(compareProperties('sms.User', user, described, 'x', { flags: false }), [])
  const jobs = ovh.apis.find((api) => api.path === '/sms/{serviceName}/jobs')?.operations[1] as OvhOperation
  const problems = compareOperation('/sms/{serviceName}/jobs', jobs, { responses: {} }).join('\n')
  t.match(problems, /summary is "Add one or several sending jobs" at OVH, ours undefined/)
  t.match(problems, /parameters are path:serviceName at OVH, ours $/m)
  t.match(problems, /OVH takes a body, ours does not/)
  t.match(problems, /OVH answers sms.SmsSendingReport, ours documents no JSON answer/)
})
