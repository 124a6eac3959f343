// Network rule of this file: only 127.0.0.1 and the server it starts.
import { once } from 'node:events'
import { type AddressInfo, connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'
import { startApp } from '../src/start-app.js'

// The bounds, shortened: the app is built the way the server entry builds it (startApp).
const config = loadConfig({
  DATA_DIR: 'memory',
  LOG_LEVEL: 'silent',
  ADMIN_TOKEN: 'timeouts-admin-token-0123456789',
  HTTP_HEADERS_TIMEOUT_MS: '300',
  HTTP_REQUEST_TIMEOUT_MS: '600',
  HTTP_IDLE_TIMEOUT_MS: '300',
})
const app = await startApp(config)
t.teardown(() => app.close())
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo

type Tap = Pick<Test, 'equal'>

/** A raw client socket: what it received, and a promise for its close. */
async function client() {
  const socket = connect(port, '127.0.0.1')
  // Writes racing the server's close may fail with EPIPE/ECONNRESET: the close is what is asserted.
  socket.on('error', () => {})
  await once(socket, 'connect')
  let received = ''
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString()
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  t.teardown(() => socket.destroy())
  return { socket, closed, received: () => received }
}

/** Writes `chunk` every 50 ms until the socket closes: a client slower than any bound. */
function trickle(socket: Socket, chunk: string) {
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write(chunk)
  }, 50)
  socket.once('close', () => clearInterval(timer))
}

/**
 * Waits for the server to close the socket. Without the configured bounds it stays open (Fastify sets
 * no whole-request bound) or closes only on Node's defaults (60 s for headers, 72 s idle): a limit
 * 50 times the configured bounds turns that into a failure instead of a long wait.
 */
async function closedByServer(t: Tap, closed: Promise<void>) {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<'open'>((resolve) => {
    timer = setTimeout(() => resolve('open'), 15_000)
  })
  const outcome = await Promise.race([closed.then(() => 'closed' as const), limit])
  clearTimeout(timer)
  t.equal(outcome, 'closed', 'the server closed the socket')
}

t.test('the server has the configured bounds', async (t) => {
  t.equal(app.server.headersTimeout, 300)
  t.equal(app.server.requestTimeout, 600)
  t.equal(app.server.keepAliveTimeout, 300)
})

t.test('a client that sends its headers slowly gets a 408 and its socket is closed', async (t) => {
  const { socket, closed, received } = await client()
  socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  trickle(socket, 'X-Slow: 1\r\n')
  await closedByServer(t, closed)
  t.match(received(), /^HTTP\/1\.1 408 Request Timeout/)
})

t.test('a client that connects and sends nothing is closed', async (t) => {
  const { closed, received } = await client()
  await closedByServer(t, closed)
  t.match(received(), /^HTTP\/1\.1 408 Request Timeout/)
})

t.test('a client that sends its body slowly gets a 408 and its socket is closed', async (t) => {
  const { socket, closed, received } = await client()
  socket.write(
    'POST /1.0/auth/credential HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'X-Ovh-Application: none\r\nContent-Length: 100000\r\n\r\n{"accessRules":',
  )
  trickle(socket, ' ')
  await closedByServer(t, closed)
  t.match(received(), /^HTTP\/1\.1 408 Request Timeout/)
})

t.test('an idle keep-alive connection is closed after its request was served', async (t) => {
  const { socket, closed, received } = await client()
  socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n')
  await closedByServer(t, closed)
  t.match(received(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"status":"ok"\}$/)
  t.equal(received().match(/HTTP\/1\.1/g)?.length, 1, 'one answer, then the close')
})

t.test('requests within the bounds are served', async (t) => {
  const response = await fetch(`http://127.0.0.1:${port}/health`)
  t.equal(response.status, 200)
  t.same(await response.json(), { status: 'ok' })
})

t.test('timeouts configuration', async (t) => {
  const defaults = loadConfig({ DATA_DIR: 'memory' })
  t.same(defaults.http, { headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, idleTimeoutMs: 72_000 })
  t.throws(
    () => loadConfig({ DATA_DIR: 'memory', HTTP_HEADERS_TIMEOUT_MS: '70000' }),
    new ConfigError(
      'HTTP_HEADERS_TIMEOUT_MS',
      'must not exceed HTTP_REQUEST_TIMEOUT_MS (60000): the headers are part of the request, got 70000',
    ),
  )
  t.throws(() => loadConfig({ DATA_DIR: 'memory', HTTP_IDLE_TIMEOUT_MS: '10' }), {
    name: 'ConfigError',
    variable: 'HTTP_IDLE_TIMEOUT_MS',
  })
})
