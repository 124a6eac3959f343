// The malformed-input fault drill (test/fuzz/fuzz.ts), part 3/3: every third operation of openapi/openapi.json, from the third.
process.env.FUZZ_PART = '3/3'
await import('./fuzz.js')
