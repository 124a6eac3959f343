import { ovhSignature } from '../../src/auth/signature.js'

export type Keys = { applicationKey: string; applicationSecret: string; consumerKey: string }

/** Access rules that allow every call (the keys tests, benches and drills sign with). */
export const ALL_RULES = [
  { method: 'GET', path: '/*' },
  { method: 'POST', path: '/*' },
  { method: 'PUT', path: '/*' },
  { method: 'DELETE', path: '/*' },
]

/**
 * OVH signature headers for a request, computed like the official Node client does
 * (`https://` + host without its port + path). `timestamp` in seconds, now by default.
 */
export function signedHeaders(
  keys: Keys,
  method: string,
  url: string,
  body: string,
  timestamp: number = Math.floor(Date.now() / 1000),
  host = 'localhost:80',
): Record<string, string> {
  const fullUrl = `https://${host.replace(/:\d+$/, '')}${url}`
  return {
    host,
    'x-ovh-application': keys.applicationKey,
    'x-ovh-consumer': keys.consumerKey,
    'x-ovh-timestamp': String(timestamp),
    'x-ovh-signature': ovhSignature(
      keys.applicationSecret,
      keys.consumerKey,
      method,
      fullUrl,
      body,
      String(timestamp),
    ),
  }
}

/** A valid French mobile number for each n (distinct for n < 10,000,000). */
export const receiverFor = (n: number) => `+3361${String(n % 10_000_000).padStart(7, '0')}`

/** The current time as the `x-ovh-timestamp` of a signed call (seconds). */
export const nowSeconds = () => Math.floor(Date.now() / 1000)
