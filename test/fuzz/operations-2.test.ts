// The malformed-input fault drill (test/fuzz/fuzz.ts), part 2/3: every third operation of openapi/openapi.json, from the second.
process.env.FUZZ_PART = '2/3'
await import('./fuzz.js')
