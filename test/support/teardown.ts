/**
 * What the support functions need of their caller: a place to register cleanups. A tap test (`t`)
 * fits, and so does a bench drill (bench/drills/harness.ts).
 */
export type Teardown = { teardown(fn: () => unknown): void }
