import type { Db } from '../db/index.js'

export type Owner = { id: number; name: string }

export async function createOwner(db: Db, name: string): Promise<Owner> {
  return db.insertInto('owners').values({ name }).returning(['id', 'name']).executeTakeFirstOrThrow()
}
