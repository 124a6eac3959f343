import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import type { AdminIo } from './admin.js'

export const DEV_CERT_USAGE = `usage: sms-mirror dev-cert [folder]   (default ./data/tls)
Makes a self-signed certificate for localhost, 127.0.0.1 and ::1 with openssl (valid 825 days),
for the official OVH clients, which speak HTTPS only; prints the variables to set.`

/**
 * `sms-mirror dev-cert`: a local certificate, made by the system's openssl (Node cannot issue X.509
 * certificates). It is its own CA, so NODE_EXTRA_CA_CERTS pointing at it makes Node clients trust it.
 */
export function runDevCert(argv: string[], io: AdminIo): number {
  if (argv.length > 1 || argv[0] === '--help' || argv[0] === '-h') {
    io.stderr(`${DEV_CERT_USAGE}\n`)
    return argv.length > 1 ? 2 : 0
  }
  const folder = path.resolve(argv[0] ?? 'data/tls')
  const cert = path.join(folder, 'cert.pem')
  const key = path.join(folder, 'key.pem')
  if (existsSync(cert) || existsSync(key)) {
    io.stderr(
      `sms-mirror dev-cert: ${folder} already holds cert.pem or key.pem; remove them or choose another folder\n`,
    )
    return 1
  }
  mkdirSync(folder, { recursive: true })
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '825',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  )
  if (result.error || result.status !== 0) {
    const why = result.error ? result.error.message : (result.stderr.trim().split('\n').pop() ?? '')
    io.stderr(`sms-mirror dev-cert: openssl failed (is it installed?): ${why}\n`)
    return 1
  }
  io.stdout(
    `# a self-signed certificate for localhost, 127.0.0.1 and ::1 in ${folder}\n` +
      '# the server (HTTPS on PORT):\n' +
      `export TLS_CERT=${cert} TLS_KEY=${key} PORT=8443\n` +
      '# every Node client (the official ovh clients among them) trusts it with:\n' +
      `export NODE_EXTRA_CA_CERTS=${cert}\n` +
      '# curl: curl --cacert "$TLS_CERT" https://127.0.0.1:8443/health\n',
  )
  return 0
}
