/**
 * A PostgreSQL server that accepts connections and then never answers (a host gone behind a
 * network cut, a hung proxy): a query fails after the connect timeout as "database unavailable"
 * (what the HTTP side answers 503 for), instead of waiting for ever.
 */
import net from 'node:net'
import t from 'tap'
import { createDb } from '../../src/db/index.js'
import { isDatabaseUnavailable } from '../../src/errors.js'

t.test('a server that never answers: the query fails after the connect timeout', async (t) => {
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const { port } = silent.address() as net.AddressInfo
  const handle = await createDb(
    { kind: 'postgres', url: `postgres://nobody:secret@127.0.0.1:${port}/nothing` },
    { connectTimeoutMs: 200 },
  )
  t.teardown(() => handle.db.destroy())
  const started = Date.now()
  const error = await handle.db
    .selectFrom('accounts')
    .select('id')
    .execute()
    .then(
      () => null,
      (e: unknown) => e,
    )
  t.ok(error, 'the query failed')
  t.ok(isDatabaseUnavailable(error), `a "database unavailable" failure: ${String(error)}`)
  t.ok(sockets.size >= 1, 'the client did connect (the server accepted, then said nothing)')
  // Bounded by the timeout, not by a test timeout: generous for a busy machine.
  t.ok(Date.now() - started < 30_000, 'failed long before any test timeout')
})
