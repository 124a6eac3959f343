import { invalid } from '../errors.js'

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
