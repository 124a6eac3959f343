import { isIP } from 'node:net'
import { classifyAddress } from '../dlr/ssrf.js'
import { badRequest, invalid } from '../errors.js'

export type CallbackUrlOptions = {
  /** CALLBACK_ALLOW_PRIVATE: false refuses hosts the dispatcher's SSRF guard would refuse anyway. */
  allowPrivate: boolean
}

/**
 * Absolute http(s) URL, or null/"" to clear. With the SSRF guard on, a host that is itself a
 * loopback/private/… address (an IP literal, `localhost`, `*.localhost`) is refused here, where the
 * client sees it, instead of every delivery failing later. Names are not resolved at save time
 * (they may change): the dispatcher checks what they resolve to at each call.
 */
export function callbackUrl(field: string, value: string | null, options: CallbackUrlOptions): string | null {
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
  if (!options.allowPrivate) {
    const range = nonPublicHost(url.hostname)
    if (range) {
      throw badRequest(
        `Invalid ${field}: host ${url.hostname} is a non-public address (${range}), which this server does not call ` +
          '(SSRF guard); use a public host, or set CALLBACK_ALLOW_PRIVATE=true on the server to receive callbacks locally',
      )
    }
  }
  return value
}

/** The range of a host that is a non-public address by itself (no DNS), or null. */
function nonPublicHost(hostname: string): string | null {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
  const lower = host.toLowerCase().replace(/\.$/, '')
  if (lower === 'localhost' || lower.endsWith('.localhost')) return 'loopback'
  if (isIP(host) === 0) return null // a name: resolved by the dispatcher at each call
  const { public: isPublic, range } = classifyAddress(host)
  return isPublic ? null : range
}
