// Network rule of this file: only 127.0.0.1 / ::1 and the server it starts. Non-public literals such as
// 10.0.0.1 and 169.254.169.254 are asserted to be refused before any socket exists.
import diagnostics from 'node:diagnostics_channel'
import type { LookupAddress, LookupOptions } from 'node:dns'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import {
  classifyAddress,
  createCallbackAgent,
  guardedLookup,
  isPublicAddress,
  SsrfBlockedError,
} from '../../src/dlr/ssrf.js'

t.test('isPublicAddress', async (t) => {
  const publicAddresses = [
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '::ffff:0:8.8.8.8',
    '64:ff9b::808:808',
    // Local-use NAT64: 8.8.8.8 at every RFC 6052 position (/48, /56, /64, /96).
    '64:ff9b:1:808:8:808:808:808',
    '2002:808:808::1',
    // Teredo: server 65.54.227.120, client 8.8.8.8 (inverted bits).
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
    // ISATAP interface identifier with a public IPv4 address.
    '2001:4860::200:5efe:808:808',
  ]
  const nonPublic = [
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '127.0.0.1',
    '127.255.255.254',
    '::1',
    '169.254.169.254',
    'fe80::1',
    'fe80::1%eth0',
    'fc00::1',
    'fd12:3456::1',
    '224.0.0.1',
    'ff02::1',
    '0.0.0.0',
    '0.1.2.3',
    '::',
    '255.255.255.255',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '192.0.2.1',
    '198.18.0.1',
    '240.0.0.1',
    '2001:db8::1',
    '64:ff9b::a00:1',
    '2002:a00:1::1',
    // IPv4-compatible (::/96, deprecated): never public, whatever it embeds, in every spelling.
    '::127.0.0.1',
    '::7f00:1',
    '::a00:1',
    '::10.0.0.1',
    '::2',
    '::808:808',
    '::8.8.8.8',
    '::169.254.169.254%eth0',
    // IPv4-translated (RFC 6145).
    '::ffff:0:7f00:1',
    '::ffff:0:10.0.0.1',
    // Local-use NAT64: a private address at one of the RFC 6052 positions is enough.
    '64:ff9b:1::a00:1',
    '64:ff9b:1:a00:1:808:808:808',
    '64:ff9b:1:808:8:a00:1:808',
    // Teredo with a private client or server.
    '2001:0:4136:e378::f5ff:fffe',
    '2001:0:a00:1:8000:63bf:f7f7:f7f7',
    // ISATAP interface identifiers embedding loopback/private addresses.
    '2001:4860::5efe:a00:1',
    '2001:4860::200:5efe:7f00:1',
    '2002:808:808::5efe:a9fe:a9fe',
    'localhost',
    'not an address',
    '',
  ]
  for (const ip of publicAddresses) t.equal(isPublicAddress(ip), true, `${ip} is public`)
  for (const ip of nonPublic) t.equal(isPublicAddress(ip), false, `${JSON.stringify(ip)} is not public`)
  t.same(classifyAddress('169.254.169.254'), { public: false, range: 'linkLocal' })
  t.same(classifyAddress('::ffff:127.0.0.1'), { public: false, range: 'ipv4Mapped loopback' })
  t.same(classifyAddress('100.64.0.1'), { public: false, range: 'carrierGradeNat' })
  t.same(classifyAddress('::127.0.0.1'), { public: false, range: 'ipv4Compatible loopback' })
  t.same(classifyAddress('::808:808'), { public: false, range: 'ipv4Compatible unicast' })
  t.same(classifyAddress('2001:0:4136:e378::f5ff:fffe'), { public: false, range: 'teredo private' })
  t.same(classifyAddress('2001:4860::5efe:a00:1'), { public: false, range: 'isatap private' })
  t.same(classifyAddress('64:ff9b::808:808'), { public: true, range: 'rfc6052 unicast' })
})

type LookupResult = { error: (Error & { code?: string }) | null; address: unknown; family?: number }

function lookupWith(allowPrivate: boolean, hostname: string, options: LookupOptions | number | undefined) {
  return new Promise<LookupResult>((resolve) => {
    const callback = (error: Error | null, address: unknown, family?: number) =>
      resolve({ error, address, ...(family === undefined ? {} : { family }) })
    if (options === undefined) guardedLookup(allowPrivate)(hostname, callback)
    else guardedLookup(allowPrivate)(hostname, options, callback)
  })
}

const BLOCKED_MESSAGE =
  /^callback host (\S+) resolves to (\S+) \(([^)]+)\), a non-public address; set CALLBACK_ALLOW_PRIVATE=true to allow it$/

