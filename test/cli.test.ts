import t from 'tap'
import { runAdmin } from '../src/cli/admin.js'
import { runInit } from '../src/cli/init.js'
import { ADMIN_TOKEN, buildTestApp, call, SERVICE } from './helpers.js'

const { app } = await buildTestApp(t)
const url = await app.listen({ port: 0, host: '127.0.0.1' })
const env = { SMS_MIRROR_URL: url, ADMIN_TOKEN }

/** Runs `sms-mirror admin …` in-process; stdout parsed as JSON when there is any. */
async function cli(argv: string[], environment: NodeJS.ProcessEnv = env) {
  let stdout = ''
  let stderr = ''
  const code = await runAdmin(argv, environment, {
    stdout: (s) => {
      stdout += s
    },
    stderr: (s) => {
      stderr += s
    },
  })
  return {
    code,
    stdout,
    stderr,
    get json() {
      return stdout === '' ? undefined : JSON.parse(stdout)
    },
  }
}

t.test('owner, account, credits, application and credential, then the keys work', async (t) => {
  const owner = await cli(['owner-create', 'cli-owner'])
  t.equal(owner.code, 0, owner.stderr)
  t.match(owner.json, { id: Number, name: 'cli-owner' })
  t.equal(owner.stdout, `${JSON.stringify(owner.json, null, 2)}\n`, 'pretty JSON with 2 spaces')
  const ownerId = String(owner.json.id)

  const account = await cli([
    'account-create',
    'sms-cli12345-1',
    '--owner',
    ownerId,
    '--credits',
    '10.5',
    '--description',
    'from the CLI',
  ])
  t.equal(account.code, 0, account.stderr)
  t.match(account.json, { name: 'sms-cli12345-1', creditsLeft: 10.5, description: 'from the CLI' })

  const credits = await cli(['credits-add', 'sms-cli12345-1', '4.5'])
  t.equal(credits.code, 0, credits.stderr)
  t.match(credits.json, { creditsLeft: 15 })

  const application = await cli(['application-create', '--owner', ownerId, '--name', 'cli app'])
  t.equal(application.code, 0, application.stderr)
  t.match(application.json, { applicationKey: String, applicationSecret: String })

  const credential = await cli(['credential-create', application.json.applicationKey, '--rule', 'all'])
  t.equal(credential.code, 0, credential.stderr)
  t.match(credential.json, { consumerKey: String, state: 'validated' })

  const keys = { ...application.json, consumerKey: credential.json.consumerKey }
  t.same(await call(app, 'GET', '/1.0/sms', undefined, keys).then((r) => [r.status, r.body]), [
    200,
    ['sms-cli12345-1'],
  ])
  t.equal((await call(app, 'PUT', '/1.0/sms/sms-cli12345-1', { description: 'x' }, keys)).status, 200)

  const narrow = await cli([
    'credential-create',
    application.json.applicationKey,
    '--rule',
    'get /sms',
    '--allowed-ip',
    '127.0.0.1',
    '--expiration',
    '2099-01-01T00:00:00Z',
  ])
  t.equal(narrow.code, 0, narrow.stderr)
  const narrowKeys = { ...keys, consumerKey: narrow.json.consumerKey }
  t.equal((await call(app, 'GET', '/1.0/sms', undefined, narrowKeys)).status, 200)
  t.equal((await call(app, 'GET', '/1.0/sms/sms-cli12345-1', undefined, narrowKeys)).status, 403)
})

t.test('service account create and delete', async (t) => {
  const created = await cli([
    'service-account-create',
    '--owner',
    '1',
    '--rule',
    'GET /sms/*',
    '--rule',
    'POST /sms/*',
    '--name',
    'robot',
  ])
  t.equal(created.code, 0, created.stderr)
  t.match(created.json, { clientId: String, clientSecret: String })
  const deleted = await cli(['service-account-delete', created.json.clientId])
  t.equal(deleted.code, 0, deleted.stderr)
  t.equal(deleted.stderr, '')
})

t.test('credential-validate on an unknown key reports the API error', async (t) => {
  const result = await cli(['credential-validate', 'no-such-consumer-key'])
  t.equal(result.code, 1)
  t.match(result.stderr, /^sms-mirror admin: 4\d\d \S/)
  t.equal(result.stdout, '')
})

