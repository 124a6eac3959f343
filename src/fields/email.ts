import { invalid } from '../errors.js'

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
