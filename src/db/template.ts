import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { Kysely } from 'kysely'
import { MIGRATIONS_DIR, migrateDb } from './migrate.js'
import { PGliteDialect } from './pglite-dialect.js'

/**
 * A migrated, empty embedded database kept as a data-directory tarball: a new PGlite database (a
 * fresh DATA_DIR, an in-memory test database) is loaded from it instead of running initdb and every
 * migration (seconds of WebAssembly work, every time) — about 0.3 s instead of 2 to 10.
 *
 * The file name carries a key: the PGlite version and the content of every migration it ran. A
 * template made before a migration was added (or by another PGlite) is simply not found, and a fresh
 * one is built. `npm run build` builds the one for dist/ (dist/pglite-template/); the test runner builds
 * the one for the sources (pglite-template/, git-ignored) before the test files run.
 */

/** Two levels above this file: the repository in the source tree, dist/ once built (like migrations/). */
const TEMPLATE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pglite-template')

function pgliteVersion(): string {
  const require = createRequire(import.meta.url)
  const main = require.resolve('@electric-sql/pglite')
  // …/node_modules/@electric-sql/pglite/dist/index.cjs → the package.json two levels up
  const manifest = path.join(path.dirname(main), '..', 'package.json')
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
}

/** The key of the template the current migrations and PGlite would produce. */
export function templateKey(): string {
  const hash = createHash('sha256').update(`pglite ${pgliteVersion()}\n`)
  for (const name of readdirSync(MIGRATIONS_DIR).sort()) {
    if (!/\.(ts|js)$/.test(name) || name.endsWith('.d.ts')) continue
    hash.update(`${name}\n`).update(readFileSync(path.join(MIGRATIONS_DIR, name)))
  }
  return hash.digest('hex').slice(0, 16)
}

export function templateFile(key = templateKey()): string {
  return path.join(TEMPLATE_DIR, `pgdata-${key}.tar`)
}

/** The tarball of the current template, or null when none has been built. */
export function readTemplate(): Blob | null {
  const file = templateFile()
  return existsSync(file) ? new Blob([readFileSync(file)]) : null
}

/**
 * Builds the template for the current migrations unless it exists. Safe when several processes
 * race: each writes its own temporary file and renames it into place. Returns the file.
 */
export async function ensureTemplate(): Promise<string> {
  const key = templateKey()
  const file = templateFile(key)
  if (existsSync(file)) return file
  mkdirSync(TEMPLATE_DIR, { recursive: true })
  const pglite = await PGlite.create()
  const db = new Kysely<unknown>({ dialect: new PGliteDialect(pglite) })
  try {
    await migrateDb(db, 'public')
    const tarball = await pglite.dumpDataDir('none')
    const partial = `${file}.${process.pid}.partial`
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()))
    renameSync(partial, file)
  } finally {
    await db.destroy()
  }
  return file
}
