#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm run build, or npm start, creates dist/).
const { runCli } = await import('../dist/src/cli/main.js')
runCli(process.argv.slice(2))
