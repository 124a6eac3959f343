import { createHash, randomBytes } from 'node:crypto'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Random key of OVH's shape (letters and digits). */
export function randomKey(length: number): string {
  const bytes = randomBytes(length)
  let key = ''
  for (const byte of bytes) key += ALPHABET[byte % ALPHABET.length]
  return key
}

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex')
