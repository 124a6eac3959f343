import t from 'tap'
import { DEFAULT_CALLBACK_SCHEDULE_MS } from '../../src/config.js'
import { classifyResponse, nextAttemptDelay, retryAfterMs } from '../../src/dlr/backoff.js'
import { parseDurations } from '../../src/durations.js'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H

t.test('parseDurations reads every unit', async (t) => {
  t.same(parseDurations('5s,5m,30m,2h,5h,10h,14h,20h,24h'), [
    5 * S,
    5 * M,
    30 * M,
    2 * H,
    5 * H,
    10 * H,
    14 * H,
    20 * H,
    24 * H,
  ])
  t.same(parseDurations('250'), [250], 'a bare number is milliseconds')
  t.same(parseDurations('250ms, 2s , 1.5h,7d,1d'), [250, 2 * S, 1.5 * H, 7 * D, D])
  t.same(parseDurations('5S,2M'), [5 * S, 2 * M], 'units are case-insensitive')
  t.same(parseDurations(Array(30).fill('1s').join(',')).length, 30, '30 waits are allowed')
})

t.test('parseDurations says what to fix', async (t) => {
  const cases: [string, RegExp][] = [
    ['', /expected 1 to 30 waits separated by commas/],
    ['  ', /expected 1 to 30 waits/],
    ['5s,,5m', /wait #2 is empty; remove the extra comma/],
    ['5s,5m,', /wait #3 is empty/],
    ['5x', /"5x" is not a wait such as 30s, 5m or 2h \(e\.g\. 5s,5m,30m,2h \(units ms, s, m, h, d/],
    ['-5s', /"-5s" is not a wait/],
    ['5 minutes', /"5 minutes" is not a wait/],
    ['1e3', /"1e3" is not a wait/],
    ['0s', /"0s" must be longer than 0 ms/],
    ['0.0001', /"0.0001" must be longer than 0 ms/],
    ['8d', /"8d" is longer than 7 days/],
    ['169h', /"169h" is longer than 7 days/],
    [Array(31).fill('1s').join(','), /at most 30 waits, got 31/],
  ]
  for (const [input, message] of cases) t.throws(() => parseDurations(input), message, JSON.stringify(input))
  t.same(parseDurations('168h'), [7 * D], 'exactly 7 days is allowed')
})

t.test('default schedule is the Standard Webhooks-like one', async (t) => {
  t.same(DEFAULT_CALLBACK_SCHEDULE_MS, parseDurations('5s,5m,30m,2h,5h,10h,14h,20h,24h'))
  t.ok(Object.isFrozen(DEFAULT_CALLBACK_SCHEDULE_MS))
})

t.test('nextAttemptDelay follows the schedule with ±10 % jitter', async (t) => {
  const schedule = [1000, 60_000, 3_600_000]
  t.equal(
    nextAttemptDelay(1, schedule, () => 0.5),
    1000,
    'random 0.5 is no jitter',
  )
  t.equal(
    nextAttemptDelay(2, schedule, () => 0.5),
    60_000,
  )
  t.equal(
    nextAttemptDelay(3, schedule, () => 0.5),
    3_600_000,
  )
  t.equal(
    nextAttemptDelay(1, schedule, () => 0),
    900,
    'lowest: -10 %',
  )
  t.equal(
    nextAttemptDelay(3, schedule, () => 0),
    3_240_000,
  )
  t.equal(
    nextAttemptDelay(1, schedule, () => 0.999_999_999),
    1100,
    'highest: +10 %',
  )
  t.equal(
    nextAttemptDelay(2, schedule, () => 0.75),
    63_000,
  )
  for (let i = 0; i < 1000; i++) {
    const delay = nextAttemptDelay(2, schedule)!
    if (!(delay >= 54_000 && delay <= 66_000 && Number.isInteger(delay))) t.fail(`out of bounds: ${delay}`)
  }
  t.equal(
    nextAttemptDelay(1, [0], () => 0),
    0,
    'never below 0',
  )
  t.equal(
    nextAttemptDelay(9, DEFAULT_CALLBACK_SCHEDULE_MS, () => 0.5),
    24 * H,
    'last default wait',
  )
})

t.test('nextAttemptDelay gives null once the schedule is exhausted', async (t) => {
  t.equal(nextAttemptDelay(4, [1000, 2000, 3000]), null)
  t.equal(nextAttemptDelay(10, DEFAULT_CALLBACK_SCHEDULE_MS), null, 'dead letter after 10 attempts')
  t.equal(nextAttemptDelay(1, []), null)
  t.throws(() => nextAttemptDelay(0, [1000]), RangeError)
  t.throws(() => nextAttemptDelay(1.5, [1000]), /attempt must be an integer ≥ 1/)
})

t.test('retryAfterMs reads delta-seconds', async (t) => {
  const now = new Date('2026-01-01T00:00:00Z')
  t.equal(retryAfterMs('120', now), 120_000)
  t.equal(retryAfterMs(' 120 ', now), 120_000)
  t.equal(retryAfterMs('0', now), 0)
  t.equal(retryAfterMs(['30', '60'], now), 30_000, 'first of repeated headers')
  t.equal(retryAfterMs('86400', now), D)
  t.equal(retryAfterMs('86401', now), D, 'capped at 24 h')
  t.equal(retryAfterMs('99999999999999999999', now), D)
  for (const invalid of [undefined, '', '  ', [], '-5', '1.5', '5s', 'soon', '0x10', '1e3']) {
    t.equal(retryAfterMs(invalid, now), null, JSON.stringify(invalid))
  }
})

t.test('retryAfterMs reads HTTP-dates', async (t) => {
  const now = new Date('1994-11-06T08:48:07Z')
  t.equal(retryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', now), 90_000, 'IMF-fixdate')
  t.equal(retryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now), 90_000, 'obsolete RFC 850')
  t.equal(retryAfterMs('Sun Nov  6 08:49:37 1994', now), 90_000, 'obsolete asctime, UTC')
  t.equal(retryAfterMs('Sun, 06 Nov 1994 08:00:00 GMT', now), 0, 'a past date means now')
  t.equal(retryAfterMs('Tue, 08 Nov 1994 08:49:37 GMT', now), D, 'capped at 24 h')
  for (const invalid of [
    'Sun, 06 Nov 1994 08:49:37 CET',
    '1994-11-06T08:49:37Z',
    'Sun, 06 Nov 1994 25:49:37 GMT',
    'Sun, 32 Nov 1994 08:49:37 GMT',
    'tomorrow',
  ]) {
    t.equal(retryAfterMs(invalid, now), null, invalid)
  }
})

t.test('classifyResponse', async (t) => {
  const table: [number, ReturnType<typeof classifyResponse>][] = [
    [200, 'success'],
    [201, 'success'],
    [204, 'success'],
    [299, 'success'],
    [410, 'gone'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [599, 'retry'],
    [400, 'permanent'],
    [401, 'permanent'],
    [403, 'permanent'],
    [404, 'permanent'],
    [405, 'permanent'],
    [413, 'permanent'],
    [499, 'permanent'],
    [300, 'permanent'],
    [301, 'permanent'],
    [302, 'permanent'],
    [307, 'permanent'],
    [308, 'permanent'],
    [100, 'retry'],
    [199, 'retry'],
    [600, 'retry'],
    [0, 'retry'],
  ]
  for (const [status, expected] of table) t.equal(classifyResponse(status), expected, String(status))
})
