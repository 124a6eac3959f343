import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../test/support/ports.js'
import { sleep } from './setup.js'

/**
 * The peer of bench:send — Kannel 1.4 (Debian packages `kannel`, `kannel-extras`): bearerbox with a
 * file store and a fake SMSC, smsbox serving `sendsms`, and `fakesmsc` playing the operator, all on
 * free 127.0.0.1 ports and a temporary folder. Installed with apt-get when missing (as root).
 */
export type Kannel = {
  /** http://127.0.0.1:port of smsbox's sendsms interface. */
  url: string
  path: string
  /** sendsms parameters but `to`. */
  query: Record<string, string>
  version: string
  stop(): void
}

const BEARERBOX = '/usr/sbin/bearerbox'
const SMSBOX = '/usr/sbin/smsbox'
const FAKESMSC = '/usr/lib/kannel/test/fakesmsc'
const USER = 'bench'
const PASSWORD = 'bench-password'

/** Kannel's three binaries, installed when missing; throws a one-line reason when impossible. */
function ensureInstalled(): void {
  if ([BEARERBOX, SMSBOX, FAKESMSC].every((file) => existsSync(file))) return
  if (process.getuid?.() !== 0) {
    throw new Error('Kannel is not installed (apt-get install kannel kannel-extras, as root)')
  }
  process.stderr.write('… installing kannel and kannel-extras with apt-get\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () =>
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'kannel', 'kannel-extras'], {
      env,
      stdio: 'pipe',
    })
  try {
    install()
  } catch {
    execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'pipe' })
    install()
  }
  // The package starts its own service on the default ports where it may; ours uses other ports.
  if (![BEARERBOX, SMSBOX, FAKESMSC].every((file) => existsSync(file))) {
    throw new Error(`apt-get installed kannel, but ${BEARERBOX}, ${SMSBOX} or ${FAKESMSC} is missing`)
  }
}

export async function startKannel(): Promise<Kannel> {
  ensureInstalled()
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-bench-kannel.'))
  const [adminPort, boxPort, smscPort, sendsmsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ]
  const conf = join(dir, 'kannel.conf')
  writeFileSync(
    conf,
    `group = core
admin-port = ${adminPort}
admin-interface = 127.0.0.1
admin-password = ${PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = ${boxPort}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = ${join(dir, 'bearerbox.log')}
log-level = 3
store-type = file
store-location = ${join(dir, 'kannel.store')}
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = FAKE
host = 127.0.0.1
port = ${smscPort}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${boxPort}
sendsms-port = ${sendsmsPort}
sendsms-interface = 127.0.0.1
log-file = ${join(dir, 'smsbox.log')}
log-level = 3

group = sendsms-user
username = ${USER}
password = ${PASSWORD}
max-messages = 10

group = sms-service
keyword = default
text = "No service specified"
`,
  )
  const children: ChildProcess[] = []
  const run = (file: string, args: string[]) => {
    const child = spawn(file, args, { cwd: dir, stdio: 'ignore' })
    children.push(child)
    return child
  }
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    for (const child of children.reverse()) if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)

  try {
    // -v 4: errors only on the console (the log files get level 3: warnings and errors).
    run(BEARERBOX, ['-v', '4', conf])
    await sleep(500)
    run(SMSBOX, ['-v', '4', conf])
    // The operator: answers every message, sends none (-m 0).
    run(FAKESMSC, ['-H', '127.0.0.1', '-r', String(smscPort), '-i', '1', '-m', '0', '1 2 text x'])
    const url = `http://127.0.0.1:${sendsmsPort}`
    const query = { username: USER, password: PASSWORD, from: 'BENCH', text: 'sms-mirror bench message' }
    const deadline = Date.now() + 20_000
    let last = ''
    for (;;) {
      try {
        const response = await fetch(
          `${url}/cgi-bin/sendsms?${new URLSearchParams({ ...query, to: '+33612345678' })}`,
        )
        last = `${response.status} ${await response.text()}`
        // 202 "0: Accepted for delivery" once the fake SMSC is connected; "3: Queued" before.
        if (response.status === 202 && last.includes('0: Accepted')) break
      } catch (error) {
        last = String(error)
      }
      if (Date.now() > deadline) throw new Error(`Kannel did not accept a test message within 20 s: ${last}`)
      await sleep(250)
    }
    let version = 'Kannel'
    try {
      const status = await fetch(`http://127.0.0.1:${adminPort}/status.txt?password=${PASSWORD}`)
      version = /Kannel bearerbox version `([^']+)'/.exec(await status.text())?.[1] ?? version
      version = `Kannel ${version}`
    } catch {}
    return { url, path: '/cgi-bin/sendsms', query, version, stop }
  } catch (error) {
    stop()
    throw error
  }
}
