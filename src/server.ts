import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, loadEnvFile } from './config.js'
import { DataDirInUseError } from './db/data-dir-lock.js'
import { DatabaseUnavailableError } from './db/index.js'
import { checkListenAddress, ListenError, startApp } from './start-app.js'

// Process entry only: config → address check → database → migrations → app → listen, and a graceful
// close. What an operator can fix (configuration, a taken port, a data folder in use, a database
// that cannot be reached) ends the process with one line, not a stack.
const FIXABLE = [ConfigError, ListenError, DataDirInUseError, DatabaseUnavailableError]

function stop(error: unknown): never {
  if (!FIXABLE.some((kind) => error instanceof kind)) throw error
  const prefix = error instanceof ConfigError ? 'bad configuration: ' : ''
  process.stderr.write(`sms-mirror: ${prefix}${(error as Error).message}\n`)
  process.exit(1)
}

loadEnvFile()
let config: ReturnType<typeof loadConfig>
let app: Awaited<ReturnType<typeof startApp>>
try {
  config = loadConfig(process.env)
  await checkListenAddress(config.host, config.port)
  app = await startApp(config, { prettyLogs: process.stdout.isTTY === true })
} catch (error) {
  stop(error)
}

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})
try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  // Taken between the check and now: the same line, once the database is closed again.
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
  await app.close()
  stop(
    new ListenError(`cannot listen on ${config.host}:${config.port} (HOST/PORT): the port is already in use`),
  )
}
