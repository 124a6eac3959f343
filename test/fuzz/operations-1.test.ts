// The malformed-input fault drill (test/fuzz/fuzz.ts), part 1/3: every third operation of openapi/openapi.json, from the first.
process.env.FUZZ_PART = '1/3'
await import('./fuzz.js')
