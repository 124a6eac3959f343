import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify from 'fastify'
import t from 'tap'
import { installErrorHandlers } from '../../src/errors.js'
import { formatSchemaErrors } from '../../src/http/schema-errors.js'
import {
  analyse,
  GSM_BASIC_CHARACTERS,
  GSM_EXTENSION_CHARACTERS,
  gsmSeptets,
  isGsm7,
  STOP_CLAUSE_LENGTH,
} from '../../src/sending/encoding.js'
import { estimateModels, estimateRoutes } from '../../src/sending/estimate-routes.js'

const plain = { noStopClause: true }
const commercial = { noStopClause: false }
const a = (n: number) => 'a'.repeat(n)
const u = (n: number) => 'ê'.repeat(n)
const parts = (message: string, options = plain) => analyse(message, options).parts

t.test('GSM 03.38 alphabet', async (t) => {
  t.equal(GSM_BASIC_CHARACTERS.length, 127, '128 positions minus ESC')
  t.equal(new Set(GSM_BASIC_CHARACTERS).size, 127, 'no duplicates')
  for (const c of GSM_BASIC_CHARACTERS) t.equal(gsmSeptets(c), 1, `basic ${JSON.stringify(c)}`)
  t.same(GSM_EXTENSION_CHARACTERS, ['\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€'])
  for (const c of GSM_EXTENSION_CHARACTERS) {
    t.equal(gsmSeptets(c), 2, `extension ${JSON.stringify(c)}`)
    t.same(analyse(c, plain), { encoding: '7bits', characters: 2, parts: 1, maxCharactersPerPart: 160 })
  }
  t.ok(isGsm7(GSM_BASIC_CHARACTERS.join('') + GSM_EXTENSION_CHARACTERS.join('')))
  for (const c of '@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà \n\r') t.ok(isGsm7(c), JSON.stringify(c))
  for (const c of ['ç', 'ê', 'á', 'í', 'ó', 'ú', 'â', 'œ', 'È', 'À', '`', '\t', '\u00a0', '’', '😀', 'Ж']) {
    t.equal(gsmSeptets(c), null, `${JSON.stringify(c)} is not GSM`)
    t.equal(analyse(`Bonjour ${c}`, plain).encoding, 'unicode', `${JSON.stringify(c)} forces unicode`)
  }
})

t.test('7-bit boundaries without STOP mention', async (t) => {
  t.same(analyse(a(160), plain), { encoding: '7bits', characters: 160, parts: 1, maxCharactersPerPart: 160 })
  t.same(analyse(a(161), plain), { encoding: '7bits', characters: 161, parts: 2, maxCharactersPerPart: 153 })
  t.equal(parts(a(306)), 2)
  t.equal(parts(a(307)), 3)
  t.equal(parts(a(459)), 3)
  t.equal(parts(a(460)), 4)
})

t.test('unicode boundaries without STOP mention', async (t) => {
  t.same(analyse(u(70), plain), { encoding: 'unicode', characters: 70, parts: 1, maxCharactersPerPart: 70 })
  t.same(analyse(u(71), plain), { encoding: 'unicode', characters: 71, parts: 2, maxCharactersPerPart: 67 })
  t.equal(parts(u(134)), 2)
  t.equal(parts(u(135)), 3)
  t.same(analyse(`${a(69)}ê`, plain).encoding, 'unicode', 'one non-GSM char makes the whole message unicode')
  t.equal(analyse(`${'€'.repeat(69)}ê`, plain).characters, 70, 'extension chars cost 1 in unicode')
})

t.test('extension characters count 2 septets', async (t) => {
  t.same(analyse('€'.repeat(80), plain), {
    encoding: '7bits',
    characters: 160,
    parts: 1,
    maxCharactersPerPart: 160,
  })
  t.same(analyse('€'.repeat(81), plain), {
    encoding: '7bits',
    characters: 162,
    parts: 2,
    maxCharactersPerPart: 153,
  })
  t.equal(analyse(`${a(159)}{`, plain).characters, 161)
  t.equal(analyse(`${a(159)}{`, plain).parts, 2)
})

t.test('an escape pair never straddles two parts', async (t) => {
  // 152 + 2 would cut the escape at septet 153: the '€' moves to part 2.
  const straddling = `${a(152)}€${a(152)}`
  t.equal(analyse(straddling, plain).characters, 306, 'fits 2 × 153 by arithmetic')
  t.equal(parts(straddling), 3, 'but needs a third part once the escape moves')
  t.equal(parts(`${a(151)}€${a(153)}`), 2, 'the escape ending exactly at 153 stays in part 1')
  t.equal(parts(`${a(153)}€${a(151)}`), 2, 'the escape opening part 2')
  // 76 × '€' = 152 septets per part, not 153: 153 '€' (306 septets) need 3 parts.
  t.equal(parts('€'.repeat(153)), 3)
  t.equal(parts('€'.repeat(152)), 2)
})

