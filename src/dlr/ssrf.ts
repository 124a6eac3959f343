import dns from 'node:dns'
import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { Agent, buildConnector } from 'undici'

/**
 * Callback URLs are chosen by API users, so the dispatcher must not become a way to reach the
 * operator's own network (cloud metadata at 169.254.169.254, databases on 10.x, admin ports on
 * localhost). The check runs on the addresses the socket will really connect to, at connect time,
 * so a name that resolves differently later (DNS rebinding) is caught too.
 */

export type AddressClass = { public: boolean; range: string }

/**
 * ipaddr.js range name of an address, seen through the IPv6 forms that embed an IPv4 address
 * (IPv4-mapped, IPv4-translated, NAT64 well-known prefix, 6to4) so that e.g. ::ffff:127.0.0.1 counts as
 * loopback. Only `unicast` is public; every special-purpose range (reserved, documentation, Teredo, …)
 * is not. Anything that is not an IP address is not public.
 */
export function classifyAddress(ip: string): AddressClass {
  if (net.isIP(ip) === 0) return { public: false, range: 'invalid' }
  const address = ipaddr.parse(ip)
  if (address.kind() === 'ipv4') {
    const range = address.range()
    return { public: range === 'unicast', range }
  }
  const v6 = address as ipaddr.IPv6
  const range = v6.range()
  const embedded = embeddedIPv4(v6, range)
  if (embedded) {
    const inner = embedded.range()
    return { public: inner === 'unicast', range: `${range} ${inner}` }
  }
  return { public: range === 'unicast', range }
}

export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).public
}

function embeddedIPv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4 | null {
  const p = address.parts
  const fromWords = (high: number, low: number) =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return fromWords(p[6]!, p[7]!)
    case 'rfc6052':
      // Only the well-known 64:ff9b::/96 carries the IPv4 in its last 32 bits; 64:ff9b:1::/48 is local use.
      return p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? fromWords(p[6]!, p[7]!) : null
    case '6to4':
      return fromWords(p[1]!, p[2]!)
    default:
      return null
  }
}

export class SsrfBlockedError extends Error {
  readonly code = 'ERR_SSRF_BLOCKED'

  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(
      `callback host ${host} resolves to ${address} (${range}), a non-public address; set CALLBACK_ALLOW_PRIVATE=true to allow it`,
    )
    this.name = 'SsrfBlockedError'
  }
}

function refusal(host: string, addresses: readonly string[]): SsrfBlockedError | null {
  for (const address of addresses) {
    const { public: isPublic, range } = classifyAddress(address)
    if (!isPublic) return new SsrfBlockedError(host, address, range)
  }
  return null
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void

/** The `lookup` of net.connect / tls.connect: `(hostname, options, callback)`, honouring `options.all`. */
export type GuardedLookup = (
  hostname: string,
  options: dns.LookupOptions | number | LookupCallback,
  callback?: LookupCallback,
) => void

/**
 * A drop-in `dns.lookup` that resolves every address of the name and refuses the connection when any
 * of them is non-public (unless `allowPrivate`): checking only the first would let a name with one
 * public and one private record through whenever happy eyeballs picks the private one.
 */
export function guardedLookup(allowPrivate: boolean): GuardedLookup {
  return (hostname, optionsOrCallback, maybeCallback) => {
    const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback)!
    const options: dns.LookupOptions =
      typeof optionsOrCallback === 'number'
        ? { family: optionsOrCallback }
        : typeof optionsOrCallback === 'object' && optionsOrCallback !== null
          ? optionsOrCallback
          : {}
    const answer = (addresses: dns.LookupAddress[]) => {
      const blocked = allowPrivate
        ? null
        : refusal(
            hostname,
            addresses.map((a) => a.address),
          )
      if (blocked) return callback(blocked, options.all ? [] : '')
      if (options.all) return callback(null, addresses)
      const first = addresses[0]
      if (!first) {
        const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
        error.code = 'ENOTFOUND'
        return callback(error, '')
      }
      callback(null, first.address, first.family)
    }
    const family = net.isIP(hostname)
    if (family !== 0) {
      process.nextTick(answer, [{ address: hostname, family }])
      return
    }
    dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, options.all ? [] : '')
      answer(addresses)
    })
  }
}

export type CallbackAgentOptions = {
  allowPrivate: boolean
  connectTimeoutMs: number
  /** Bound on waiting for the response headers, then on each gap between body chunks. */
  requestTimeoutMs: number
  keepAliveTimeoutMs?: number
  /** Sockets per origin at most; undefined means unlimited. */
  connections?: number
}

/**
 * The undici Agent of the DLR dispatcher (one pool per origin). Node's net.connect skips `lookup` for
 * IP literals, so those are checked by the connector itself before any socket is created; names go
 * through `guardedLookup` inside net.connect.
 */
export function createCallbackAgent(options: CallbackAgentOptions): Agent {
  const { allowPrivate } = options
  const baseConnect = buildConnector({
    lookup: guardedLookup(allowPrivate),
    timeout: options.connectTimeoutMs,
  })
  const connect: buildConnector.connector = (connectOptions, callback) => {
    // undici hands over IPv6 literals without their brackets.
    const host = connectOptions.hostname
    if (!allowPrivate && net.isIP(host) !== 0) {
      const blocked = refusal(host, [host])
      if (blocked) {
        process.nextTick(callback, blocked, null)
        return
      }
    }
    baseConnect(connectOptions, callback)
  }
  return new Agent({
    connect,
    headersTimeout: options.requestTimeoutMs,
    bodyTimeout: options.requestTimeoutMs,
    ...(options.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: options.keepAliveTimeoutMs }),
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  })
}
