// The malformed-input fault drill (test/fuzz/fuzz.ts), part rules: the narrow access rules property.
process.env.FUZZ_PART = 'rules'
await import('./fuzz.js')
