import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AdminIo } from '../../src/cli/admin.js'
import { runDevCert } from '../../src/cli/dev-cert.js'
import type { Teardown } from './teardown.js'

export type DevCert = { certFile: string; keyFile: string; cert: Buffer; key: Buffer }

/**
 * A self-signed certificate for localhost, 127.0.0.1 and ::1, made by `sms-mirror dev-cert` (the
 * system's openssl) in a temporary folder removed at teardown. It is its own CA: a client trusts it
 * with `ca: cert`.
 */
export function devCert(t: Teardown): DevCert {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let err = ''
  const io: AdminIo = {
    stdout: () => {},
    stderr: (text) => {
      err += text
    },
  }
  if (runDevCert([dir], io) !== 0) throw new Error(`dev-cert failed: ${err}`)
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) }
}
