#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build, or npm start, creates dist/).
import { existsSync } from 'node:fs'

const main = new URL('../dist/src/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write(
    'sms-mirror: not built yet: run `npm run build` (or `npm start`) in the sms-mirror folder\n',
  )
  process.exit(1)
}
const { runCli } = await import(main.href)
runCli(process.argv.slice(2))
