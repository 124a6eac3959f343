// `sms-mirror dev-cert` then HTTPS with it: `init` over https (trusting the certificate through
// NODE_EXTRA_CA_CERTS, as dev-cert says) and the official `ovh` client example init prints, pasted as is.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { nodeCommand, ROOT } from './support/paths.js'
import { freePort } from './support/ports.js'

const ADMIN_TOKEN = 'dev-cert-admin-token-0123456789'
t.setTimeout(400_000)

const children = new Set<ChildProcess>()
t.teardown(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  // SMPP on a free port: the default 2775 may be held by anything else on the machine.
  const base: NodeJS.ProcessEnv = { ...process.env, SMPP_PORT: '0', ...extra }
  for (const key of ['DATABASE_URL', 'SECRET_KEY', 'PUBLIC_URL', 'NODE_EXTRA_CA_CERTS']) {
    if (!(key in extra)) delete base[key]
  }
  return base
}

function run(file: string, args: string[], environment: NodeJS.ProcessEnv) {
  const child = spawn(file, args, { cwd: ROOT, env: environment, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { child, exited, out: () => out, err: () => err }
}

t.test('dev-cert, HTTPS, init over https and the ovh example it prints', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-dev-cert-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cli = nodeCommand('src/cli/main.ts')
  const made = run(cli[0], [...cli.slice(1), 'dev-cert', join(dir, 'tls')], env({}))
  t.equal(await made.exited, 0, made.err())
  const cert = join(dir, 'tls', 'cert.pem')
  const key = join(dir, 'tls', 'key.pem')
  t.match(made.out(), `export TLS_CERT=${cert} TLS_KEY=${key} PORT=8443`)
  t.match(made.out(), `export NODE_EXTRA_CA_CERTS=${cert}`)
  const again = run(cli[0], [...cli.slice(1), 'dev-cert', join(dir, 'tls')], env({}))
  t.equal(await again.exited, 1, 'an existing certificate is not overwritten')
  t.match(again.err(), 'already holds cert.pem or key.pem')

  const port = await freePort()
  const [node, ...serverArgs] = nodeCommand('src/server.ts')
  const server = run(
    node,
    serverArgs,
    env({ TLS_CERT: cert, TLS_KEY: key, PORT: String(port), DATA_DIR: join(dir, 'data'), ADMIN_TOKEN }),
  )
  const trusted = env({ NODE_EXTRA_CA_CERTS: cert })
  const base = `https://127.0.0.1:${port}`
  // Ready when /health answers over https (fetch trusts the certificate through NODE_EXTRA_CA_CERTS).
  for (let tries = 0; ; tries++) {
    if (server.child.exitCode !== null) throw new Error(`server exited: ${server.out()}${server.err()}`)
    const probe = run(
      process.execPath,
      ['-e', `fetch('${base}/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(2))`],
      trusted,
    )
    if ((await probe.exited) === 0) break
    if (tries > 900) throw new Error(`not ready: ${server.out()}${server.err()}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const init = run(cli[0], [...cli.slice(1), 'init'], { ...trusted, ADMIN_TOKEN, SMS_MIRROR_URL: base })
  t.equal(await init.exited, 0, init.err())
  const printed = init.out()
  t.match(printed, `export SMS_MIRROR_URL=${base}`)
  const exports = printed
    .split('\n')
    .filter((line) => line.startsWith('export ') && !line.startsWith('export TOKEN'))
    .join('\n')
  const example = printed.slice(printed.indexOf('node --input-type=module'))
  const client = run('bash', ['-euo', 'pipefail', '-c', `${exports}\n${example}`], trusted)
  t.equal(await client.exited, 0, client.err())
  t.match(
    client.out(),
    /creditsLeft: 100/,
    'the official client read the account over HTTPS, signed with the keys',
  )
  server.child.kill('SIGTERM')
  await server.exited
})
