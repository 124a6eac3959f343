import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import type { Selectable } from 'kysely'
import type { Static } from 'typebox'
import { requireAccount } from '../accounts/service.js'
import type { Scope } from '../auth/scope.js'
import type { Config } from '../config.js'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/index.js'
import type { AccountRow, SmppAccountsTable } from '../db/schema.js'
import { badRequest, invalid } from '../errors.js'
import { randomSmppPassword } from './credentials.js'
import { type AllowedIPs, MAX_ALLOWED_IPS, type Settings } from './schema.js'

export type SmppAccountRow = Selectable<SmppAccountsTable>

/**
 * The account and its SMPP side. Another tenant's account, or none: 404 (as every route of the
 * account). An sms- account: 400, the service exists but is not an SMPP one — OVH answers its
 * `/smpp/*` routes for every SMS service and refuses what does not apply with a client error, and a
 * 404 would tell a client its service name is wrong when it is not.
 */
export async function requireSmppAccount(
  db: Db,
  scope: Scope,
  serviceName: string,
): Promise<{ account: AccountRow; smpp: SmppAccountRow }> {
  const account = await requireAccount(db, scope, serviceName)
  const smpp = await db
    .selectFrom('smpp_accounts')
    .selectAll()
    .where('account_id', '=', account.id)
    .executeTakeFirst()
  if (!smpp) {
    throw badRequest(
      `The service ${serviceName} is not an SMPP account (smpp- accounts only); send with POST /sms/${serviceName}/jobs`,
    )
  }
  return { account, smpp }
}

export function smppSettings(smpp: SmppAccountRow, config: Config['smpp']): Static<typeof Settings> {
  const endpoint: { secured?: string; unsecured?: string } = {}
  if (config.tlsPort !== null) endpoint.secured = `${config.publicHost}:${config.tlsPort}`
  if (config.port !== null) endpoint.unsecured = `${config.publicHost}:${config.port}`
  return {
    endpoints: Object.keys(endpoint).length > 0 ? [endpoint] : [],
    status: smpp.allowed_ips.length === 0 ? 'WAITING_IP' : 'SUCCESS',
    systemID: smpp.system_id,
    throughput: smpp.throughput,
    windowing: smpp.windowing,
  }
}

/** An address or CIDR block in canonical form (IPv4-mapped IPv6 as IPv4, a block by its network). */
export function allowedIpEntry(value: string): string {
  const fail = () =>
    invalid('ips', `IPv4 or IPv6 addresses or CIDR blocks (e.g. 198.51.100.0/24), "${value}" is not one`)
  const trimmed = value.trim()
  if (trimmed.includes('/')) {
    const [address, bits] = trimmed.split('/')
    if (!address || !bits || !/^\d{1,3}$/.test(bits) || isIP(address) === 0) throw fail()
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number]
    try {
      range = ipaddr.parseCIDR(trimmed)
    } catch {
      throw fail()
    }
    const [ip, prefix] = range
    const network =
      ip.kind() === 'ipv4'
        ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${prefix}`)
        : ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${prefix}`)
    return `${network.toString()}/${prefix}`
  }
  if (isIP(trimmed) === 0 || trimmed.includes('%')) throw fail()
  return ipaddr.process(trimmed).toString()
}

/** Adds or removes entries (removing one not in the list changes nothing); answers the new list. */
export async function updateAllowedIps(
  db: Db,
  scope: Scope,
  serviceName: string,
  body: Static<typeof AllowedIPs>,
): Promise<string[]> {
  const entries = body.ips.map(allowedIpEntry)
  const { account } = await requireSmppAccount(db, scope, serviceName)
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('smpp_accounts')
      .select('allowed_ips')
      .where('account_id', '=', account.id)
      .forUpdate()
      .executeTakeFirstOrThrow()
    let list = [...row.allowed_ips]
    if (body.action === 'add') {
      for (const entry of entries) if (!list.includes(entry)) list.push(entry)
      if (list.length > MAX_ALLOWED_IPS) {
        throw invalid(
          'ips',
          `at most ${MAX_ALLOWED_IPS} allowed IPs per account, this would make ${list.length}`,
        )
      }
    } else {
      const removed = new Set(entries)
      list = list.filter((entry) => !removed.has(entry))
    }
    await trx
      .updateTable('smpp_accounts')
      .set({ allowed_ips: JSON.stringify(list) })
      .where('account_id', '=', account.id)
      .execute()
    return list
  })
}

/**
 * A new random password replaces the old one at once (bound sessions stay up; new binds need it) and
 * is mailed to the owner's contact address by the alert dispatcher, written in the same transaction
 * (sealed; cleared once sent). Refused with nothing changed when no SMTP server or no address is set.
 */
export async function regeneratePassword(
  db: Db,
  box: SecretBox,
  config: Config,
  scope: Scope,
  serviceName: string,
  now: Date,
): Promise<void> {
  const { account } = await requireSmppAccount(db, scope, serviceName)
  if (!config.alerts.smtpUrl) {
    throw badRequest(
      'The new password cannot be mailed: no SMTP server is configured on this service (SMTP_URL); nothing was changed',
    )
  }
  const owner = await db
    .selectFrom('owners')
    .select('contact_email')
    .where('id', '=', account.owner_id)
    .executeTakeFirst()
  if (!owner?.contact_email) {
    throw badRequest(
      `The new password cannot be mailed: the owner of ${serviceName} has no contact e-mail address (the operator sets contactEmail); nothing was changed`,
    )
  }
  const password = randomSmppPassword()
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('smpp_accounts')
      .set((eb) => ({ password_enc: box.seal(password), password_version: eb('password_version', '+', 1) }))
      .where('account_id', '=', account.id)
      .execute()
    await trx
      .insertInto('alerts')
      .values({
        account_id: account.id,
        login: '',
        kind: 'smpp_password',
        support: 'mail',
        email: owner.contact_email,
        number: null,
        threshold: 0,
        quota_left: 0,
        mail_state: 'pending',
        sms_state: 'none',
        secret_enc: box.seal(password),
        next_attempt_at: now,
        last_error: null,
        created_at: now,
      })
      .execute()
  })
}
