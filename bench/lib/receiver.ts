import { createServer } from 'node:http'

/**
 * Child process of bench:dlr: a keep-alive HTTP receiver that acknowledges every callback with 200
 * and notes when each one arrived (high-resolution wall clock), by the `id` of its query.
 * IPC: sends {port} once listening; answers 'count', 'arrivals' and 'reset'.
 */
let count = 0
let ids: number[] = []
let times: number[] = []

const server = createServer((request, response) => {
  const at = performance.timeOrigin + performance.now()
  count++
  const query = request.url?.split('?')[1] ?? ''
  const id = Number(new URLSearchParams(query).get('id'))
  if (Number.isFinite(id)) {
    ids.push(id)
    times.push(at)
  }
  request.resume()
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
  response.end('ok')
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 61_000

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.send?.({ port: typeof address === 'object' && address ? address.port : 0 })
})

process.on('message', (message) => {
  if (message === 'count') process.send?.({ count })
  else if (message === 'arrivals') process.send?.({ ids, times })
  else if (message === 'reset') {
    count = 0
    ids = []
    times = []
    process.send?.({ ok: true })
  } else if (message === 'stop') {
    server.close()
    server.closeAllConnections()
    process.disconnect()
  }
})
