import type { Config } from './config.js'
import type { SecretBox } from './crypto.js'
import type { DbHandle } from './db/index.js'

/** Source of the current time; tests inject their own. */
export type Clock = { now(): Date }
export const systemClock: Clock = { now: () => new Date() }

/** Everything buildApp needs from the outside world. */
export type AppDeps = {
  config: Config
  database: DbHandle
  secretBox: SecretBox
  clock: Clock
}

/**
 * Which accounts a caller may see. Every repository query that reads or writes an account filters on
 * it; `ownerId` undefined means every owner (administration and internal jobs).
 */
export type Scope = { ownerId?: number }
export const ALL_OWNERS: Scope = {}