t.test('errors', async (t) => {
  const noToken = await cli(['owner-create', 'x'], { SMS_MIRROR_URL: url })
  t.equal(noToken.code, 1)
  t.match(noToken.stderr, /ADMIN_TOKEN/)
  t.equal(noToken.stderr.trim().split('\n').length, 1, 'one line')

  const wrongToken = await cli(['owner-create', 'x'], { SMS_MIRROR_URL: url, ADMIN_TOKEN: 'wrong' })
  t.equal(wrongToken.code, 1)
  t.match(wrongToken.stderr, /^sms-mirror admin: 401 You must login first/)

  const conflict = await cli(['owner-create', 'acme'])
  t.equal(conflict.code, 1)
  t.equal(conflict.stderr, 'sms-mirror admin: 409 The owner acme already exists\n')

  const unknown = await cli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown verb "frobnicate"[\s\S]*usage: sms-mirror admin/)

  const badCredits = await cli(['account-create', 'sms-bad12345-1', '--owner', '1', '--credits', 'abc'])
  t.equal(badCredits.code, 2)
  t.match(badCredits.stderr, /--credits must be a number ≥ 0, got "abc"/)

  const badAdd = await cli(['credits-add', SERVICE, '0'])
  t.equal(badAdd.code, 2)
  t.match(badAdd.stderr, /<credits> must be a number > 0, got "0"/)

  const badOwner = await cli(['application-create', '--owner', 'one', '--name', 'x'])
  t.equal(badOwner.code, 2)
  t.match(badOwner.stderr, /--owner must be an owner id/)

  const badRule = await cli(['credential-create', 'key', '--rule', 'FETCH /sms'])
  t.equal(badRule.code, 2)
  t.match(badRule.stderr, /--rule must be "METHOD PATH"/)

  const noRule = await cli(['service-account-create', '--owner', '1'])
  t.equal(noRule.code, 2)
  t.match(noRule.stderr, /at least one --rule is required/)

  const unknownFlag = await cli(['owner-create', 'x', '--nope'])
  t.equal(unknownFlag.code, 2)
  t.match(unknownFlag.stderr, /--nope/)

  const missingArg = await cli(['credits-add', SERVICE])
  t.equal(missingArg.code, 2)

  const help = await cli(['help'], {})
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: sms-mirror admin/)

  const unreachable = await cli(['owner-create', 'x'], { SMS_MIRROR_URL: 'http://127.0.0.1:1', ADMIN_TOKEN })
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/)
})

t.test('sender-enable creates and enables; sender-refuse; callbacks; callback-replay', async (t) => {
  const enabled = await cli(['sender-enable', SERVICE, 'CliSender'])
  t.equal(enabled.code, 0, enabled.stderr)
  t.match(enabled.json, { sender: 'CliSender', status: 'enable' })
  const read = await call(app, 'GET', `/1.0/sms/${SERVICE}/senders/CliSender`)
  t.equal(read.body.status, 'enable', 'the account sees it enabled')
  const refused = await cli(['sender-refuse', SERVICE, 'CliSender', '--comment', 'not yours'])
  t.equal(refused.code, 0, refused.stderr)
  t.match(refused.json, { status: 'refused', comment: 'not yours' })
  const badName = await cli(['sender-enable', SERVICE, 'far-too-long-name'])
  t.equal(badName.code, 1)
  t.match(badName.stderr, /^sms-mirror admin: 400 Invalid sender: expected /)

  const listed = await cli(['callbacks', SERVICE, '--status', 'failed'])
  t.equal(listed.code, 0, listed.stderr)
  t.same(listed.json, [], 'no dead letters')
  const badStatus = await cli(['callbacks', SERVICE, '--status', 'lost'])
  t.equal(badStatus.code, 2)
  t.match(badStatus.stderr, '--status must be one of pending, delivered, gone, failed, got "lost"')
  const replay = await cli(['callback-replay', '999999'])
  t.equal(replay.code, 1)
  t.match(replay.stderr, /^sms-mirror admin: 404 /)
  const badId = await cli(['callback-replay', 'x1'])
  t.equal(badId.code, 2)
  t.match(badId.stderr, '<deliveryId> must be a delivery id (an integer ≥ 1), got "x1"')
})

t.test('init: everything a first request needs, and the keys it prints work', async (t) => {
  let stdout = ''
  let stderr = ''
  const io = {
    stdout: (s: string) => {
      stdout += s
    },
    stderr: (s: string) => {
      stderr += s
    },
  }
  const code = await runInit(
    ['--service', 'sms-in12345-1', '--credits', '42', '--sender', 'InitSender'],
    env,
    io,
  )
  t.equal(code, 0, stderr)
  const value = (name: string) => new RegExp(`^export ${name}=(\\S+)$`, 'm').exec(stdout)?.[1] as string
  t.equal(value('SMS_SERVICE'), 'sms-in12345-1')
  t.equal(value('SMS_SENDER'), 'InitSender')
  const keys = {
    applicationKey: value('OVH_APPLICATION_KEY'),
    applicationSecret: value('OVH_APPLICATION_SECRET'),
    consumerKey: value('OVH_CONSUMER_KEY'),
  }
  const account = await call(app, 'GET', '/1.0/sms/sms-in12345-1', undefined, keys)
  t.equal(account.status, 200, 'the consumer key is validated and reaches the new account')
  t.equal(account.body.creditsLeft, 42)
  const user = await call(
    app,
    'POST',
    '/1.0/sms/sms-in12345-1/users',
    { login: 'initusr1', password: 'abcd1234' },
    keys,
  )
  t.equal(user.status, 200, 'with every right: it creates users')
  const sender = await call(app, 'GET', '/1.0/sms/sms-in12345-1/senders/InitSender', undefined, keys)
  t.equal(sender.body.status, 'enable')
  const token = await app.inject({
    method: 'POST',
    url: '/auth/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: value('OAUTH_CLIENT_ID'),
      client_secret: value('OAUTH_CLIENT_SECRET'),
    }).toString(),
  })
  t.equal(token.statusCode, 200, 'the service account gets a token')

  stderr = ''
  t.equal(await runInit(['--service', 'sms-in12345-1'], env, io), 1, 'an existing account: exit 1')
  t.match(stderr, /^sms-mirror init: POST \/admin\/v1\/accounts: 409 /)
  stderr = ''
  t.equal(await runInit([], { SMS_MIRROR_URL: url }, io), 1)
  t.match(stderr, 'ADMIN_TOKEN is not set')
  stderr = ''
  t.equal(await runInit(['--credits=-1'], env, io), 2)
  t.match(stderr, '--credits must be a number ≥ 0, got "-1"')
})
