#!/usr/bin/env node
// `npm start`'s prestart: runs `npm run build` only when the sources changed since the last build.
// The build's inputs (src/, migrations/, OVH's schema, the TypeScript and package manifests) are hashed; the hash of
// the last successful build is kept in dist/.build-inputs (written by `npm run build` itself). Plain Node, no dependency: it runs before
// anything is compiled.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const STAMP = path.join(ROOT, 'dist', '.build-inputs')
const INPUTS = [
  'src',
  'migrations',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  // OVH's schema: src/http/ovh-descriptions.ts imports it (its descriptions go into the OpenAPI document).
  'test/fixtures/ovh-sms-schema.json',
]

/** The files of one input (a folder, walked; or a file), relative to the repository, sorted. */
function files(input) {
  const absolute = path.join(ROOT, input)
  if (!existsSync(absolute)) return []
  if (!statSync(absolute).isDirectory()) return [input]
  return readdirSync(absolute, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)))
    .sort()
}

function inputsHash() {
  const hash = createHash('sha256')
  for (const file of INPUTS.flatMap(files))
    hash.update(`${file}\n`).update(readFileSync(path.join(ROOT, file)))
  return hash.digest('hex')
}

const current = inputsHash()
const writeStamp = () => {
  mkdirSync(path.dirname(STAMP), { recursive: true })
  writeFileSync(STAMP, `${current}\n`)
}
if (process.argv[2] === '--stamp') {
  // The end of `npm run build`: what it just built from (a later npm start needs no build).
  writeStamp()
} else {
  const built = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : ''
  if (built === current && existsSync(path.join(ROOT, 'dist', 'src', 'server.js'))) {
    process.stderr.write('sms-mirror: build is current (dist/), not rebuilding\n')
  } else {
    process.stderr.write('sms-mirror: sources changed since the last build: npm run build\n')
    const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
    if (result.status !== 0) process.exit(result.status ?? 1)
  }
}
