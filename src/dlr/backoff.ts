/**
 * Pure timing and classification rules of the DLR callback dispatcher: no I/O, no clock of their own,
 * so each can be unit-tested on its own.
 */

const SECOND = 1000
const DAY = 24 * 3600 * SECOND

const MAX_RETRY_AFTER_MS = DAY
const JITTER = 0.1

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
