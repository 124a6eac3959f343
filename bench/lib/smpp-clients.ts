/**
 * The ESMEs of bench:smpp, in a process of their own: SESSIONS transceivers bound to 127.0.0.1:PORT,
 * each keeping WINDOW submit_sm in flight for SECONDS. Prints one JSON line:
 * {accepted, refused, seconds, messageIds} (messageIds: how many distinct ids came back).
 *   node --import tsx bench/lib/smpp-clients.ts PORT SYSTEM_ID PASSWORD SESSIONS WINDOW SECONDS
 */
import { connectSmpp, STATUS } from '../../src/smpp/session.js'
import { encodeText } from '../../src/smpp/short-message.js'

const [port, systemId, password, sessions, window, seconds] = process.argv.slice(2)
const [part] = encodeText('sms-mirror bench:smpp message', '7bits', 1)
let accepted = 0
let refused = 0
const ids = new Set<string>()
const clients = await Promise.all(
  Array.from({ length: Number(sessions) }, async () => {
    const session = await connectSmpp({ host: '127.0.0.1', port: Number(port), timeoutMs: 10_000 })
    const bound = await session.request('bind_transceiver', { system_id: systemId, password }, 10_000)
    if (bound.command_status !== STATUS.ESME_ROK) throw new Error(`bind refused: ${bound.command_status}`)
    return session
  }),
)
const started = performance.now()
const until = started + Number(seconds) * 1000
let n = 0
await Promise.all(
  clients.flatMap((session) =>
    Array.from({ length: Number(window) }, async () => {
      while (performance.now() < until) {
        n++
        const answer = await session.request(
          'submit_sm',
          {
            source_addr_ton: 5,
            source_addr_npi: 0,
            source_addr: 'ACME',
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: `336${String(10_000_000 + (n % 80_000_000)).padStart(8, '0')}`,
            ...part,
          },
          30_000,
        )
        if (answer.command_status === STATUS.ESME_ROK) {
          accepted++
          ids.add(String(answer.message_id))
        } else refused++
      }
    }),
  ),
)
const elapsed = (performance.now() - started) / 1000
for (const session of clients) session.destroy()
process.stdout.write(`${JSON.stringify({ accepted, refused, seconds: elapsed, messageIds: ids.size })}\n`)
process.exit(0)