t.test('guardedLookup refuses non-public addresses', async (t) => {
  for (const all of [true, false]) {
    const literal = await lookupWith(false, '10.0.0.1', { all })
    t.equal(literal.error?.code, 'ERR_SSRF_BLOCKED', `literal, all=${all}`)
    t.ok(literal.error instanceof SsrfBlockedError)
    t.equal(
      literal.error?.message,
      'callback host 10.0.0.1 resolves to 10.0.0.1 (private), a non-public address; set CALLBACK_ALLOW_PRIVATE=true to allow it',
    )
    const named = await lookupWith(false, 'localhost', { all })
    t.equal(named.error?.code, 'ERR_SSRF_BLOCKED', `name, all=${all}`)
    const [, host, address, range] = BLOCKED_MESSAGE.exec(named.error?.message ?? '') ?? []
    t.equal(host, 'localhost')
    t.ok(address === '127.0.0.1' || address === '::1', `resolved address ${address}`)
    t.equal(range, 'loopback')
  }
  t.equal((await lookupWith(false, 'localhost', 4)).error?.code, 'ERR_SSRF_BLOCKED', 'family as a number')
  t.equal((await lookupWith(false, 'localhost', undefined)).error?.code, 'ERR_SSRF_BLOCKED', 'no options')
  // What WHATWG URL makes of http://[::127.0.0.1]/ and what a resolver may answer.
  for (const literal of ['::7f00:1', '::a00:1', '::2']) {
    const compatible = await lookupWith(false, literal, { all: true })
    t.equal(compatible.error?.code, 'ERR_SSRF_BLOCKED', `${literal} (IPv4-compatible) is refused`)
  }
  t.equal(new URL('http://[::127.0.0.1]/').hostname, '[::7f00:1]', 'URLs carry the hex spelling')
})

t.test('guardedLookup answers like dns.lookup otherwise', async (t) => {
  const all = await lookupWith(true, 'localhost', { all: true, family: 4 })
  t.equal(all.error, null)
  t.same(all.address as LookupAddress[], [{ address: '127.0.0.1', family: 4 }])
  const one = await lookupWith(true, 'localhost', { family: 4 })
  t.same(one, { error: null, address: '127.0.0.1', family: 4 })
  const literal = await lookupWith(false, '8.8.8.8', { all: true })
  t.same(literal, { error: null, address: [{ address: '8.8.8.8', family: 4 }] }, 'public literal, no DNS')
  const v6 = await lookupWith(true, '::1', {})
  t.same(v6, { error: null, address: '::1', family: 6 })
})

t.test('callback agent refuses at connect time', async (t) => {
  const received: string[] = []
  const server = createServer((req, res) => {
    received.push(req.url ?? '')
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo

  const sockets: unknown[] = []
  const onSocket = (message: unknown) => sockets.push(message)
  diagnostics.subscribe('net.client.socket', onSocket)
  t.teardown(() => diagnostics.unsubscribe('net.client.socket', onSocket))

  // A connect timeout far above the bound below: an attempt to reach 10.x would not fail this fast.
  const strict = createCallbackAgent({
    allowPrivate: false,
    connectTimeoutMs: 30_000,
    requestTimeoutMs: 5000,
  })
  t.teardown(() => strict.close())

  for (const url of [
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
    `http://[::1]:${port}/`,
  ]) {
    sockets.length = 0
    const started = performance.now()
    const error = await request(url, { dispatcher: strict }).then(
      () => null,
      (e: Error & { code?: string }) => e,
    )
    const elapsed = performance.now() - started
    t.equal(error?.code, 'ERR_SSRF_BLOCKED', url)
    t.match(error?.message, BLOCKED_MESSAGE)
    t.equal(sockets.length, 0, `${url}: refused before any socket was created`)
    t.ok(elapsed < 5000, `${url}: refused without waiting for a connection (${elapsed.toFixed(0)} ms)`)
  }

  sockets.length = 0
  const error = await request(`http://localhost:${port}/`, { dispatcher: strict }).then(
    () => null,
    (e: Error & { code?: string }) => e,
  )
  t.equal(error?.code, 'ERR_SSRF_BLOCKED', 'a name resolving to loopback')
  t.match(error?.message, /^callback host localhost resolves to (127\.0\.0\.1|::1) \(loopback\)/)
  t.ok(
    sockets.length > 0,
    'names get a socket whose lookup refuses (so the socket count above is meaningful)',
  )
  t.same(received, [], 'the local server received no request')

  const open = createCallbackAgent({
    allowPrivate: true,
    connectTimeoutMs: 5000,
    requestTimeoutMs: 5000,
    keepAliveTimeoutMs: 1000,
    connections: 2,
  })
  t.teardown(() => open.close())
  for (const host of ['localhost', '127.0.0.1']) {
    const response = await request(`http://${host}:${port}/dlr?id=1`, { dispatcher: open })
    t.equal(response.statusCode, 200, `allowPrivate reaches ${host}`)
    t.equal(await response.body.text(), 'ok')
  }
  t.same(received, ['/dlr?id=1', '/dlr?id=1'])
})
