import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { badRequest } from './errors.js'

/**
 * Rules JSON Schema cannot express. Each failure is a 400 naming the field and the rule, in the same
 * words as the schema-level messages (see the schemaErrorFormatter in app.ts).
 */

export const invalid = (field: string, rule: string) => badRequest(`Invalid ${field}: expected ${rule}`)

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
