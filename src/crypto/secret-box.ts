import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.js'

/** Encrypts secrets that must be read back (user passwords) with AES-256-GCM. */
export type SecretBox = {
  seal(plaintext: string): string
  open(sealed: string): string
}

const VERSION = 'v1'

export function createSecretBox(secret: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', secret, 'sms-mirror', 'secret-box/v1', 32))
  return {
    seal(plaintext) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`
    },
    open(sealed) {
      const [version, payload] = sealed.split(':', 2)
      if (version !== VERSION || !payload) throw new Error('unknown sealed secret format')
      const raw = Buffer.from(payload, 'base64')
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
    },
  }
}

/**
 * The secret behind the SecretBox: SECRET_KEY when set; otherwise, for the embedded database, a key
 * file created once in DATA_DIR (so a restart can still read the passwords); for `DATA_DIR=memory`,
 * a random key that lives as long as the data does.
 */
export function resolveSecret(config: Config): string {
  if (config.secretKey) return config.secretKey
  if (config.database.kind === 'pglite' && config.database.dataDir) {
    const dir = config.database.dataDir
    const file = join(dir, 'secret.key')
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true })
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
    }
    return readFileSync(file, 'utf8').trim()
  }
  return randomBytes(32).toString('hex')
}
