/**
 * Credits travel as OVH's `double` on the wire and are stored as integer hundredths, so no sum ever
 * drifts. Conversion happens only here.
 */
export const toHundredths = (credits: number): number => Math.round(credits * 100)
export const fromHundredths = (hundredths: number): number => hundredths / 100

/**
 * The most credits one amount may carry (1e9): its hundredths stay exact in a double and far from
 * the bigint columns' limit, so sums of them neither drift nor overflow.
 */
export const MAX_CREDITS = 1_000_000_000

/** True when the value has at most two decimals (0.01 credit is the smallest unit we keep). */
export const hasAtMostTwoDecimals = (credits: number): boolean =>
  Math.abs(credits * 100 - Math.round(credits * 100)) < 1e-6
