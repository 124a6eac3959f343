/**
 * An export of 100,000 outgoing rows (16 MB of CSV) streams from a real server process
 * (`node src/server.ts`): while it downloads, the memory the server holds — its live heap after a full
 * collection, sampled every 100 ms by test/support/heap-probe.ts — grows by less than 10 MB, and its
 * resident memory by less than 50 MB. Without the forced collections the RSS alone said little: V8
 * lets its heap grow with garbage before it collects, +25 to +64 MB from one run to the next for the
 * same streaming code, while the live heap stayed flat.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import t from 'tap'
import { request } from 'undici'
import { createOwner } from '../../src/accounts/owners.js'
import { createAccount } from '../../src/accounts/service.js'
import type { Config } from '../../src/config.js'
import { createDb } from '../../src/db/index.js'
import { migrateToLatest } from '../../src/db/migrate.js'
import { freePort } from '../support/ports.js'
import { freshDatabaseOn } from '../support/postgres.js'
import { heapProbeEnv, readHeapProbe, spawnServer, waitHealthy } from '../support/server-process.js'
import { ALL_RULES, type Keys, signedHeaders } from '../support/signing.js'
import { waitFor } from '../support/wait.js'

const SERVICE = 'sms-ab12345-1'
const ROWS = 100_000
const SECRET_KEY = 'export-memory-test-secret-key-0123456789abcdef'
const ADMIN_TOKEN = 'export-memory-test-admin-token-0123456789'
const PG_URL = process.env.DATABASE_URL
const MB = 1024 * 1024

let database: Config['database']
let env: Record<string, string>
if (PG_URL) {
  const url = await freshDatabaseOn(t, PG_URL)
  database = { kind: 'postgres', url }
  env = { DATABASE_URL: url, SECRET_KEY }
} else {
  const dataDir = mkdtempSync(join(tmpdir(), 'sms-mirror-export-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  database = { kind: 'pglite', dataDir }
  env = { DATA_DIR: dataDir }
}

// Seed before the server opens the database (an embedded PGlite folder has one process at a time).
const handle = await createDb(database)
let ownerId: number
try {
  await migrateToLatest(handle)
  const owner = await createOwner(handle.db, 'acme')
  ownerId = owner.id
  const account = await createAccount(handle.db, { ownerId, serviceName: SERVICE, credits: 10 })
  await sql`
    insert into outgoing (account_id, login, batch_id, sender, receiver, message, message_length,
      number_of_sms, coding, credits, spend_source, tag, send_at, created_at, state, ptt,
      delivery_receipt, sent_at, delivered_at)
    select ${account.id}, null, gen_random_uuid(), 'ACME', '+336' || lpad(n::text, 8, '0'),
      'Your code is ' || n || '; valid for 10 minutes, do not share it', 50, 1, '7bits', 100,
      'account', 'otp', now(), now(), 'final', 13, 1, now(), now()
    from generate_series(1, ${ROWS}) as n`.execute(handle.db)
} finally {
  await handle.close()
}

const probeDir = mkdtempSync(join(tmpdir(), 'sms-mirror-heap-'))
t.teardown(() => rmSync(probeDir, { recursive: true, force: true }))
const probeFile = join(probeDir, 'samples')

const port = await freePort()
const base = `http://127.0.0.1:${port}`
const server = spawnServer(t, {
  ...env,
  PORT: String(port),
  HOST: '127.0.0.1',
  PUBLIC_URL: base,
  LOG_LEVEL: 'warn',
  ADMIN_TOKEN,
  ...heapProbeEnv(probeFile),
})
await waitHealthy(server, base)
const pid = server.child.pid as number

const rssBytes = () => {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1]) * 1024
}

/** The first probe sample taken after `since` (ms since epoch), once the probe wrote it. */
async function sampleAfter(since: number) {
  let found: ReturnType<typeof readHeapProbe>[number] | undefined
  await waitFor('a heap probe sample', () => {
    found = readHeapProbe(probeFile).find((sample) => sample.at > since)
    return found !== undefined
  })
  return found as NonNullable<typeof found>
}

async function adminPost(path: string, body: unknown) {
  const answer = await request(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return (await answer.body.json()) as Record<string, string>
}

const application = await adminPost('/admin/v1/applications', { owner: ownerId, name: 'export' })
const credential = await adminPost('/admin/v1/credentials', {
  applicationKey: application.applicationKey,
  accessRules: ALL_RULES,
})
const keys = {
  applicationKey: application.applicationKey,
  applicationSecret: application.applicationSecret,
  consumerKey: credential.consumerKey,
} as Keys

async function signedGet(path: string) {
  const answer = await request(`${base}${path}`, { headers: signedHeaders(keys, 'GET', path, '') })
  const body = await answer.body.json()
  if (answer.statusCode !== 200) throw new Error(`${path}: ${answer.statusCode} ${JSON.stringify(body)}`)
  return body as never
}

t.test(`${ROWS} outgoing rows stream with the server's live heap growing < 10 MB`, async (t) => {
  const id: string = await signedGet(`/1.0/sms/${SERVICE}/document?wayType=outgoing`)
  const doc: { getUrl: string } = await signedGet(`/1.0/me/document/${id}`)
  const baseline = await sampleAfter(Date.now())
  const started = Date.now()
  const before = rssBytes()
  let peak = before
  let bytes = 0
  let lines = 0
  let tail = ''
  let chunks = 0
  const file = await request(doc.getUrl)
  t.equal(file.statusCode, 200)
  for await (const chunk of file.body) {
    const text = (chunk as Buffer).toString()
    bytes += (chunk as Buffer).length
    for (const char of text) if (char === '\n') lines++
    tail = (tail + text).slice(-200)
    // Read slowly enough that the server's backpressure is what bounds it, and sample its RSS.
    if (++chunks % 20 === 0) peak = Math.max(peak, rssBytes())
  }
  peak = Math.max(peak, rssBytes())
  const last = await sampleAfter(Date.now())
  const during = readHeapProbe(probeFile).filter((sample) => sample.at > started && sample.at <= last.at)
  const livePeak = Math.max(...during.map((sample) => sample.liveHeap))
  const liveGrowth = livePeak - baseline.liveHeap
  const growth = peak - before
  t.comment(
    `export: ${bytes} bytes, ${lines} lines; server live heap ${(baseline.liveHeap / MB).toFixed(1)} MB ` +
      `before, peak ${(livePeak / MB).toFixed(1)} MB (+${(liveGrowth / MB).toFixed(1)} MB, ${during.length} ` +
      `samples); RSS ${(before / MB).toFixed(1)} MB before, peak ${(peak / MB).toFixed(1)} MB ` +
      `(+${(growth / MB).toFixed(1)} MB)`,
  )
  t.equal(lines, ROWS + 1, 'a header and every row')
  t.match(tail, new RegExp(`\\n${ROWS};[^\\n]*\\n$`), 'the last row is the last id')
  t.ok(during.length >= 2, 'the heap was sampled while the file downloaded')
  t.ok(
    liveGrowth < 10 * MB,
    `live heap grew by ${(liveGrowth / MB).toFixed(1)} MB (< 10 MB; the file is 16 MB)`,
  )
  t.ok(growth < 50 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB (< 50 MB)`)
  const after: { size: number } = await signedGet(`/1.0/me/document/${id}`)
  t.equal(after.size, bytes, 'size recorded once downloaded in full')
})
