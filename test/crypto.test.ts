import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { createSecretBox, resolveSecret } from '../src/crypto/secret-box.js'
import { redactUrl } from '../src/http/logging.js'

const SECRET = 'a-secret-of-at-least-thirty-two-characters'

t.test('seal/open round trip', async (t) => {
  const box = createSecretBox(SECRET)
  for (const text of ['abcd1234', 'pâté 🦊 Ωmega — 日本語', '']) {
    t.equal(box.open(box.seal(text)), text, JSON.stringify(text))
  }
})

t.test('sealing is randomized and hides the plaintext', async (t) => {
  const box = createSecretBox(SECRET)
  const a = box.seal('abcd1234')
  const b = box.seal('abcd1234')
  t.not(a, b, 'two seals of the same text differ')
  t.notOk(a.includes('abcd1234'))
  t.notOk(Buffer.from(a.split(':')[1] ?? '', 'base64').includes('abcd1234'))
})

t.test('tampering and a wrong secret are detected', async (t) => {
  const box = createSecretBox(SECRET)
  const sealed = box.seal('abcd1234')
  const [version, payload] = sealed.split(':') as [string, string]
  const raw = Buffer.from(payload, 'base64')
  raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 0x01
  t.throws(() => box.open(`${version}:${raw.toString('base64')}`), 'tampered ciphertext')
  const tag = Buffer.from(payload, 'base64')
  tag[14] = (tag[14] ?? 0) ^ 0x80
  t.throws(() => box.open(`${version}:${tag.toString('base64')}`), 'tampered tag')
  t.throws(() => box.open(`v0:${payload}`), 'unknown version')
  t.throws(() => box.open('garbage'), 'not a sealed value')
  t.throws(() => createSecretBox(`${SECRET}-other`).open(sealed), 'another secret cannot open it')
})

t.test('resolveSecret keeps one key file in DATA_DIR', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-crypto-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'data')
  const config = loadConfig({ DATA_DIR: dataDir })
  const first = resolveSecret(config)
  const file = join(dataDir, 'secret.key')
  t.ok(existsSync(file), 'secret.key created')
  t.ok(first.length >= 32)
  t.equal(readFileSync(file, 'utf8').trim(), first)
  t.equal(resolveSecret(config), first, 'same value on a second call')
  t.equal(resolveSecret(loadConfig({ DATA_DIR: dataDir })), first, 'and from a fresh config')
})

t.test('resolveSecret returns SECRET_KEY when set', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-crypto-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.equal(resolveSecret(loadConfig({ DATA_DIR: dir, SECRET_KEY: SECRET })), SECRET)
  t.notOk(existsSync(join(dir, 'secret.key')), 'no key file written')
  t.equal(resolveSecret(loadConfig({ DATABASE_URL: 'postgres://x@h/db', SECRET_KEY: SECRET })), SECRET)
})

t.test('resolveSecret for DATA_DIR=memory is random', async (t) => {
  const config = loadConfig({ DATA_DIR: 'memory' })
  t.not(resolveSecret(config), resolveSecret(config))
})

t.test('redactUrl hides the password of an http2sms URL', async (t) => {
  const url = '/cgi-bin/sms/http2sms.cgi?account=a&login=b&password=secret1&to=x'
  const redacted = redactUrl(url)
  t.notOk(redacted.includes('secret1'))
  t.match(redacted, /^\/cgi-bin\/sms\/http2sms\.cgi\?/)
  t.match(redacted, /account=a/)
  t.match(redacted, /login=b/)
  t.match(redacted, /to=x/)
  t.match(redacted, /password=/)
  t.equal(redactUrl('/1.0/sms?x=1'), '/1.0/sms?x=1', 'URLs without secrets are untouched')
  t.equal(redactUrl('/1.0/sms'), '/1.0/sms')
})
