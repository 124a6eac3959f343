/**
 * Pure timing and classification rules of the DLR callback dispatcher: no I/O, no clock of their own,
 * so each can be unit-tested on its own.
 */

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const UNIT_MS: Record<string, number> = { '': 1, ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY }
const MAX_SCHEDULE_ENTRIES = 30
const MAX_WAIT_MS = 7 * DAY
const MAX_RETRY_AFTER_MS = DAY
const JITTER = 0.1

/** Standard Webhooks-like: roughly three days of attempts before a delivery is dead-lettered. */
export const DEFAULT_CALLBACK_SCHEDULE_MS: readonly number[] = Object.freeze([
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  14 * HOUR,
  20 * HOUR,
  24 * HOUR,
])

/**
 * Parses a comma-separated list of waits such as `5s,5m,30m,2h` into milliseconds.
 * Units: ms, s, m, h, d; a bare number is milliseconds.
 */
export function parseDurations(text: string): number[] {
  const example = 'e.g. 5s,5m,30m,2h (units ms, s, m, h, d; a bare number is milliseconds)'
  const entries = text.split(',').map((entry) => entry.trim())
  if (entries.length === 1 && entries[0] === '') {
    throw new Error(`expected 1 to ${MAX_SCHEDULE_ENTRIES} waits separated by commas, ${example}`)
  }
  if (entries.length > MAX_SCHEDULE_ENTRIES) {
    throw new Error(`at most ${MAX_SCHEDULE_ENTRIES} waits, got ${entries.length}`)
  }
  return entries.map((entry, index) => {
    if (entry === '') throw new Error(`wait #${index + 1} is empty; remove the extra comma (${example})`)
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)$/i.exec(entry)
    if (!match) throw new Error(`"${entry}" is not a wait such as 30s, 5m or 2h (${example})`)
    const ms = Math.round(Number(match[1]) * (UNIT_MS[match[2]!.toLowerCase()] as number))
    if (ms <= 0) throw new Error(`"${entry}" must be longer than 0 ms`)
    if (ms > MAX_WAIT_MS) throw new Error(`"${entry}" is longer than 7 days, the longest allowed wait`)
    return ms
  })
}

/**
 * Wait before the next attempt, or null when the schedule is exhausted (the delivery is dead-lettered).
 * `attempt` counts the attempts made so far (≥ 1); ±10 % jitter spreads retries of a burst.
 */
export function nextAttemptDelay(
  attempt: number,
  schedule: readonly number[],
  random: () => number = Math.random,
): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be an integer ≥ 1 (attempts made so far), got ${attempt}`)
  }
  const base = schedule[attempt - 1]
  if (base === undefined) return null
  const jitter = base * JITTER * (2 * random() - 1)
  return Math.max(0, Math.round(base + jitter))
}

// RFC 9110 §5.6.7: IMF-fixdate, plus the obsolete RFC 850 and asctime forms recipients must accept.
const HTTP_DATE_FORMS = [
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/,
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/,
]

/**
 * Milliseconds a `Retry-After` header asks us to wait (delta-seconds or HTTP-date), capped at 24 h so a
 * receiver cannot park a delivery forever; null when absent or not valid. A date in the past gives 0.
 */
export function retryAfterMs(header: string | string[] | undefined, now: Date): number | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (!value) return null
  if (/^\d+$/.test(value)) return Math.min(Number(value) * SECOND, MAX_RETRY_AFTER_MS)
  if (!HTTP_DATE_FORMS.some((form) => form.test(value))) return null
  // V8 reads all three forms; asctime carries no zone and is UTC by definition.
  const at = Date.parse(value.endsWith('GMT') ? value : `${value} GMT`)
  if (Number.isNaN(at)) return null
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS)
}

export type ResponseClass = 'success' | 'gone' | 'permanent' | 'retry'

/**
 * What a callback receiver's status code means for the delivery. 410 stops retrying that delivery only;
 * redirects are not followed, so a 3xx is as final as a 4xx.
 */
export function classifyResponse(status: number): ResponseClass {
  if (status >= 200 && status <= 299) return 'success'
  if (status === 410) return 'gone'
  if (status === 408 || status === 429) return 'retry'
  if (status >= 500 && status <= 599) return 'retry'
  if (status >= 300 && status <= 499) return 'permanent'
  return 'retry'
}
