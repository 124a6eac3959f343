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
 * ipaddr.js range name of an address, seen through every IPv6 form that embeds an IPv4 address, so
 * that e.g. ::ffff:127.0.0.1 counts as loopback: IPv4-mapped, IPv4-translated (RFC 6145), NAT64
 * (RFC 6052 well-known prefix, RFC 8215 local-use prefix), 6to4, Teredo (server and client) and ISATAP
 * interface identifiers. Only `unicast` is public, and an embedding is public only when every IPv4
 * address it carries is; every special-purpose range (reserved, documentation, …) is not, nor is the
 * deprecated IPv4-compatible form ::a.b.c.d (RFC 4291), whatever it embeds. Anything that is not an IP
 * address is not public.
 */
export function classifyAddress(ip: string): AddressClass {
  const family = net.isIP(ip)
  if (family === 0) return { public: false, range: 'invalid' }
  if (family === 4) {
    const range = ipaddr.IPv4.parse(ip).range()
    return { public: range === 'unicast', range }
  }
  const address = parseIPv6(ip)
  const range = address.range()
  const compatible = ipv4Compatible(address)
  if (compatible) return { public: false, range: `ipv4Compatible ${compatible.range()}` }
  const embedded = embeddedIPv4(address, range)
  const [first] = embedded
  if (!first) return { public: range === 'unicast', range }
  for (const { form, ipv4 } of embedded) {
    const inner = ipv4.range()
    if (inner !== 'unicast') return { public: false, range: `${form} ${inner}` }
  }
  return { public: true, range: `${first.form} unicast` }
}

export function isPublicAddress(ip: string): boolean {
  return classifyAddress(ip).public
}

/**
 * ipaddr.js reads `::a.b.c.d` as `::ffff:a.b.c.d` (mapped), but a socket connects to the
 * IPv4-compatible address ::a.b.c.d: the dotted tail is turned into hex first. A zone index does not
 * change the address's class.
 */
function parseIPv6(ip: string): ipaddr.IPv6 {
  const withoutZone = ip.replace(/%.*$/, '')
  const hex = withoutZone.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) => {
    const word = (high: string, low: string) => ((Number(high) << 8) | Number(low)).toString(16)
    return `${word(a, b)}:${word(c, d)}`
  })
  return ipaddr.IPv6.parse(hex)
}

const ipv4FromWords = (high: number, low: number) =>
  new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])

/** The IPv4 address of ::a.b.c.d (::/96 other than :: and ::1), else null. */
function ipv4Compatible(address: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = address.parts
  if (p.slice(0, 6).some((word) => word !== 0)) return null
  if (p[6] === 0 && (p[7] ?? 0) <= 1) return null
  return ipv4FromWords(p[6]!, p[7]!)
}

/** Bits `from` (inclusive) to `to` (exclusive) of the address, `to - from` ≤ 32. */
function bits(address: ipaddr.IPv6, from: number, to: number): number {
  let value = 0
  for (let bit = from; bit < to; bit++) {
    const word = address.parts[bit >> 4]!
    value = value * 2 + ((word >> (15 - (bit & 15))) & 1)
  }
  return value
}

const ipv4FromNumber = (n: number) => ipv4FromWords(Math.floor(n / 0x10000), n % 0x10000)

/**
 * Where RFC 6052 puts the IPv4 address for each prefix length a local-use NAT64 prefix
 * (64:ff9b:1::/48) may have: bits 64–71 are always skipped.
 */
const RFC6052_LAYOUTS: [number, number][][] = [
  [
    [48, 64],
    [72, 88],
  ],
  [
    [56, 64],
    [72, 96],
  ],
  [[72, 104]],
  [[96, 128]],
]

function rfc6052Reading(address: ipaddr.IPv6, layout: [number, number][]): ipaddr.IPv4 {
  let value = 0
  for (const [from, to] of layout) value = value * 2 ** (to - from) + bits(address, from, to)
  return ipv4FromNumber(value)
}

type Embedded = { form: string; ipv4: ipaddr.IPv4 }

/**
 * The IPv4 addresses an IPv6 address leads to, by its form. The prefix length of a local-use NAT64
 * prefix is the local operator's choice, so the address is read at every position RFC 6052 allows.
 */
function embeddedIPv4(address: ipaddr.IPv6, range: string): Embedded[] {
  const p = address.parts
  const found: Embedded[] = []
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      found.push({ form: range, ipv4: ipv4FromWords(p[6]!, p[7]!) })
      break
    case 'rfc6052':
      if (p[2] === 0) found.push({ form: range, ipv4: ipv4FromWords(p[6]!, p[7]!) })
      else
        for (const layout of RFC6052_LAYOUTS)
          found.push({ form: range, ipv4: rfc6052Reading(address, layout) })
      break
    case '6to4':
      found.push({ form: range, ipv4: ipv4FromWords(p[1]!, p[2]!) })
      break
    case 'teredo':
      // Server address in bits 32–63, client address (bits inverted) in bits 96–127.
      found.push({ form: range, ipv4: ipv4FromWords(p[2]!, p[3]!) })
      found.push({ form: range, ipv4: ipv4FromWords(p[6]! ^ 0xffff, p[7]! ^ 0xffff) })
      break
  }
  // ISATAP interface identifier (RFC 5214): 0000:5efe or 0200:5efe (u/g bits free) then the IPv4.
  if ((range === 'unicast' || range === '6to4') && ((p[4] ?? 0) & 0xfcff) === 0 && p[5] === 0x5efe) {
    found.push({ form: 'isatap', ipv4: ipv4FromWords(p[6]!, p[7]!) })
  }
  return found
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
