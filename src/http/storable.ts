import type { FastifyInstance } from 'fastify'
import { invalid } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route checks for unstorable values itself (http2sms answers in its own format). */
    storableCheck?: boolean
  }
}

/** Why PostgreSQL cannot store this text (text and json refuse U+0000; a lone surrogate has no UTF-8). */
function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'text without the NUL character (U+0000)'
  if (/\p{Cs}/u.test(text)) return 'well-formed Unicode text (a lone surrogate such as \\ud800 is not)'
  return null
}

/**
 * The first value PostgreSQL cannot store, as a dotted path ('' for the value itself) and the rule it
 * breaks, or null: text (values and keys) with U+0000 or a lone surrogate, and a non-finite number
 * (ajv coerces a query or path "1e309" to Infinity, then skips its minimum and maximum). Walks
 * without recursion: a JSON body may nest deeply.
 */
export function unstorableValueAt(value: unknown): { path: string; expected: string } | null {
  const pending: [unknown, string][] = [[value, '']]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path] = next
    if (typeof item === 'string') {
      const expected = unstorableText(item)
      if (expected) return { path, expected }
    } else if (typeof item === 'number' && !Number.isFinite(item)) {
      return { path, expected: 'a finite number' }
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        const at = path ? `${path}.${key}` : key
        const expected = unstorableText(key)
        if (expected) return { path: at, expected: `a field name of ${expected}` }
        pending.push([child, at])
      }
    }
  }
  return null
}

/**
 * Refuses with a 400 what PostgreSQL cannot store, in path parameters, query and body, before any
 * handler queries with it; names the field like the schema-level messages do.
 */
export function refuseUnstorableValues(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config.storableCheck === false) return
    for (const [dataVar, value] of [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.body],
    ] as const) {
      const found = unstorableValueAt(value)
      if (found) {
        throw invalid(dataVar === 'body' ? found.path || 'body' : `${dataVar} ${found.path}`, found.expected)
      }
    }
  })
}
