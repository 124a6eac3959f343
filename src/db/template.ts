import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { Kysely } from 'kysely'
import { MIGRATIONS_DIR, migrateDb } from './migrate.js'
import { PGliteDialect } from './pglite-dialect.js'
import { pgliteDist } from './pglite-runtime.js'

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
  // …/node_modules/@electric-sql/pglite/dist → the package.json one level up
  const manifest = path.join(pgliteDist(), '..', 'package.json')
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version
}

/**
 * How the template is made, beyond the migrations: change it and every template is rebuilt.
 * 2: 1 MB WAL segments and no template0/template1 (a 15 MB, 400-file data folder instead of 42 MB
 * and 1,162 files: what a new DATA_DIR has to write before it can answer).
 */
const RECIPE = 2

/** The key of the template the current migrations and PGlite would produce. */
export function templateKey(): string {
  const hash = createHash('sha256').update(`pglite ${pgliteVersion()} recipe ${RECIPE}\n`)
  for (const name of readdirSync(MIGRATIONS_DIR).sort()) {
    if (!/\.(ts|js)$/.test(name) || name.endsWith('.d.ts')) continue
    hash.update(`${name}\n`).update(readFileSync(path.join(MIGRATIONS_DIR, name)))
  }
  return hash.digest('hex').slice(0, 16)
}

export function templateFile(key = templateKey()): string {
  return path.join(TEMPLATE_DIR, `pgdata-${key}.tar`)
}

let cached: { file: string; blob: Blob } | undefined

/** The tarball of the current template, or null when none has been built (read once per process). */
export function readTemplate(): Blob | null {
  const file = templateFile()
  if (cached?.file === file) return cached.blob
  if (!existsSync(file)) return null
  cached = { file, blob: new Blob([readFileSync(file)]) }
  return cached.blob
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
  // 1 MB WAL segments: the one segment a fresh data folder holds is 1 MB of mostly zeros, not 16.
  const pglite = await PGlite.create({ initDbStartParams: ['--wal-segsize=1'] })
  const db = new Kysely<unknown>({ dialect: new PGliteDialect(pglite) })
  try {
    await migrateDb(db, 'public')
    // The service only ever uses `postgres` and never runs CREATE DATABASE: the two template
    // databases are a third of the files a new data folder would have to create each.
    for (const name of ['template0', 'template1']) {
      await pglite.exec(`alter database ${name} is_template false`)
      await pglite.exec(`drop database ${name}`)
    }
    await pglite.exec('checkpoint')
    const tarball = await pglite.dumpDataDir('none')
    const partial = `${file}.${process.pid}.partial`
    writeFileSync(partial, Buffer.from(await tarball.arrayBuffer()))
    renameSync(partial, file)
  } finally {
    await db.destroy()
  }
  return file
}
