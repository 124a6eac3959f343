// The committed OpenAPI document passes @redocly/cli lint (recommended rules, redocly.yaml) with no
// error; warnings (operationId, unused components) are reported, not failed. Telemetry off.
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { ROOT } from './support/paths.js'

t.test('redocly lint: no error', async (t) => {
  const result = spawnSync(
    'node_modules/.bin/redocly',
    ['lint', 'openapi/openapi.json', '--format', 'json'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', CI: 'true' },
    },
  )
  const report = JSON.parse(result.stdout) as {
    totals: { errors: number; warnings: number }
    problems: { ruleId: string; severity: string; message: string }[]
  }
  const errors = report.problems.filter((problem) => problem.severity === 'error')
  t.same(
    errors.map((e) => `${e.ruleId}: ${e.message}`),
    [],
    'no lint error',
  )
  t.equal(report.totals.errors, 0)
  t.equal(result.status, 0, result.stderr)
  t.comment(`warnings: ${report.totals.warnings}`)
})
