import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * PGlite serves one process: a second process opening the same data folder corrupts it or dies in
 * WebAssembly (`RuntimeError: Aborted()`). A lock file holding the owner's pid says the folder is in
 * use; a lock whose process is gone (a crash, SIGKILL) is stale and taken over.
 */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    /** null: a process that has just created the lock and not written its pid yet. */
    readonly pid: number | null,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by another sms-mirror process (${pid === null ? 'starting now' : `pid ${pid}`}): stop that process, ` +
        'or set DATA_DIR to another folder (the embedded database serves one process; use DATABASE_URL for several)',
    )
    this.name = 'DataDirInUseError'
  }
}

const LOCK_FILE = 'sms-mirror.lock'

/**
 * A lock file without a pid yet is a process between creating it and writing its pid (two starting
 * at once), unless it is older than this: then the writer died in between, and the lock is stale.
 */
const UNWRITTEN_LOCK_GRACE_MS = 10_000

/** Milliseconds since `file` was written; null when it is gone. */
function ageOf(file: string): number | null {
  try {
    return Date.now() - statSync(file).mtimeMs
  } catch {
    return null
  }
}

/** Locks held by this process: a second open in the same process is refused too. */
const heldHere = new Set<string>()

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ownerOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null
  } catch {
    return null
  }
}

/** Takes the lock of `dataDir` (which exists) or throws DataDirInUseError; returns its release. */
export function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number
    try {
      fd = openSync(file, 'wx', 0o600)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = ownerOf(file)
      if (pid === null) {
        const age = ageOf(file)
        if (age === null) continue // removed meanwhile: try again
        if (age < UNWRITTEN_LOCK_GRACE_MS) throw new DataDirInUseError(dataDir, null)
      }
      const inUse = pid !== null && (pid === process.pid ? heldHere.has(file) : isAlive(pid))
      if (inUse) throw new DataDirInUseError(dataDir, pid)
      // Stale: its process is gone. Removed, then taken with 'wx' again, so two starting processes
      // cannot both take it.
      try {
        if (ownerOf(file) === pid) unlinkSync(file)
      } catch {
        // another process removed it first
      }
      continue
    }
    writeSync(fd, `${process.pid}\n`)
    closeSync(fd)
    heldHere.add(file)
    return () => {
      if (!heldHere.delete(file)) return
      if (ownerOf(file) === process.pid) unlinkSync(file)
    }
  }
  throw new DataDirInUseError(dataDir, ownerOf(file))
}
