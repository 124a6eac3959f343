import { randomInt } from 'node:crypto'
import type { Transaction } from 'kysely'
import type { SecretBox } from '../crypto/secret-box.js'
import type { Database } from '../db/index.js'

type Trx = Transaction<Database>

const LOWER = 'abcdefghijkmnopqrstuvwxyz'
const ALNUM = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'

function randomText(alphabet: string, length: number): string {
  let text = ''
  for (let i = 0; i < length; i++) text += alphabet[randomInt(alphabet.length)]
  return text
}

/**
 * A random system ID, as OVH gives one: SMPP 3.4 allows 15 characters; 10 lowercase letters and
 * digits, starting with a letter (some ESMEs trim leading digits).
 */
export const randomSystemId = () => randomText(LOWER, 1) + randomText('abcdefghijkmnopqrstuvwxyz23456789', 9)

/**
 * A random password. SMPP 3.4 bounds `password` to 8 characters (9 octets with the NUL), so it
 * cannot be longer; 8 of 57 characters are ~46 bits, guarded further by allowedIPs and the bind
 * throttling of src/smpp-server/bind-guard.ts.
 */
export const randomSmppPassword = () => randomText(ALNUM, 8)

/** The SMPP side of a new smpp- account, in its creation's transaction; answers the password (once). */
export async function createSmppCredentials(
  trx: Trx,
  accountId: number,
  box: SecretBox,
): Promise<{ systemId: string; password: string }> {
  const password = randomSmppPassword()
  for (let attempt = 0; ; attempt++) {
    const systemId = randomSystemId()
    const inserted = await trx
      .insertInto('smpp_accounts')
      .values({ account_id: accountId, system_id: systemId, password_enc: box.seal(password) })
      .onConflict((oc) => oc.column('system_id').doNothing())
      .returning('system_id')
      .executeTakeFirst()
    if (inserted) return { systemId, password }
    if (attempt > 10) throw new Error('could not draw a free SMPP system ID')
  }
}
