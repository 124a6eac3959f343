// Runs once before the test files (tap's `before`): builds the migrated PGlite template every test
// database and every spawned server starts from (src/db/template.ts), so no test pays initdb.
import { ensureTemplate } from '../src/db/template.js'

await ensureTemplate()
