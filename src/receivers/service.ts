import type { Static } from 'typebox'
import { type Dispatcher, request } from 'undici'
import { blacklistedAmong } from '../blacklist/repository.js'
import type { Db } from '../db/index.js'
import type { ReceiverSlotsTable } from '../db/schema.js'
import { SsrfBlockedError } from '../dlr/ssrf.js'
import { uploadedText } from '../documents/service.js'
import { badRequest, conflict, notFound } from '../errors.js'
import { parseInternational } from '../fields/phone.js'
import { callbackUrl } from '../fields/url.js'
import { ovhDateTime } from '../http/schema.js'
import { resolveTarget, type Target } from '../sending/target.js'
import { numbersOfCsv } from './csv.js'
import {
  type CleanBody,
  MAX_CSV_BYTES,
  type Receiver,
  type ReceiverCreate,
  type ReceiverUpdate,
  type Task,
} from './schema.js'

type ApiReceiver = Static<typeof Receiver>
type SlotRow = ReceiverSlotsTable

const slotNotFound = (slotId: number) => notFound(`The requested object (slotId = ${slotId}) does not exist`)

export function toReceiver(row: SlotRow): ApiReceiver {
  return {
    autoUpdate: row.auto_update,
    canAutoUpdate: row.csv_url !== null,
    datetime: ovhDateTime(new Date(row.created_at)),
    description: row.description,
    records: row.records,
    slotId: Number(row.slot_id),
  }
}

/** The account and the slot owner ('' for the account itself) a request acts for. */
async function ownerOf(
  db: Db,
  target: Target,
): Promise<{ accountId: number; login: string; ownerId: number }> {
  const account = await resolveTarget(db, target)
  return { accountId: account.id, login: target.login ?? '', ownerId: account.owner_id }
}

/**
 * GET of a CSV through the SSRF-guarded agent of the callbacks (no redirect followed), at most
 * MAX_CSV_BYTES read; every failure is a 400 saying what went wrong with the URL.
 */
