import Fastify from 'fastify'
import t from 'tap'
import { installErrorHandlers } from '../src/errors.js'
import { Metrics, type QueueStats } from '../src/metrics/metrics.js'
import { metricsPlugin } from '../src/metrics/plugin.js'

type Tap = { teardown(fn: () => unknown): void }

async function bareApp(t: Tap, metrics: Metrics) {
  const app = Fastify({ logger: false })
  installErrorHandlers(app)
  await app.register(metricsPlugin, { metrics })
  app.get('/ping', async () => ({ pong: true }))
  await app.register(
    async (api) => {
      api.get('/sms/:serviceName/users/:login', async (request) => request.params)
    },
    { prefix: '/1.0' },
  )
  t.teardown(() => app.close())
  return app
}

async function scrape(app: Awaited<ReturnType<typeof bareApp>>) {
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  return { status: response.statusCode, type: response.headers['content-type'], text: response.body }
}

/** The value of one sample line, `name{labels} value`, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('HTTP requests are counted by route pattern, never by raw URL', async (t) => {
  const metrics = new Metrics()
  const app = await bareApp(t, metrics)
  t.equal((await app.inject('/ping')).statusCode, 200)
  t.equal((await app.inject('/ping?token=secret')).statusCode, 200)
  t.equal((await app.inject('/1.0/sms/sms-ab12345-1/users/alice?x=1')).statusCode, 200)
  t.equal((await app.inject('/1.0/sms/sms-ab12345-1/users/bob')).statusCode, 200)
  t.equal((await app.inject('/nowhere/secret-path?k=v')).statusCode, 404)

  const { status, type, text } = await scrape(app)
  t.equal(status, 200)
  t.equal(type, metrics.registry.contentType)
  t.match(type, /^text\/plain; version=0\.0\.4/)
  t.equal(sample(text, 'http_requests_total{method="GET",route="/ping",status="200"}'), 2)
  t.equal(
    sample(text, 'http_requests_total{method="GET",route="/1.0/sms/:serviceName/users/:login",status="200"}'),
    2,
  )
  t.equal(sample(text, 'http_requests_total{method="GET",route="(unmatched)",status="404"}'), 1)
  t.equal(
    sample(
      text,
      'http_request_duration_seconds_count{method="GET",route="/1.0/sms/:serviceName/users/:login",status="200"}',
    ),
    2,
  )
  t.equal(
    sample(text, 'http_request_duration_seconds_bucket{le="5",method="GET",route="/ping",status="200"}'),
    2,
  )
  for (const leak of ['secret', 'alice', 'bob', 'sms-ab12345-1', '?', 'nowhere']) {
    t.notOk(text.includes(leak), `no ${leak} in the exposition`)
  }

  // The scrape itself is counted once answered.
  t.equal(
    sample((await scrape(app)).text, 'http_requests_total{method="GET",route="/metrics",status="200"}'),
    1,
  )
})

t.test('DLR dispatcher metrics, with queue gauges read at scrape time', async (t) => {
  let stats: QueueStats = { due: 3, oldestDueAgeSeconds: 42.5 }
  let calls = 0
  const metrics = new Metrics({
    queueStats: async () => {
      calls++
      return stats
    },
  })
  const app = await bareApp(t, metrics)

  let { text } = await scrape(app)
  t.equal(calls, 1, 'one queueStats call for both gauges')
  t.equal(sample(text, 'sms_mirror_callback_queue_due'), 3)
  t.equal(sample(text, 'sms_mirror_callback_oldest_due_age_seconds'), 42.5)
  for (const outcome of ['success', 'retry', 'failed', 'gone', 'blocked']) {
    t.equal(sample(text, `sms_mirror_callback_deliveries_total{outcome="${outcome}"}`), 0, outcome)
  }
  t.equal(sample(text, 'sms_mirror_callback_attempts_total'), 0)
  t.equal(sample(text, 'sms_mirror_callback_attempt_duration_seconds_count'), 0)

  metrics.countCallbackDelivery('success')
  metrics.countCallbackDelivery('retry')
  metrics.countCallbackDelivery('retry')
  metrics.observeCallbackAttempt(0.2)
  metrics.observeCallbackAttempt(0.3)
  metrics.observeCallbackAttempt(0.3)
  stats = { due: 0, oldestDueAgeSeconds: 0 }
  ;({ text } = await scrape(app))
  t.equal(sample(text, 'sms_mirror_callback_deliveries_total{outcome="success"}'), 1)
  t.equal(sample(text, 'sms_mirror_callback_deliveries_total{outcome="retry"}'), 2)
  t.equal(sample(text, 'sms_mirror_callback_attempts_total'), 3)
  t.equal(sample(text, 'sms_mirror_callback_attempt_duration_seconds_count'), 3)
  t.equal(sample(text, 'sms_mirror_callback_attempt_duration_seconds_bucket{le="0.25"}'), 1)
  t.equal(sample(text, 'sms_mirror_callback_queue_due'), 0)
  t.equal(sample(text, 'sms_mirror_callback_oldest_due_age_seconds'), 0)
})

t.test('a failing queueStats keeps the last values and the scrape answers', async (t) => {
  let fail = false
  const errors: unknown[] = []
  const metrics = new Metrics({ onQueueStatsError: (error) => errors.push(error) })
  // Given after construction, as the dispatcher may be built after the metrics.
  metrics.setQueueStats(async () => {
    if (fail) throw new Error('database down')
    return { due: 7, oldestDueAgeSeconds: 12 }
  })
  const app = await bareApp(t, metrics)
  t.equal(sample((await scrape(app)).text, 'sms_mirror_callback_queue_due'), 7)

  fail = true
  const { status, text } = await scrape(app)
  t.equal(status, 200)
  t.equal(sample(text, 'sms_mirror_callback_queue_due'), 7)
  t.equal(sample(text, 'sms_mirror_callback_oldest_due_age_seconds'), 12)
  t.equal(errors.length, 1)
  t.match((errors[0] as Error).message, 'database down')
})

t.test('apps own separate registries; default metrics are optional', async (t) => {
  const a = new Metrics({ defaultMetrics: true })
  const b = new Metrics()
  const appA = await bareApp(t, a)
  const appB = await bareApp(t, b)
  await appA.inject('/ping')
  t.equal(
    sample((await scrape(appA)).text, 'http_requests_total{method="GET",route="/ping",status="200"}'),
    1,
  )
  const textB = (await scrape(appB)).text
  t.equal(sample(textB, 'http_requests_total{method="GET",route="/ping",status="200"}'), undefined)
  t.match((await scrape(appA)).text, /process_cpu_user_seconds_total/)
  t.notMatch(textB, /process_cpu_user_seconds_total/)
  t.equal(appA.metrics, a, 'decorated on the root instance')
})
