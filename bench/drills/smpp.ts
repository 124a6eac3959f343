/**
 * Fault drill: SIGKILL the server under SMPP load (an ESME bound as transceiver submitting with
 * registered_delivery, receipts flowing back), restart it on the same database and SMPP port, load
 * again, then check: every submit the ESME saw accepted is an outgoing row with its message_id, every
 * one of them got its receipt at least once (receipts queued while no session was bound included),
 * and the credits balance (initial = left + what the outgoing rows cost).
 * Prints a timed log, then one line `drill:smpp: PASS|FAIL …`; exits 0 or 1.
 */
import { sql } from 'kysely'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import { createSecretBox } from '../../src/crypto/secret-box.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { connectSmpp, type SmppSession, STATUS } from '../../src/smpp/session.js'
import { encodeText } from '../../src/smpp/short-message.js'
import { freePort } from '../../test/support/ports.js'
import { type ServerProcess, spawnServer, waitHealthy } from '../../test/support/server-process.js'
import { Drill, DrillFailure, sleep } from './harness.js'
import { drillDatabase, openDb, SECRET_KEY, serverEnv } from './setup.js'

const SERVICE = 'smpp-drill-1'
const CREDITS = 100_000
const LOAD_MS = 3000

const drill = new Drill('smpp', 120_000)
await drill.run(async () => {
  const { url } = await drillDatabase(drill)
  const handle = await openDb(url)
  drill.onCleanup(() => handle.close())
  const { db } = handle
  await migrateToLatest(handle)
  const owner = await createOwner(db, 'drill-smpp')
  const account = await createAccount(db, {
    ownerId: owner.id,
    serviceName: SERVICE,
    credits: CREDITS,
    secretBox: createSecretBox(SECRET_KEY),
  })
  const { systemId, password } = account.smpp as { systemId: string; password: string }
  await db
    .updateTable('smpp_accounts')
    .set({ allowed_ips: JSON.stringify(['127.0.0.1']), throughput: 1000 })
    .where('account_id', '=', account.id)
    .execute()
  await db
    .insertInto('senders')
    .values({ account_id: account.id, sender: 'DRILL', status: 'enable', type: 'alpha' })
    .execute()

  const [port, smppPort] = [await freePort(), await freePort()]
  const base = `http://127.0.0.1:${port}`
  const env = {
    ...serverEnv(url, port),
    SMPP_PORT: String(smppPort),
    SMPP_HOST: '127.0.0.1',
    SMPP_DELIVERY_RETRY_S: '1',
  }
  const servers: ServerProcess[] = []
  drill.diagnostics = () => servers.map((s) => s.output()).join('')
  const start = async () => {
    const server = spawnServer(drill, env)
    servers.push(server)
    drill.onCleanup(() => server.child.kill('SIGKILL'))
    await waitHealthy(server, base)
    return server
  }

  // The ESME: rebinds whenever its session is lost, submits with a window of 10, keeps every receipt.
  const accepted = new Set<string>()
  const receipts = new Map<string, number>()
  let submitting = true
  let session: SmppSession | null = null
  const [part] = encodeText('sms-mirror smpp drill', '7bits', 1)
  const connect = async (): Promise<SmppSession> => {
    for (;;) {
      try {
        const s = await connectSmpp({ host: '127.0.0.1', port: smppPort, timeoutMs: 5000 })
        s.onRequest((pdu) => {
          if (pdu.command === 'deliver_sm') {
            const id = String(pdu.receipted_message_id ?? '')
            receipts.set(id, (receipts.get(id) ?? 0) + 1)
            s.respond(pdu)
          } else if (pdu.command === 'unbind' || pdu.command === 'enquire_link') s.respond(pdu)
        })
        const bound = await s.request('bind_transceiver', { system_id: systemId, password }, 5000)
        if (bound.command_status === STATUS.ESME_ROK) return s
        s.destroy()
      } catch {}
      await sleep(200)
    }
  }
  let n = 0
  const worker = async () => {
    while (submitting) {
      const current = session
      if (!current?.isOpen) {
        await sleep(50)
        continue
      }
      n++
      try {
        const answer = await current.request(
          'submit_sm',
          {
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: 'DRILL',
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: `336${String(10_000_000 + n).slice(-8)}`,
            registered_delivery: 1,
            ...part,
          },
          10_000,
        )
        if (answer.command_status === STATUS.ESME_ROK) accepted.add(String(answer.message_id))
        else if (answer.command_status !== STATUS.ESME_RTHROTTLED) {
          throw new DrillFailure(`submit_sm answered 0x${answer.command_status.toString(16)}`)
        }
      } catch (error) {
        if (error instanceof DrillFailure) throw error
      }
    }
  }
  const keepBound = async () => {
    while (submitting || [...accepted].some((id) => !receipts.has(id))) {
      if (!session?.isOpen) session = await connect()
      await sleep(50)
    }
  }

  const first = await start()
  drill.log(`server 1 (pid ${first.child.pid}) healthy; SMPP on 127.0.0.1:${smppPort}`)
  const binder = keepBound()
  const workers = Array.from({ length: 10 }, () => worker())
  await sleep(LOAD_MS)
  const before = { accepted: accepted.size, receipts: receipts.size }
  first.child.kill('SIGKILL')
  const exit = await first.exited
  drill.log(
    `SIGKILL server 1 (${exit.signal}): ${before.accepted} accepted, ${before.receipts} receipts so far`,
  )
  const second = await start()
  drill.log(`server 2 (pid ${second.child.pid}) healthy`)
  await sleep(LOAD_MS)
  submitting = false
  await Promise.all(workers)
  drill.log(`load stopped: ${accepted.size} accepted (${accepted.size - before.accepted} after the kill)`)
  drill.check(accepted.size > before.accepted, 'nothing accepted after the restart')

  const deadline = Date.now() + Math.min(60_000, drill.remainingMs() - 10_000)
  while ([...accepted].some((id) => !receipts.has(id)) && Date.now() < deadline) await sleep(200)
  const missingReceipts = [...accepted].filter((id) => !receipts.has(id))
  drill.check(missingReceipts.length === 0, `${missingReceipts.length} accepted message(s) got no receipt`)
  await binder.catch(() => {})

  const rows = await db
    .selectFrom('outgoing')
    .select(['message_id', 'credits'])
    .where('account_id', '=', account.id)
    .execute()
  const stored = new Set(rows.map((r) => r.message_id))
  const lost = [...accepted].filter((id) => !stored.has(id))
  drill.check(lost.length === 0, `${lost.length} accepted submit(s) not in the history`)
  const left = await db
    .selectFrom('accounts')
    .select('credits_left')
    .where('id', '=', account.id)
    .executeTakeFirstOrThrow()
  const spent = rows.reduce((sum, r) => sum + Number(r.credits), 0)
  drill.check(
    Number(left.credits_left) + spent === CREDITS * 100,
    `credits do not balance: ${left.credits_left} left + ${spent} spent ≠ ${CREDITS * 100} (hundredths)`,
  )
  const duplicates = [...receipts.values()].filter((count) => count > 1).length
  const pendingRows = await sql<{
    n: number
  }>`select count(*)::int as n from smpp_deliveries where state = 'pending'`.execute(db)
  ;(session as SmppSession | null)?.destroy()
  second.child.kill('SIGTERM')
  await second.exited
  return (
    `${accepted.size} accepted (${rows.length} rows: ${rows.length - accepted.size} committed but unanswered at the kill), ` +
    `every receipt delivered (${duplicates} twice), ${pendingRows.rows[0]?.n ?? 0} deliveries pending, credits balance`
  )
})
