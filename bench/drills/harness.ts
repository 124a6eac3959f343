import type { ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ServerStartError } from '../../test/support/server-process.js'

/**
 * The harness of the fault drills (bench/drills/*.ts): a drill always ends with one
 * `drill:<name>: PASS|FAIL …` line and cleans up on every path. What else a drill uses: the seed and
 * server settings (setup.ts), the paced load (load.ts), the end checks (checks.ts), and the shared
 * test support (test/support/: throwaway PostgreSQL, the server process, the callback receiver).
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export class DrillFailure extends Error {}

// ---------------------------------------------------------------- the harness

/**
 * Runs a drill's body: prints a timed log, collects failed checks, stops at `budgetMs` (a watchdog),
 * runs every cleanup on every path, then prints exactly one `drill:<name>: PASS|FAIL …` line and exits
 * 0 or 1.
 */
export class Drill {
  /** Process start, so that the times printed include loading the modules. */
  readonly began = Math.round(performance.timeOrigin)
  readonly problems: string[] = []
  private readonly cleanups: (() => unknown)[] = []
  private readonly children = new Set<ChildProcess>()
  private finished = false
  /** The servers' output: its last lines are printed before a FAIL line, all of it kept in a file. */
  diagnostics: () => string = () => ''

  constructor(
    readonly name: string,
    private readonly budgetMs: number,
  ) {
    // Whatever happens, no server outlives the drill.
    process.once('exit', () => this.killChildren())
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      // Synchronous: the throwaway cluster's own handler (bench/lib/pg.ts) stops it and exits.
      process.once(signal, () => {
        this.killChildren()
        if (!this.finished)
          console.log(`drill:${this.name}: FAIL interrupted by ${signal} (${this.elapsedS()} s)`)
        this.finished = true
        process.exit(1)
      })
    }
  }

  private killChildren(): void {
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }

  log(message: string): void {
    const at = ((Date.now() - this.began) / 1000).toFixed(1).padStart(5)
    console.log(`[${at} s] ${message}`)
  }

  /** Notes a failed check (the drill goes on, to report everything it sees). */
  check(ok: boolean, what: string): boolean {
    if (!ok) {
      this.problems.push(what)
      this.log(`CHECK FAILED: ${what}`)
    }
    return ok
  }

  onCleanup(fn: () => unknown): void {
    this.cleanups.push(fn)
  }

  /** The same as onCleanup: a drill is a Teardown for the shared test support (test/support/). */
  teardown(fn: () => unknown): void {
    this.onCleanup(fn)
  }

  track(child: ChildProcess): void {
    this.children.add(child)
  }

  /** What is left of the budget (ms). */
  remainingMs(): number {
    return this.budgetMs - (Date.now() - this.began)
  }

  elapsedS(): string {
    return ((Date.now() - this.began) / 1000).toFixed(1)
  }

  async run(body: () => Promise<string>): Promise<never> {
    let summary = ''
    let crash: string | null = null
    const watchdog = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new DrillFailure(`over its ${this.budgetMs / 1000} s budget`)),
        this.budgetMs - (Date.now() - this.began),
      ).unref(),
    )
    try {
      summary = await Promise.race([body(), watchdog])
    } catch (error) {
      crash =
        error instanceof DrillFailure || error instanceof ServerStartError
          ? error.message
          : `error: ${(error as Error).stack ?? error}`
    }
    return this.finish(summary, crash)
  }

  private async finish(summary: string, crash: string | null): Promise<never> {
    if (this.finished) return new Promise<never>(() => {})
    this.finished = true
    const failed = crash !== null || this.problems.length > 0
    if (failed) {
      const output = this.diagnostics()
      if (output.trim()) {
        const file = join(tmpdir(), `drill-${this.name}-${process.pid}.log`)
        writeFileSync(file, output)
        const tail = output
          .trim()
          .split('\n')
          .slice(-12)
          .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
          .join('\n')
        console.log(`--- server output, last lines (all of it in ${file}) ---\n${tail}\n---`)
      }
    }
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await Promise.race([cleanup(), sleep(10_000)])
      } catch (error) {
        console.log(`cleanup: ${(error as Error).message}`)
      }
    }
    const took = `${this.elapsedS()} s`
    if (failed) {
      const reasons = [...(crash ? [crash.split('\n')[0]] : []), ...this.problems]
      const more = crash?.includes('\n') ? `\n${crash}` : ''
      if (more) console.log(more.trim())
      console.log(`drill:${this.name}: FAIL ${reasons.slice(0, 4).join('; ')} (${took})`)
      process.exit(1)
    }
    console.log(`drill:${this.name}: PASS ${summary} (${took})`)
    process.exit(0)
  }
}