export async function fetchCsv(agent: Dispatcher, url: string, field = 'csvUrl'): Promise<string> {
  // The shape only: the guarded agent refuses a non-public host when it connects (CALLBACK_ALLOW_PRIVATE).
  callbackUrl(field, url, { allowPrivate: true })
  let response: Dispatcher.ResponseData
  try {
    response = await request(url, {
      method: 'GET',
      dispatcher: agent,
      headers: { accept: 'text/csv, text/plain' },
    })
  } catch (error) {
    if (
      error instanceof SsrfBlockedError ||
      (error as { cause?: unknown }).cause instanceof SsrfBlockedError
    ) {
      throw badRequest(`Invalid ${field}: its host is not a public address`)
    }
    throw badRequest(`Invalid ${field}: it could not be fetched (${(error as Error).message})`)
  }
  if (response.statusCode < 200 || response.statusCode > 299) {
    await response.body.dump()
    throw badRequest(`Invalid ${field}: it answered HTTP ${response.statusCode}`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length
    if (size > MAX_CSV_BYTES) {
      response.body.destroy()
      throw badRequest(`Invalid ${field}: the file is larger than ${MAX_CSV_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function listSlots(db: Db, target: Target): Promise<number[]> {
  const { accountId, login } = await ownerOf(db, target)
  const rows = await db
    .selectFrom('receiver_slots')
    .select('slot_id')
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .orderBy('slot_id')
    .execute()
  return rows.map((row) => Number(row.slot_id))
}

export async function createSlot(
  db: Db,
  agent: Dispatcher,
  target: Target,
  body: Static<typeof ReceiverCreate>,
  now: Date,
): Promise<ApiReceiver> {
  const { accountId, login, ownerId } = await ownerOf(db, target)
  if (body.documentId !== undefined && body.csvUrl !== undefined) {
    throw badRequest('Invalid body: give csvUrl or documentId, not both')
  }
  if (body.documentId === undefined && !body.csvUrl) {
    throw badRequest(
      'Missing parameter: csvUrl (a CSV to fetch) or documentId (a CSV uploaded at /me/document)',
    )
  }
  const exists = await db
    .selectFrom('receiver_slots')
    .select('slot_id')
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .where('slot_id', '=', body.slotId)
    .executeTakeFirst()
  if (exists) throw conflict(`Slot ${body.slotId} is already used: delete it or choose another slotId`)
  const text =
    body.documentId !== undefined
      ? await uploadedText(db, ownerId, body.documentId, now)
      : await fetchCsv(agent, body.csvUrl as string)
  const numbers = numbersOfCsv(text)
  const row = await db
    .insertInto('receiver_slots')
    .values({
      account_id: accountId,
      login,
      slot_id: body.slotId,
      description: body.description,
      auto_update: body.autoUpdate,
      csv_url: body.csvUrl ?? null,
      numbers: numbers.join('\n'),
      records: numbers.length,
      created_at: now,
    })
    .onConflict((oc) => oc.columns(['account_id', 'login', 'slot_id']).doNothing())
    .returningAll()
    .executeTakeFirst()
  if (!row) throw conflict(`Slot ${body.slotId} is already used: delete it or choose another slotId`)
  return toReceiver(row)
}

async function findSlot(db: Db, target: Target, slotId: number): Promise<SlotRow> {
  const { accountId, login } = await ownerOf(db, target)
  const row = await db
    .selectFrom('receiver_slots')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('login', '=', login)
    .where('slot_id', '=', slotId)
    .executeTakeFirst()
  if (!row) throw slotNotFound(slotId)
  return row
}

export const getSlot = async (db: Db, target: Target, slotId: number) =>
  toReceiver(await findSlot(db, target, slotId))

/** The numbers of a slot, one a line, as the list holds them. */
export const slotCsv = async (db: Db, target: Target, slotId: number) =>
  (await findSlot(db, target, slotId)).numbers

/**
 * The numbers a job with receiversSlotId sends to. A list with autoUpdate and a csvUrl is fetched
 * again first (and stored); a refetch that fails fails the job (400) rather than send to an old list.
 */
export async function slotNumbers(
  db: Db,
  agent: Dispatcher,
  target: Target,
  slotId: string,
): Promise<string[]> {
  const id = Number(slotId)
  if (!/^\d{1,15}$/.test(slotId) || !Number.isSafeInteger(id)) {
    throw badRequest('Invalid receiversSlotId: expected the slotId of one of your receiver lists')
  }
  const row = await findSlot(db, target, id)
  if (row.auto_update && row.csv_url) {
    let numbers: string[]
    try {
      numbers = numbersOfCsv(await fetchCsv(agent, row.csv_url))
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw badRequest(`Invalid receiversSlotId: list ${id} could not be updated from its csvUrl (${reason})`)
    }
    await db
      .updateTable('receiver_slots')
      .set({ numbers: numbers.join('\n'), records: numbers.length })
      .where('account_id', '=', row.account_id)
      .where('login', '=', row.login)
      .where('slot_id', '=', row.slot_id)
      .execute()
    return numbers
  }
  return row.numbers === '' ? [] : row.numbers.split('\n')
}

export async function updateSlot(
  db: Db,
  target: Target,
  slotId: number,
  body: Static<typeof ReceiverUpdate>,
): Promise<null> {
  const row = await findSlot(db, target, slotId)
  const patch: { description?: string; auto_update?: boolean } = {}
  if (body.description !== undefined) patch.description = body.description
  if (body.autoUpdate !== undefined) patch.auto_update = body.autoUpdate
  if (Object.keys(patch).length > 0) {
    await db
      .updateTable('receiver_slots')
      .set(patch)
      .where('account_id', '=', row.account_id)
      .where('login', '=', row.login)
      .where('slot_id', '=', row.slot_id)
      .execute()
  }
  return null
}

export async function deleteSlot(db: Db, target: Target, slotId: number): Promise<null> {
  const row = await findSlot(db, target, slotId)
  await db
    .deleteFrom('receiver_slots')
    .where('account_id', '=', row.account_id)
    .where('login', '=', row.login)
    .where('slot_id', '=', row.slot_id)
    .execute()
  return null
}

/**
 * Removes the numbers that are not valid international numbers and those on the account's blacklist,
 * as an sms.Task (done when this answers; no HLR lookups, so nothing is charged). priceOnly: the task
 * is recorded, the list is left as it is.
 */
export async function cleanSlot(
  db: Db,
  target: Target,
  slotId: number,
  body: Static<typeof CleanBody>,
  now: Date,
): Promise<{ taskId: number; totalCreditsRemoved: number }> {
  const row = await findSlot(db, target, slotId)
  return db.transaction().execute(async (trx) => {
    const numbers = row.numbers === '' ? [] : row.numbers.split('\n')
    const parsed = numbers.map((raw) => ({ raw, number: parseInternational(raw)?.number ?? null }))
    const valid = parsed.flatMap((p) => (p.number ? [p.number] : []))
    const blacklisted =
      valid.length > 0 ? await blacklistedAmong(trx, row.account_id, valid) : new Set<string>()
    if (!body.priceOnly) {
      const kept = parsed.filter((p) => p.number !== null && !blacklisted.has(p.number)).map((p) => p.raw)
      await trx
        .updateTable('receiver_slots')
        .set({ numbers: kept.join('\n'), records: kept.length })
        .where('account_id', '=', row.account_id)
        .where('login', '=', row.login)
        .where('slot_id', '=', row.slot_id)
        .execute()
    }
    const task = await trx
      .insertInto('sms_tasks')
      .values({
        account_id: row.account_id,
        function: 'cleanSmsReceivers',
        status: 'done',
        step: 'finishing',
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    return { taskId: Number(task.id), totalCreditsRemoved: 0 }
  })
}

export async function listTasks(db: Db, target: Target, status?: string): Promise<number[]> {
  const { accountId } = await ownerOf(db, target)
  let query = db.selectFrom('sms_tasks').select('id').where('account_id', '=', accountId)
  if (status) query = query.where('status', '=', status)
  return (await query.orderBy('id').execute()).map((row) => Number(row.id))
}

export async function getTask(db: Db, target: Target, taskId: number): Promise<Static<typeof Task>> {
  const { accountId } = await ownerOf(db, target)
  const row = await db
    .selectFrom('sms_tasks')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', taskId)
    .executeTakeFirst()
  if (!row) throw notFound(`The requested object (taskId = ${taskId}) does not exist`)
  return {
    function: row.function as 'cleanSmsReceivers',
    status: row.status as Static<typeof Task>['status'],
    step: row.step as Static<typeof Task>['step'],
    taskId: Number(row.id),
  }
}
