import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

/** The folder of PGlite's built files (…/node_modules/@electric-sql/pglite/dist). */
export function pgliteDist(): string {
  return path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
}

let shared: Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> | undefined

/**
 * PGlite's WebAssembly module, compiled once per process, and its file-system bundle, read once: every
 * PGlite this process opens after the first (a test file's databases, a second replica) instantiates
 * the compiled module instead of compiling 8 MB of WebAssembly again (≈ 0.3 s each on this machine).
 */
export function sharedPgliteRuntime(): Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> {
  shared ??= (async () => {
    const dist = pgliteDist()
    const pgliteWasmModule = await WebAssembly.compile(readFileSync(path.join(dist, 'pglite.wasm')))
    return { pgliteWasmModule, fsBundle: new Blob([readFileSync(path.join(dist, 'pglite.data'))]) }
  })()
  return shared
}