t.test('STOP mention of commercial messages costs 11 characters', async (t) => {
  t.equal(STOP_CLAUSE_LENGTH, 11)
  t.same(analyse(a(149), commercial), {
    encoding: '7bits',
    characters: 160,
    parts: 1,
    maxCharactersPerPart: 160,
  })
  t.same(analyse(a(150), commercial), {
    encoding: '7bits',
    characters: 161,
    parts: 2,
    maxCharactersPerPart: 153,
  })
  t.equal(parts(a(295), commercial), 2)
  t.equal(parts(a(296), commercial), 3)
  t.same(analyse(u(59), commercial), {
    encoding: 'unicode',
    characters: 70,
    parts: 1,
    maxCharactersPerPart: 70,
  })
  t.same(analyse(u(60), commercial), {
    encoding: 'unicode',
    characters: 71,
    parts: 2,
    maxCharactersPerPart: 67,
  })
  t.equal(parts(u(123), commercial), 2)
  t.equal(parts(u(124), commercial), 3)
  t.equal(parts('€'.repeat(74), commercial), 1, '148 + 11 septets')
  t.equal(parts('€'.repeat(75), commercial), 2, '150 + 11 septets')
})

t.test('emoji count 2 UTF-16 code units and are never cut', async (t) => {
  t.same(analyse('😀', plain), { encoding: 'unicode', characters: 2, parts: 1, maxCharactersPerPart: 70 })
  t.equal(analyse('😀'.repeat(35), plain).parts, 1)
  t.equal(analyse('😀'.repeat(36), plain).parts, 2)
  t.equal(analyse('😀'.repeat(36), plain).characters, 72)
  // 66 + 2 would split the surrogate pair at unit 67: it moves to the next part.
  t.equal(parts(`${u(66)}😀${u(66)}`), 3)
  t.equal(parts(`${u(65)}😀${u(67)}`), 2)
})

t.test('empty message', async (t) => {
  t.same(analyse('', plain), { encoding: '7bits', characters: 0, parts: 0, maxCharactersPerPart: 160 })
  t.same(analyse('', commercial), { encoding: '7bits', characters: 0, parts: 0, maxCharactersPerPart: 160 })
})

t.test('POST /sms/estimate', async (t) => {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { verbose: true, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandlers(app)
  for (const model of estimateModels) app.addSchema(model)
  await app.register(estimateRoutes, { prefix: '/1.0' })
  t.teardown(() => app.close())

  const estimate = async (payload: unknown) => {
    const response = await app.inject({
      method: 'POST',
      url: '/1.0/sms/estimate',
      payload: payload as object,
    })
    return { status: response.statusCode, body: response.json() }
  }

  t.same(await estimate({ message: 'Hello', noStopClause: true, senderType: 'alpha' }), {
    status: 200,
    body: { characters: 5, charactersClass: '7bits', maxCharactersPerPart: 160, parts: 1 },
  })
  t.same(await estimate({ message: a(150), noStopClause: false, senderType: 'numeric' }), {
    status: 200,
    body: { characters: 161, charactersClass: '7bits', maxCharactersPerPart: 153, parts: 2 },
  })
  t.same(await estimate({ message: 'Très bien 😀', noStopClause: true, senderType: 'shortcode' }), {
    status: 200,
    body: { characters: 12, charactersClass: 'unicode', maxCharactersPerPart: 70, parts: 1 },
  })
  t.equal((await estimate({ message: a(5000), noStopClause: true, senderType: 'virtual' })).body.parts, 33)

  const error = async (payload: unknown) => {
    const { status, body } = await estimate(payload)
    t.equal(status, 400)
    t.equal(body.class, 'Client::BadRequest')
    return body.message
  }
  t.equal(await error({ noStopClause: true, senderType: 'alpha' }), 'Missing parameter: message')
  t.equal(await error({ message: 'hi', senderType: 'alpha' }), 'Missing parameter: noStopClause')
  t.equal(await error({ message: 'hi', noStopClause: true }), 'Missing parameter: senderType')
  t.equal(
    await error({ message: 'hi', noStopClause: true, senderType: 'sms' }),
    'Invalid senderType: expected one of alpha, numeric, shortcode, virtual',
  )
  t.equal(
    await error({ message: '', noStopClause: true, senderType: 'alpha' }),
    'Invalid message: expected a non-empty text of at most 5000 characters',
  )
  t.equal(
    await error({ message: a(5001), noStopClause: true, senderType: 'alpha' }),
    'Invalid message: expected a non-empty text of at most 5000 characters',
  )
  t.equal(
    await error({ message: 'hi', noStopClause: 'yes', senderType: 'alpha' }),
    'Invalid noStopClause: expected a boolean',
  )
  // Like every body of the app (fastify's removeAdditional), unknown fields are dropped, not refused.
  t.equal((await estimate({ message: 'hi', noStopClause: true, senderType: 'alpha', tag: 'x' })).status, 200)
})
