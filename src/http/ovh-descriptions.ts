/**
 * OVH's own words in the OpenAPI document, taken from OVH's schema (test/fixtures/ovh-sms-schema.json,
 * OVH's /1.0/sms.json) each time the document is built, so that they cannot drift from it:
 * - every OVH operation we serve: OVH's description as its summary; what the route itself says
 *   (its hand-written summary and description) becomes the description;
 * - every parameter and body field of those operations: OVH's description, ours after it;
 * - every OVH model we expose (components named sms.User, sms.Account…) and its properties: OVH's
 *   description, ours after it. Inline copies of a model (a PUT body) get the same.
 * Where OVH gives no description, ours stays. Our own operations (admin, http2sms, auth…) are untouched.
 */
import ovhSchema from '../../test/fixtures/ovh-sms-schema.json' with { type: 'json' }

export type OvhProperty = { type: string; fullType?: string; description?: string | null }
export type OvhModel = {
  description?: string | null
  enum?: string[]
  properties?: Record<string, OvhProperty>
}
export type OvhParameter = {
  name?: string | null
  dataType: string
  paramType: string
  description?: string | null
}
export type OvhOperation = { httpMethod: string; description: string; parameters: OvhParameter[] }
export type OvhSchema = {
  apis: { path: string; operations: OvhOperation[] }[]
  models: Record<string, OvhModel>
}

export const OVH_SCHEMA = ovhSchema as unknown as OvhSchema

type Json = Record<string, unknown>
type Operation = {
  summary?: string
  description?: string
  parameters?: { name: string; in: string; description?: string }[]
  requestBody?: { description?: string; content?: Record<string, { schema?: Json }> }
}
type Document = {
  paths?: Record<string, Record<string, object>>
  components?: { schemas?: Record<string, unknown> }
}

/** OVH's text first, ours after it as a paragraph of its own (unless it says the same). Idempotent. */
export function withOvhText(ovh: string | null | undefined, ours: string | undefined): string | undefined {
  if (!ovh) return ours
  if (!ours || ours === ovh) return ovh
  if (ours.startsWith(`${ovh}\n\n`)) return ours
  return `${ovh}\n\n${ours}`
}

function describe(target: Json, ovh: string | null | undefined): void {
  const text = withOvhText(ovh, target.description as string | undefined)
  if (text !== undefined) target.description = text
}

/** The item type of `X[]`, `[]X`; null otherwise. */
function itemType(type: string): string | null {
  if (type.endsWith('[]')) return type.slice(0, -2)
  if (type.startsWith('[]')) return type.slice(2)
  return null
}

/**
 * Describes an inline schema of OVH type `type`: its properties when it is an inline object of an OVH
 * model (a $ref is left alone: its component is described once), its items when it is an array.
 */
function describeSchema(schema: Json | undefined, type: string): void {
  if (!schema || typeof schema !== 'object' || schema.$ref) return
  for (const branch of (schema.anyOf ?? schema.oneOf ?? []) as Json[]) describeSchema(branch, type)
  const item = itemType(type)
  if (item !== null) {
    describeSchema(schema.items as Json | undefined, item)
    return
  }
  const model = OVH_SCHEMA.models[type]
  const properties = schema.properties as Record<string, Json> | undefined
  if (!model?.properties || !properties) return
  for (const [name, property] of Object.entries(model.properties)) {
    const ours = properties[name]
    if (!ours) continue
    describe(ours, property.description)
    describeSchema(ours, property.fullType ?? property.type)
  }
}

/** The OVH operations by `method path` (lower-case method, OVH's path without /1.0). */
const OVH_OPERATIONS = new Map<string, OvhOperation>(
  OVH_SCHEMA.apis.flatMap((api) =>
    api.operations.map(
      (operation) => [`${operation.httpMethod.toLowerCase()} ${api.path}`, operation] as const,
    ),
  ),
)

/** Which OVH operation a path of the document (written without its /1.0 or /v1 server) is. */
export function ovhOperationOf(method: string, path: string): OvhOperation | undefined {
  return OVH_OPERATIONS.get(`${method.toLowerCase()} ${path}`)
}

function describeOperation(operation: Operation, ovh: OvhOperation): void {
  if (operation.summary !== ovh.description) describeSummary(operation, ovh)
  describeParameters(operation, ovh)
}

function describeSummary(operation: Operation, ovh: OvhOperation): void {
  const ours = [operation.summary, operation.description].filter(Boolean).join('\n\n')
  operation.summary = ovh.description
  if (ours && ours !== ovh.description) operation.description = ours
  else delete operation.description
}

function describeParameters(operation: Operation, ovh: OvhOperation): void {
  for (const parameter of operation.parameters ?? []) {
    const match = ovh.parameters.find((p) => p.name === parameter.name && p.paramType === parameter.in)
    if (match) describe(parameter as Json, match.description)
  }
  const body = ovh.parameters.filter((p) => p.paramType === 'body')
  const requestBody = operation.requestBody
  const schema = requestBody?.content?.['application/json']?.schema
  if (!requestBody || !schema || body.length === 0) return
  if (body.length === 1 && !body[0]?.name) {
    // PUT: the body is the model itself.
    describe(requestBody as Json, body[0]?.description)
    describeSchema(schema, body[0]?.dataType as string)
    return
  }
  const properties = (schema.properties ?? {}) as Record<string, Json>
  for (const field of body) {
    const property = properties[field.name as string]
    if (!property) continue
    describe(property, field.description)
    describeSchema(property, field.dataType)
  }
}

/**
 * Puts OVH's descriptions into the document: `paths` written without the /1.0 or /v1 server (the
 * paths with servers of their own are ours, never OVH's), components named after OVH's models.
 */
export function withOvhDescriptions<T extends Document>(document: T): T {
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    if ((item as Json).servers) continue
    for (const [method, operation] of Object.entries(item)) {
      const ovh = ovhOperationOf(method, path)
      if (ovh) describeOperation(operation as Operation, ovh)
    }
  }
  for (const [name, schema] of Object.entries(document.components?.schemas ?? {})) {
    const model = OVH_SCHEMA.models[name]
    if (!model) continue
    describe(schema as Json, model.description)
    describeSchema(schema as Json, name)
  }
  return document
}
