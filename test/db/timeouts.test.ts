/**
 * A PostgreSQL server that stops answering without closing its sockets (a host gone behind a network
 * cut, a hung proxy): queries, the LISTEN connection's sync() and new connections fail as "database
 * unavailable" after their timeout (DbTimeouts) instead of waiting for ever, and the service recovers
 * by itself once the server answers again. The cut is a TCP proxy on 127.0.0.1 that starts dropping
 * every byte in both directions.
 */
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { sql } from 'kysely'
import t from 'tap'
import { createDb, type DbHandle } from '../../src/db/index.js'
import { isDatabaseUnavailable } from '../../src/errors.js'
import type { Teardown } from '../support/teardown.js'
import { waitFor } from '../support/wait.js'

const pgUrl = process.env.DATABASE_URL
const needsPostgres = pgUrl ? false : 'needs PostgreSQL: a network cut between the service and its server'
const BOUND_MS = 300

async function listenLocal(t: Teardown, server: net.Server, sockets: Set<net.Socket>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return (server.address() as net.AddressInfo).port
}

/** A proxy to `target` that can start dropping everything (`cut`) and stop again (`mend`). */
async function cuttableProxy(t: Teardown, target: URL) {
  const sockets = new Set<net.Socket>()
  let cut = false
  const server = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [inbound, outbound]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => {
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.on('data', (chunk) => cut || outbound.write(chunk))
    outbound.on('data', (chunk) => cut || inbound.write(chunk))
  })
  const port = await listenLocal(t, server, sockets)
  const url = new URL(target.toString())
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return {
    url: url.toString(),
    cut: () => {
      cut = true
    },
    mend: () => {
      cut = false
    },
  }
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  )

t.test(
  'a server that accepts and never answers: queries and LISTEN fail after the connect timeout',
  async (t) => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    const port = await listenLocal(t, silent, sockets)
    const handle = await createDb(
      { kind: 'postgres', url: `postgres://nobody:secret@127.0.0.1:${port}/nothing` },
      { timeouts: { connectMs: BOUND_MS } },
    )
    t.teardown(() => handle.close())
    const query = await outcome(handle.db.selectFrom('accounts').select('id').execute())
    t.notOk(query.ok, 'the query failed')
    t.ok(
      !query.ok && isDatabaseUnavailable(query.error),
      `as "database unavailable": ${String(!query.ok && query.error)}`,
    )
    const subscribed = await outcome(
      handle.subscribe('nothing', { onMessage: () => {}, onReconnect: () => {} }),
    )
    t.notOk(subscribed.ok, 'subscribing failed too')
    t.ok(sockets.size >= 2, 'both did connect (the server accepted, then said nothing)')
  },
)

t.test(
  'a first subscribe refused: the caller gets the error, and nothing reports a loss or retries',
  async (t) => {
    const sockets = new Set<net.Socket>()
    let connections = 0
    const closing = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    const port = await listenLocal(t, closing, sockets)
    const handle = await createDb({
      kind: 'postgres',
      url: `postgres://nobody:secret@127.0.0.1:${port}/nothing`,
    })
    t.teardown(() => handle.close())
    let lost = 0
    const subscribed = await outcome(
      handle.subscribe('nothing', { onMessage: () => {}, onReconnect: () => {}, onLost: () => lost++ }),
    )
    t.notOk(subscribed.ok, 'subscribing failed')
    t.equal(lost, 0, 'no loss reported for a connection that never listened')
    t.equal(connections, 1, 'one attempt')
  },
)

t.test('a cut after the connection was made', { skip: needsPostgres }, async (t) => {
  const target = new URL(pgUrl as string)

  t.test('a statement fails after the statement timeout; the next one, once mended, runs', async (t) => {
    const proxy = await cuttableProxy(t, target)
    const handle: DbHandle = await createDb(
      { kind: 'postgres', url: proxy.url },
      { poolSize: 1, timeouts: { queryMs: BOUND_MS } },
    )
    t.teardown(() => handle.close())
    await handle.ping()
    proxy.cut()
    const during = await outcome(handle.ping())
    t.notOk(during.ok, 'the statement sent into the cut failed')
    t.ok(
      !during.ok && isDatabaseUnavailable(during.error),
      `as "database unavailable": ${String(!during.ok && during.error)}`,
    )
    proxy.mend()
    // Inside a transaction: the ROLLBACK then meets the closed connection; still "unavailable".
    const inTransaction = await outcome(
      handle.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx)
        proxy.cut()
        await sql`select 2`.execute(trx)
      }),
    )
    proxy.mend()
    t.ok(
      !inTransaction.ok && isDatabaseUnavailable(inTransaction.error),
      `a transaction whose statement timed out fails as "database unavailable": ${String(!inTransaction.ok && inTransaction.error)}`,
    )
    // One client in the pool: it must have been replaced, not reused with the lost answer pending.
    const after = await outcome(handle.ping())
    t.ok(after.ok, `the next statement runs on a new connection${after.ok ? '' : `: ${String(after.error)}`}`)
  })

  t.test('the LISTEN connection: sync() fails after its timeout, and it reconnects by itself', async (t) => {
    const proxy = await cuttableProxy(t, target)
    const direct = await createDb({ kind: 'postgres', url: pgUrl as string }, { poolSize: 1 })
    t.teardown(() => direct.close())
    const handle = await createDb(
      { kind: 'postgres', url: proxy.url },
      { poolSize: 1, timeouts: { syncMs: BOUND_MS } },
    )
    t.teardown(() => handle.close())
    const channel = `t_cut_${randomBytes(4).toString('hex')}`
    const messages: string[] = []
    let lost = 0
    let reconnected = 0
    const subscription = await handle.subscribe(channel, {
      onMessage: (payload) => messages.push(payload),
      onLost: () => lost++,
      onReconnect: () => reconnected++,
    })
    t.teardown(() => subscription.stop())
    await subscription.sync()
    proxy.cut()
    const during = await outcome(subscription.sync())
    t.notOk(during.ok, `sync() into the cut failed${during.ok ? '' : `: ${String(during.error)}`}`)
    await waitFor('the connection given up', () => lost === 1)
    t.pass('the connection was given up as lost')
    t.notOk((await outcome(subscription.sync())).ok, 'sync() fails at once while it is lost')
    proxy.mend()
    await waitFor('the reconnection', () => reconnected === 1)
    await direct.notify(channel, 'after the cut')
    await subscription.sync()
    t.same(messages, ['after the cut'], 'a notification after the reconnect arrives')
  })
})
