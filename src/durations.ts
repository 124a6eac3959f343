/**
 * Lists of waits, as the retry schedules of the configuration write them: `5s,5m,30m,2h`. One parser
 * for every schedule (callbacks, limit alerts), so they all read the same way. Units ms, s, m, h, d
 * (case-insensitive); a bare number is milliseconds; each wait longer than 0 and at most 7 days.
 */

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const UNIT_MS: Record<string, number> = { '': 1, ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }
const MAX_ENTRIES = 30
const MAX_WAIT_MS = 7 * DAY

/** The waits of `text`, in milliseconds; throws an Error that says what to fix. */
export function parseDurations(text: string): number[] {
  const example = 'e.g. 5s,5m,30m,2h (units ms, s, m, h, d; a bare number is milliseconds)'
  const entries = text.split(',').map((entry) => entry.trim())
  if (entries.length === 1 && entries[0] === '') {
    throw new Error(`expected 1 to ${MAX_ENTRIES} waits separated by commas, ${example}`)
  }
  if (entries.length > MAX_ENTRIES) throw new Error(`at most ${MAX_ENTRIES} waits, got ${entries.length}`)
  return entries.map((entry, index) => {
    if (entry === '') throw new Error(`wait #${index + 1} is empty; remove the extra comma (${example})`)
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)$/i.exec(entry)
    if (!match) throw new Error(`"${entry}" is not a wait such as 30s, 5m or 2h (${example})`)
    const ms = Math.round(Number(match[1]) * (UNIT_MS[(match[2] as string).toLowerCase()] as number))
    if (ms <= 0) throw new Error(`"${entry}" must be longer than 0 ms`)
    if (ms > MAX_WAIT_MS) throw new Error(`"${entry}" is longer than 7 days: not a wait a schedule may hold`)
    return ms
  })
}
