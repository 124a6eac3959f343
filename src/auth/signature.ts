import { createHash, timingSafeEqual } from 'node:crypto'

/** OVH's request signature: "$1$" + sha1 hex of AS+CK+METHOD+URL+BODY+TS joined by "+". */
export function ovhSignature(
  applicationSecret: string,
  consumerKey: string,
  method: string,
  url: string,
  body: string,
  timestamp: string,
): string {
  const hash = createHash('sha1')
    .update([applicationSecret, consumerKey, method.toUpperCase(), url, body, timestamp].join('+'))
    .digest('hex')
  return `$1$${hash}`
}

/**
 * The URLs a client may have signed for this request. The Node client signs `https://` + host
 * (never the port) + path; other clients keep the port or use http; a reverse proxy makes PUBLIC_URL
 * the only right answer.
 */
export function candidateUrls(
  host: string | undefined,
  requestTarget: string,
  publicUrl: string | null,
): string[] {
  const urls = new Set<string>()
  if (publicUrl) urls.add(publicUrl + requestTarget)
  if (host) {
    const hostname = host.replace(/:\d+$/, '')
    for (const scheme of ['https://', 'http://']) {
      urls.add(scheme + hostname + requestTarget)
      urls.add(scheme + host + requestTarget)
    }
  }
  return [...urls]
}

/** Constant-time comparison of two signatures (different lengths compare as different). */
export function sameSignature(expected: string, received: string): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(received)
  return a.length === b.length && timingSafeEqual(a, b)
}
