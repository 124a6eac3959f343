/**
 * The DATA_DIR lock between two processes starting at once: a lock file created but not yet written
 * (its pid comes a moment later) is in use, not stale; one left unwritten for long (its writer died in
 * between) is taken over.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { lockDataDir } from '../../src/db/data-dir-lock.js'

function folder(t: { teardown(fn: () => void): void }): { dir: string; lock: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sms-mirror-lock-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return { dir, lock: join(dir, 'sms-mirror.lock') }
}

t.test('a lock file not written yet belongs to a process starting now', async (t) => {
  const { dir, lock } = folder(t)
  writeFileSync(lock, '')
  t.throws(
    () => lockDataDir(dir),
    { name: 'DataDirInUseError', message: /in use by another sms-mirror process \(starting now\)/ },
    'refused',
  )
  t.equal(readFileSync(lock, 'utf8'), '', 'the other process keeps its lock')
})

t.test('a lock file left unwritten for long is stale: taken over, released at close', async (t) => {
  const { dir, lock } = folder(t)
  writeFileSync(lock, '')
  const minuteAgo = new Date(Date.now() - 60_000)
  utimesSync(lock, minuteAgo, minuteAgo)
  const release = lockDataDir(dir)
  t.equal(readFileSync(lock, 'utf8'), `${process.pid}\n`, 'now ours')
  release()
  t.notOk(existsSync(lock), 'removed at release')
})
