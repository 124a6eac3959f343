import { writeFileSync } from 'node:fs'
import { ConfigError, loadConfig, loadEnvFile } from '../config.js'

// Each command loads what it needs: `admin`, `init` and `dev-cert` talk to a running service or write
// files, and start in a fraction of the time the whole service takes to load.

const USAGE = `usage: sms-mirror <command>
  serve                 start the HTTP service (same as npm start)
  migrate               apply pending database migrations and exit
  export-openapi [file] write the OpenAPI document (default openapi/openapi.json)
  build-template        build the migrated embedded-database template new data folders start from
  init [--service S] …  on a running service: an owner, an account, a sender, keys and a service
                        account, printed as export lines and examples (sms-mirror init --help)
  admin <verb> …        call the /admin/v1 API of a running service (sms-mirror admin help)
  dev-cert [folder]     make a self-signed HTTPS certificate for local use (default ./data/tls)`

/** The OpenAPI document as the routes describe it, with the default configuration. */
export async function renderOpenApi(): Promise<string> {
  const { buildApp } = await import('../app.js')
  const { systemClock } = await import('../clock.js')
  const { createSecretBox } = await import('../crypto/secret-box.js')
  const { createDb } = await import('../db/index.js')
  const config = loadConfig({ DATA_DIR: 'memory' })
  const database = await createDb(config.database)
  const app = await buildApp(
    {
      config,
      database,
      secretBox: createSecretBox('openapi-export-only-no-secret-is-used-here'),
      clock: systemClock,
    },
    { logger: false },
  )
  await app.ready()
  const document = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  await database.close()
  return document
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      await import('../server.js')
      return -1
    case 'migrate': {
      loadEnvFile()
      const config = loadConfig(process.env)
      const { createDb } = await import('../db/index.js')
      const { migrateToLatest } = await import('../db/migrate.js')
      const database = await createDb(config.database, { timeouts: { queryMs: 0 } })
      try {
        const applied = await migrateToLatest(database)
        process.stdout.write(
          applied.length ? `applied: ${applied.join(', ')}\n` : 'database already up to date\n',
        )
      } finally {
        await database.close()
      }
      return 0
    }
    case 'export-openapi': {
      const file = rest[0] ?? 'openapi/openapi.json'
      writeFileSync(file, await renderOpenApi())
      process.stdout.write(`wrote ${file}\n`)
      return 0
    }
    case 'build-template': {
      const { ensureTemplate } = await import('../db/template.js')
      process.stdout.write(`template: ${await ensureTemplate()}\n`)
      return 0
    }
    case 'init': {
      const { runInit } = await import('./init.js')
      return runInit(rest, process.env, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
      })
    }
    case 'dev-cert': {
      const { runDevCert } = await import('./dev-cert.js')
      return runDevCert(rest, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
      })
    }
    case 'admin': {
      const { runAdmin } = await import('./admin.js')
      return runAdmin(rest, process.env, {
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
      })
    }
    default:
      process.stderr.write(`${USAGE}\n`)
      return command === undefined || command === 'help' ? 0 : 2
  }
}

/** Runs the command line and exits with its code (the `serve` command keeps the process alive). */
export function runCli(argv: string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code)
    },
    (error) => {
      process.stderr.write(
        error instanceof ConfigError
          ? `sms-mirror: bad configuration: ${error.message}\n`
          : `sms-mirror: ${error}\n`,
      )
      process.exit(1)
    },
  )
}

// `tsx src/cli/main.ts …` (npm run migrate / openapi); the installed bin calls runCli itself.
if (import.meta.url === `file://${process.argv[1]}`) runCli(process.argv.slice(2))
