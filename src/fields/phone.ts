import { parsePhoneNumberFromString } from 'libphonenumber-js/max'
import { invalid } from '../errors.js'

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

/** A number as stored (E.164) when it parses, else as given: filters and lookups written 0033… or with spaces still find it. */
export function normaliseNumber(value: string): string {
  return parseInternational(value)?.number ?? value
}
