/**
 * A fake SMSC in a process of its own, for bench:carrier and drill:carrier (the `smpp` library's
 * server through src/smpp/session.ts). It accepts every bind and answers every submit_sm at once with
 * a new message id. With a state file it behaves like an SMSC that keeps its queue on disk: each
 * accepted message is written down before its submit_sm_resp, its DELIVRD receipt sent after
 * `receiptDelayMs` and crossed out once the ESME answered it, and what was not crossed out is sent
 * again after a restart (a SIGKILL loses nothing it acknowledged).
 *
 *   node --import tsx bench/lib/smsc-process.ts <port> [stateFile] [receiptDelayMs]
 *
 * Prints `listening <port>` once ready, and `submits <n>` every second while it receives.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { formatReceipt, MESSAGE_STATE } from '../../src/smpp/receipt.js'
import { listenSmpp, type SmppSession, STATUS } from '../../src/smpp/session.js'

const port = Number(process.argv[2] ?? 0)
const stateFile = process.argv[3] && process.argv[3] !== '-' ? process.argv[3] : null
const receiptDelayMs = Number(process.argv[4] ?? 100)
const boot = Date.now().toString(36)

const receivers = new Set<SmppSession>()
/** Accepted and not yet acknowledged receipts, by message id. */
const pending = new Set<string>()
let submits = 0
let sequence = 0

if (stateFile && existsSync(stateFile)) {
  for (const line of readFileSync(stateFile, 'utf8').split('\n')) {
    const [op, id] = line.split(' ')
    if (!id) continue
    if (op === 'accepted') pending.add(id)
    else if (op === 'done') pending.delete(id)
  }
}

function sendReceipt(id: string): void {
  const session = [...receivers][Math.floor(Math.random() * receivers.size)]
  if (!session || !pending.has(id)) {
    setTimeout(() => sendReceipt(id), 200)
    return
  }
  const now = new Date()
  const text = formatReceipt({
    id,
    submitted: 1,
    delivered: 1,
    submitDate: now,
    doneDate: now,
    state: 'DELIVRD',
    error: 0,
    text: '',
  })
  session
    .request(
      'deliver_sm',
      {
        esm_class: 0x04,
        short_message: Buffer.from(text, 'latin1'),
        receipted_message_id: id,
        message_state: MESSAGE_STATE.DELIVRD,
      },
      10_000,
    )
    .then(
      (answer) => {
        if (answer.command_status === STATUS.ESME_ROK) {
          pending.delete(id)
          if (stateFile) appendFileSync(stateFile, `done ${id}\n`)
        } else setTimeout(() => sendReceipt(id), 500)
      },
      () => setTimeout(() => sendReceipt(id), 500),
    )
}

const listener = await listenSmpp({ host: '127.0.0.1', port }, (session) => {
  session.onClose(() => receivers.delete(session))
  session.onRequest((pdu) => {
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        session.respond(pdu, { system_id: 'FAKESMSC' })
        if (pdu.command !== 'bind_transmitter') {
          receivers.add(session)
          // After a restart: the receipts still owed.
          if (receivers.size === 1)
            for (const id of pending) setTimeout(() => sendReceipt(id), receiptDelayMs)
        }
        return
      case 'submit_sm': {
        submits++
        const id = `${boot}-${++sequence}`
        if (stateFile) {
          appendFileSync(stateFile, `accepted ${id}\n`)
          pending.add(id)
          setTimeout(() => sendReceipt(id), receiptDelayMs)
        }
        session.respond(pdu, { message_id: id })
        return
      }
      case 'enquire_link':
      case 'unbind':
        session.respond(pdu)
        if (pdu.command === 'unbind') void session.close()
        return
      default:
        session.respond(pdu, {}, STATUS.ESME_RINVCMDID)
    }
  })
})
console.log(`listening ${listener.address().port}`)
let reported = 0
setInterval(() => {
  if (submits !== reported) console.log(`submits ${submits}`)
  reported = submits
}, 1000).unref()
process.on('SIGTERM', () => {
  console.log(`submits ${submits}`)
  process.exit(0)
})
