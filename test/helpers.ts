// The test support of every test file. It lives in test/support/ (shared with bench/ and its drills);
// this module keeps the names test files have always imported from here.
export {
  ADMIN_TOKEN,
  admin,
  buildTestApp,
  call,
  createKeys,
  SERVICE,
  sameSigningAs,
  type TestApp,
} from './support/app.js'
export { manualClock } from './support/clock.js'
export { createTestDatabase, TEST_SECRET, usingPostgres } from './support/database.js'
export { type Keys, signedHeaders } from './support/signing.js'
