import t from 'tap'
import { RoutingTable } from '../../src/carrier/router.js'
import { ConfigError, loadConfig } from '../../src/config.js'

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error(`no ConfigError for ${JSON.stringify(env)}`)
}

t.test('unset: the simulator takes every receiver', async (t) => {
  t.same(loadConfig({}).carriers, [{ kind: 'simulator', name: 'simulator', prefixes: [], default: true }])
})

t.test('CARRIER_URL: one SMPP carrier, the default, with its options', async (t) => {
  const [carrier] = loadConfig({
    CARRIER_URL:
      'smpps://acme%40eu:p%3Ass@smsc.example.net:3551?bind=transmitter%2Breceiver&window=20&throughput=50' +
      '&systemType=VMA&sourceTon=5&sourceNpi=0&binds=2&enquireLinkS=15&registeredDelivery=1',
  }).carriers
  t.same(carrier, {
    kind: 'smpp',
    name: 'upstream',
    prefixes: [],
    default: true,
    host: 'smsc.example.net',
    port: 3551,
    tls: true,
    systemId: 'acme@eu',
    password: 'p:ss',
    bind: 'transmitter+receiver',
    window: 20,
    throughput: 50,
    systemType: 'VMA',
    sourceTon: 5,
    sourceNpi: 0,
    binds: 2,
    enquireLinkS: 15,
    registeredDelivery: 1,
    reconnectS: 1,
    timeoutS: 10,
    tlsCa: null,
  })
  const [plain] = loadConfig({ CARRIER_URL: 'smpp://id:pw@[::1]' }).carriers
  t.match(plain, { host: '::1', port: 2775, tls: false, window: 10, throughput: 0, bind: 'transceiver' })
})

t.test('CARRIERS: names, prefixes (longest wins), one default, the simulator among them', async (t) => {
  const carriers = loadConfig({
    CARRIERS: JSON.stringify([
      { name: 'fr', url: 'smpp://fr:pw@127.0.0.1:2775', prefixes: ['33', '+262'] },
      { name: 'fr-mobile', url: 'smpp://frm:pw@127.0.0.1:2776', prefixes: ['336'] },
      { name: 'sim', url: 'simulator:', prefixes: ['3399'], default: true },
    ]),
  }).carriers
  t.same(
    carriers.map((c) => [c.name, c.kind, c.prefixes, c.default]),
    [
      ['fr', 'smpp', ['33', '262'], false],
      ['fr-mobile', 'smpp', ['336'], false],
      ['sim', 'simulator', ['3399'], true],
    ],
  )
  const table = new RoutingTable(carriers)
  t.equal(table.carrierFor('+33612345678'), 'fr-mobile', 'the longest prefix')
  t.equal(table.carrierFor('+33112345678'), 'fr')
  t.equal(table.carrierFor('+262262000000'), 'fr')
  t.equal(table.carrierFor('+33991234567'), 'sim')
  t.equal(table.carrierFor('+4477001234'), 'sim', 'the default')
  const noDefault = new RoutingTable(
    loadConfig({ CARRIERS: '[{"name":"fr","url":"smpp://a:b@h","prefixes":["33"]}]' }).carriers,
  )
  t.equal(noDefault.carrierFor('+4477001234'), null, 'no default: not routed')
})

t.test('a bad value names the carrier and the field, never the password', async (t) => {
  const password = 'Sup3rSecr'
  const url = (query: string) => `smpp://acme:${password}@127.0.0.1:2775?${query}`
  const entry = (fields: Record<string, unknown>) =>
    JSON.stringify([{ name: 'eu', default: true, ...fields }])
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ CARRIER_URL: url('window=0') }, /^CARRIER_URL: window must be an integer from 1 to 1000, got "0"/],
    [{ CARRIER_URL: url('bind=both') }, /^CARRIER_URL: bind must be transceiver or transmitter\+receiver/],
    [{ CARRIER_URL: url('throughput=-1') }, /^CARRIER_URL: throughput must be submits per second/],
    [{ CARRIER_URL: url('binds=100') }, /^CARRIER_URL: binds must be an integer from 1 to 32/],
    [{ CARRIER_URL: url('enquireLinkS=0') }, /^CARRIER_URL: enquireLinkS must be seconds/],
    [{ CARRIER_URL: url('windw=3') }, /^CARRIER_URL: option "windw" must be one of bind, window/],
    [{ CARRIER_URL: url('window=1&window=2') }, /^CARRIER_URL: window must be given once/],
    [{ CARRIER_URL: url('tlsCa=/etc/hostname') }, /^CARRIER_URL: tlsCa must be used with smpps:\/\/ only/],
    [{ CARRIER_URL: `http://acme:${password}@host` }, /^CARRIER_URL: url must be smpp:\/\/… or smpps:\/\//],
    [{ CARRIER_URL: `smpp://:${password}@host` }, /^CARRIER_URL: system ID must be 1 to 64 characters/],
    [{ CARRIER_URL: `smpp://acme:${password}@host/path` }, /^CARRIER_URL: url must be without a path/],
    [{ CARRIERS: `[{"name":"eu","url":"${url('')}"` }, /^CARRIERS: not valid JSON/],
    [{ CARRIERS: '{}' }, /^CARRIERS: expected a JSON list of 1 to 64 carriers/],
    [{ CARRIERS: entry({ url: url('window=x') }) }, /^CARRIERS: carrier "eu": window must be an integer/],
    [{ CARRIERS: entry({ url: 42 }) }, /^CARRIERS: carrier "eu": url must be smpp:\/\//],
    [{ CARRIERS: entry({ url: url(''), prefixes: ['33x'] }) }, /^CARRIERS: carrier "eu": prefixes must be/],
    [
      { CARRIERS: entry({ url: url(''), passwd: password }) },
      /^CARRIERS: carrier "eu": "passwd" must be absent/,
    ],
    [
      { CARRIERS: JSON.stringify([{ name: 'EU!', url: url('') }]) },
      /^CARRIERS: carrier #1: name must be 1 to 32 lower-case letters/,
    ],
    [
      { CARRIERS: JSON.stringify([{ name: 'eu', url: url('') }]) },
      /^CARRIERS: carrier "eu": prefixes must be given \(at least one\) unless the carrier is the default/,
    ],
    [
      {
        CARRIERS: JSON.stringify([
          { name: 'a', url: url(''), default: true },
          { name: 'b', url: url(''), default: true },
        ]),
      },
      /^CARRIERS: carrier "b": default must be false: "a" is already the default/,
    ],
    [
      {
        CARRIERS: JSON.stringify([
          { name: 'a', url: url(''), prefixes: ['33'] },
          { name: 'b', url: url(''), prefixes: ['+33'] },
        ]),
      },
      /^CARRIERS: carrier "b": prefixes must be distinct: 33 is already routed to "a"/,
    ],
    [
      {
        CARRIERS: JSON.stringify([
          { name: 'a', url: url(''), default: true },
          { name: 'a', url: url(''), prefixes: ['44'] },
        ]),
      },
      /^CARRIERS: carrier "a": name must be unique/,
    ],
    [
      { CARRIERS: entry({ url: url('') }), CARRIER_URL: url('') },
      /^CARRIER_URL: set CARRIERS or CARRIER_URL, not both/,
    ],
  ]
  for (const [env, expected] of cases) {
    const error = configError(env)
    t.match(error.message, expected, error.message)
    t.notMatch(error.message, password, 'the password is not in the message')
  }
})
