import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

const SECRET = 'a-secret-of-at-least-thirty-two-characters'

t.test('defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.port, 8080)
  t.equal(config.host, '127.0.0.1')
  t.same(config.database, { kind: 'pglite', dataDir: './data' })
  t.equal(config.logLevel, 'info')
  t.equal(config.secretKey, null)
  t.equal(config.publicUrl, null)
  t.same(loadConfig({ PORT: '', LOG_LEVEL: '' }).port, 8080, 'empty values mean unset')
})

t.test('values are converted', async (t) => {
  const config = loadConfig({
    PORT: '3000',
    HOST: '0.0.0.0',
    LOG_LEVEL: 'debug',
    DATABASE_URL: 'postgresql://u:p@db:5432/sms',
    SECRET_KEY: SECRET,
    PUBLIC_URL: 'https://sms.example.com/',
  })
  t.equal(config.port, 3000)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.logLevel, 'debug')
  t.same(config.database, { kind: 'postgres', url: 'postgresql://u:p@db:5432/sms' })
  t.equal(config.secretKey, SECRET)
  t.equal(config.publicUrl, 'https://sms.example.com')
})

t.test('DATA_DIR=memory → in-memory PGlite', async (t) => {
  t.same(loadConfig({ DATA_DIR: 'memory' }).database, { kind: 'pglite', dataDir: null })
  t.same(loadConfig({ DATA_DIR: '/var/lib/sms' }).database, { kind: 'pglite', dataDir: '/var/lib/sms' })
})

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error(`no ConfigError for ${JSON.stringify(env)}`)
}

t.test('bad values name the variable and the rule', async (t) => {
  const cases: Array<[NodeJS.ProcessEnv, string, RegExp]> = [
    [{ PORT: 'abc' }, 'PORT', /integer/],
    [{ PORT: '70000' }, 'PORT', /<= 65535/],
    [{ PORT: '-1' }, 'PORT', />= 0/],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /allowed values/],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /postgres/],
  ]
  for (const [env, variable, rule] of cases) {
    const error = configError(env)
    t.equal(error.variable, variable, `${JSON.stringify(env)} → ${variable}`)
    t.match(error.message, new RegExp(`^${variable}: `), 'the message starts with the variable')
    t.match(error.message, rule, `the rule is stated: ${error.message}`)
  }
})

t.test('a bad DATABASE_URL is not echoed', async (t) => {
  const error = configError({ DATABASE_URL: 'mysql://user:hunter2@db/x' })
  t.notOk(error.message.includes('hunter2'))
  t.notOk(error.message.includes('mysql://user'))
})

t.test('a short SECRET_KEY is rejected without echoing it', async (t) => {
  const secret = 'short-secret-xyz'
  const error = configError({ SECRET_KEY: secret })
  t.equal(error.variable, 'SECRET_KEY')
  t.match(error.message, /32/)
  t.notOk(error.message.includes(secret), 'the secret is not in the message')
})

t.test('DATABASE_URL without SECRET_KEY → ConfigError on SECRET_KEY', async (t) => {
  const url = 'postgres://x:pw@127.0.0.1:5432/db'
  const error = configError({ DATABASE_URL: url })
  t.equal(error.variable, 'SECRET_KEY')
  t.match(error.message, /SECRET_KEY/)
  t.notOk(error.message.includes(url))
  t.notOk(error.message.includes('pw@'))
})
