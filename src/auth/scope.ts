/**
 * Which accounts a caller may see. Every repository query that reads or writes an account filters on
 * it; `ownerId` undefined means every owner (administration and internal jobs).
 */
export type Scope = { ownerId?: number }
export const ALL_OWNERS: Scope = {}
