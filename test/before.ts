// Runs once before the test files (`npm test` runs it between the build and tap): builds the migrated
// PGlite template every test database and every spawned server starts from (src/db/template.ts), so no
// test pays initdb. A test file run on its own builds it at its first database (test/support/database.ts).
import { ensureTemplate } from '../src/db/template.js'

await ensureTemplate()
