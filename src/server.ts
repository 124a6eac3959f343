import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, loadEnvFile } from './config.js'

// Process entry only: config → address check → database → migrations → app → listen, and a graceful
// close. What an operator can fix (configuration, a taken port, a data folder in use, a database
// that cannot be reached) ends the process with one line, not a stack. The configuration is read
// before the rest of the service is loaded, so a bad variable is reported in a fraction of a second.
const fixable: (abstract new (...args: never[]) => Error)[] = [ConfigError]

function stop(error: unknown): never {
  if (!fixable.some((kind) => error instanceof kind)) throw error
  const prefix = error instanceof ConfigError ? 'bad configuration: ' : ''
  process.stderr.write(`sms-mirror: ${prefix}${(error as Error).message}\n`)
  process.exit(1)
}

loadEnvFile()
let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  stop(error)
}
const { checkListenAddress, ListenError, startApp } = await import('./start-app.js')
const { DataDirInUseError } = await import('./db/data-dir-lock.js')
const { DatabaseUnavailableError } = await import('./db/index.js')
fixable.push(ListenError, DataDirInUseError, DatabaseUnavailableError)
let app: Awaited<ReturnType<typeof startApp>>
try {
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
try {
  await app.smppServer.listen()
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
  await app.close()
  stop(
    new ListenError(
      `cannot listen for SMPP on ${config.smpp.host}:${config.smpp.port} (SMPP_HOST/SMPP_PORT): the port is already in use`,
    ),
  )
}
