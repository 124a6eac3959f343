import { createHmac, randomBytes } from 'node:crypto'

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
 * and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the bytes of a
 * `whsec_<base64>` secret. Our callbacks are GETs, so the signed body is the empty string.
 */

export const generateSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`

/** A secret is `whsec_` + base64 of 24 to 64 bytes. */
export function isValidSecret(secret: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret)
  if (!match) return false
  const bytes = Buffer.from(match[1] as string, 'base64')
  return bytes.length >= 24 && bytes.length <= 64
}

export function signatureHeaders(
  secret: string,
  messageId: string,
  timestamp: number,
  body = '',
): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
  const signature = createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  }
}
