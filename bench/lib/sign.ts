import { ovhSignature } from '../../src/auth/signature.js'

export type Keys = { applicationKey: string; applicationSecret: string; consumerKey: string }

/** OVH signature headers as the official Node client makes them (`https://` + host without port). */
export function signedHeaders(
  keys: Keys,
  method: string,
  path: string,
  body: string,
  host: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const url = `https://${host.replace(/:\d+$/, '')}${path}`
  return {
    host,
    'x-ovh-application': keys.applicationKey,
    'x-ovh-consumer': keys.consumerKey,
    'x-ovh-timestamp': String(timestamp),
    'x-ovh-signature': ovhSignature(
      keys.applicationSecret,
      keys.consumerKey,
      method,
      url,
      body,
      String(timestamp),
    ),
  }
}

/** A valid French mobile number for each n (distinct for n < 10,000,000). */
export const receiverFor = (n: number) => `+3361${String(n % 10_000_000).padStart(7, '0')}`
