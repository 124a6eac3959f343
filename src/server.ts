import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, loadEnvFile } from './config.js'
import { startApp } from './start-app.js'

// Process entry only: config → database → migrations → app → listen, and a graceful close.
loadEnvFile()
let config: ReturnType<typeof loadConfig>
let app: Awaited<ReturnType<typeof startApp>>
try {
  config = loadConfig(process.env)
  app = await startApp(config)
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  process.stderr.write(`sms-mirror: bad configuration: ${error.message}\n`)
  process.exit(1)
}

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})
await app.listen({ port: config.port, host: config.host })
await app.smppServer.listen()
