/** Source of the current time; tests inject their own. */
export type Clock = { now(): Date }
export const systemClock: Clock = { now: () => new Date() }
