import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { COMPILED, codeFile, nodeCommand, ROOT } from './paths.js'
import type { Teardown } from './teardown.js'

/**
 * Settings of the service a child must not inherit from this process's environment unless the caller
 * gives them (a test run under DATABASE_URL still starts an embedded server when it asks for one).
 */
const NOT_INHERITED = [
  'DATABASE_URL',
  'DATA_DIR',
  'SECRET_KEY',
  'PUBLIC_URL',
  'TLS_CERT',
  'TLS_KEY',
  'SIMULATOR_RULES',
  'SMS_RATES',
  'CARRIERS',
  'CARRIER_URL',
]

export type Exit = { code: number | null; signal: NodeJS.Signals | null }

export type ServerProcess = {
  child: ChildProcess
  /** stdout and stderr as they came. */
  output: () => string
  stderr: () => string
  exited: Promise<Exit>
}

/**
 * The environment that preloads `test/support/heap-probe.ts` into a spawned server: a full collection
 * every `everyMs`, then its live heap and RSS appended to `file` (read them with readHeapProbe).
 */
export function heapProbeEnv(file: string, everyMs = 100): Record<string, string> {
  const probe = `--import=${codeFile('test/support/heap-probe.ts')}`
  return {
    NODE_OPTIONS: COMPILED ? probe : `--import=tsx ${probe}`,
    HEAP_PROBE_FILE: file,
    HEAP_PROBE_MS: String(everyMs),
  }
}

export type HeapSample = { at: number; liveHeap: number; rss: number }

/** The samples a heap probe wrote so far, oldest first. */
export function readHeapProbe(file: string): HeapSample[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [at, liveHeap, rss] = line.split(' ').map(Number)
      return { at: at as number, liveHeap: liveHeap as number, rss: rss as number }
    })
}

/** Who owns a spawned server: its teardown kills it; a drill also tracks it (killed on exit and signals). */
export type ServerOwner = Teardown & { track?(child: ChildProcess): void }

/**
 * The real server (`nodeCommand('src/server.ts')`: compiled, or through tsx), with `env` over this process's environment; its
 * output kept (never printed). SIGKILLed at the owner's teardown if still running.
 */
export function spawnServer(owner: ServerOwner, env: Record<string, string>): ServerProcess {
  // SMPP_PORT 0 unless given: servers of parallel tests and drills must not all take 2775.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, SMPP_PORT: '0', ...env }
  for (const key of NOT_INHERITED) if (!(key in env)) delete childEnv[key]
  const [node, ...args] = nodeCommand('src/server.ts')
  const child = spawn(node, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  owner.track?.(child)
  owner.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  const keep = (chunk: Buffer) => {
    out += chunk.toString()
    if (out.length > 2_000_000) out = out.slice(-1_000_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', (chunk: Buffer) => {
    keep(chunk)
    if (err.length < 1_000_000) err += chunk.toString()
  })
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, output: () => out, stderr: () => err, exited }
}

/** The server exited, or did not answer /health in time (its output is in the message). */
export class ServerStartError extends Error {
  override name = 'ServerStartError'
}

/**
 * Waits until GET `base`/health answers 200; answers how long that took (ms). Throws ServerStartError
 * if the process exits first or `timeoutMs` passes. The bound is generous: a server that starts in
 * 2 s on a quiet machine takes 20 s and more beside four other test processes.
 */
export async function waitHealthy(
  server: ServerProcess,
  base: string,
  { timeoutMs = 120_000 }: { timeoutMs?: number } = {},
): Promise<number> {
  const began = Date.now()
  let exit: Exit | undefined
  void server.exited.then((e) => {
    exit = e
  })
  const tail = () => server.output().trim().split('\n').slice(-20).join('\n')
  while (Date.now() - began < timeoutMs) {
    if (exit)
      throw new ServerStartError(
        `server exited (${exit.code ?? exit.signal}) before it was healthy:\n${tail()}`,
      )
    try {
      const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) })
      await response.arrayBuffer()
      if (response.status === 200) return Date.now() - began
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new ServerStartError(`server not healthy within ${timeoutMs / 1000} s:\n${tail()}`)
}

/** Error- and fatal-level lines (pino 50, 60) of a server's output. */
export const errorLines = (output: string) =>
  output.split('\n').filter((line) => /"level":(50|60)\b/.test(line))

/** The most frequent error messages of a server's output, `msg ×count`. */
export function errorDigest(output: string, max = 3): string {
  const counts = new Map<string, number>()
  for (const line of errorLines(output)) {
    let key = line.slice(0, 120)
    try {
      const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string } }
      key = `${parsed.msg ?? ''}${parsed.err?.message ? ` (${parsed.err.message.slice(0, 80)})` : ''}`
    } catch {}
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, max)
    .map(([msg, n]) => `${msg} ×${n}`)
    .join('; ')
}
