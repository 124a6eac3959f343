import { isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import ipaddr from 'ipaddr.js'
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { badRequest } from './errors.js'

/**
 * Rules JSON Schema cannot express. Each failure is a 400 naming the field and the rule, in the same
 * words as the schema-level messages (see the schemaErrorFormatter in app.ts).
 */

export const invalid = (field: string, rule: string) => badRequest(`Invalid ${field}: expected ${rule}`)

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

/** Absolute http(s) URL, or null/"" to clear. */
export function callbackUrl(field: string, value: string | null): string | null {
  if (value === null || value.trim() === '') return null
  const rule = 'an absolute http:// or https:// URL of at most 2048 characters, or null/empty to clear'
  if (value.length > 2048 || value !== value.trim()) throw invalid(field, rule)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(field, rule)
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) throw invalid(field, rule)
  return value
}

/** Up to `max` distinct IPv4/IPv6 addresses, returned in canonical form. */
export function ipAddressList(field: string, values: string[], max: number): string[] {
  if (values.length > max) throw invalid(field, `at most ${max} IP addresses, got ${values.length}`)
  const seen = new Set<string>()
  for (const value of values) {
    // node:net is strict (dotted quad only, no zone id); ipaddr.js then gives the canonical spelling.
    if (isIP(value) === 0 || value.includes('%')) {
      throw invalid(field, `valid IPv4 or IPv6 addresses, "${value}" is not one`)
    }
    const canonical = ipaddr.parse(value).toString()
    if (seen.has(canonical)) throw invalid(field, `distinct IP addresses, "${value}" appears twice`)
    seen.add(canonical)
  }
  return [...seen]
}

/**
 * A phone number written internationally (`+33…` or `0033…`, spaces allowed), as E.164 with its
 * country calling code; null when it is not a valid number.
 */
export function parseInternational(value: string): { number: string; callingCode: string } | null {
  const trimmed = value.trim()
  const international = trimmed.startsWith('00') ? `+${trimmed.slice(2)}` : trimmed
  if (!international.startsWith('+') || international.length > 32) return null
  const phone = parsePhoneNumberFromString(international)
  return phone?.isValid() ? { number: phone.number, callingCode: phone.countryCallingCode } : null
}

/** A phone number in international format, returned as E.164; null/"" unsets it. */
export function internationalPhoneNumber(field: string, value: string | null): string | null {
  if (value === null || value.trim() === '') return null
  const parsed = parseInternational(value)
  if (!parsed)
    throw invalid(field, 'a phone number in international format such as +33601020304 or 0033601020304')
  return parsed.number
}

// The address syntax ajv-formats checks for `format: email` (its "fast" mode), kept in one place.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i

export function emailAddress(field: string, value: string | null): string | null {
  if (value === null || value.trim() === '') return null
  const trimmed = value.trim()
  if (trimmed.length > 254 || !EMAIL.test(trimmed))
    throw invalid(field, 'a valid e-mail address such as ops@example.com')
  return trimmed
}
