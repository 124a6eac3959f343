import type { Clock } from '../../src/clock.js'

/** A clock tests move by hand. */
export function manualClock(start = new Date('2026-11-26T12:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start.getTime()
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms
    },
  }
}
