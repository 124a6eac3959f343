/**
 * SMS length arithmetic: which encoding a message needs, how many characters it costs and how many
 * parts (SMS) it is sent as. Pure functions, no dependencies.
 *
 * - 7-bit (GSM 03.38 default alphabet): 160 septets in a single SMS, 153 per part once concatenated
 *   (the user data header takes 7). Characters of the extension table are sent as ESC + char and cost
 *   2 septets; an escape pair is never cut between two parts.
 * - Unicode (UCS-2): 70 UTF-16 code units in a single SMS, 67 per part. A character outside the Basic
 *   Multilingual Plane (an emoji…) is a surrogate pair: it costs 2 and, like an escape pair, is never
 *   cut between two parts.
 * - Commercial messages (`noStopClause: false`) get OVH's STOP mention appended, which costs
 *   {@link STOP_CLAUSE_LENGTH} characters. That is where the figures of OVH's guide come from:
 *   160 − 11 = 149 characters for a one-part 7-bit message, 70 − 11 = 59 for a Unicode one. (The
 *   guide's "153 next" / "70" describe the raw part sizes; concatenated Unicode parts hold 67 code
 *   units like in every other implementation, so this module uses 153 / 67.)
 */

export type Encoding = '7bits' | 'unicode'

export type MessageAnalysis = {
  /** `7bits` when every character is in the GSM 03.38 alphabet (basic or extension), else `unicode`. */
  encoding: Encoding
  /**
   * Length of what is sent: septets (7-bit) or UTF-16 code units (Unicode), the STOP mention's
   * {@link STOP_CLAUSE_LENGTH} characters included when it applies. Counting the mention here keeps
   * `characters` comparable with `maxCharactersPerPart`, which is the raw capacity of a part.
   */
  characters: number
  /** Number of SMS the message is sent as; 0 for an empty message (callers reject empty messages). */
  parts: number
  /** Capacity of one part: 160 / 70 when the message fits in a single SMS, 153 / 67 when it is split. */
  maxCharactersPerPart: number
}

/** Characters the STOP mention of commercial messages costs. */
export const STOP_CLAUSE_LENGTH = 11

/**
 * The STOP mention appended to commercial messages unless STOP_MENTION says otherwise: a new line
 * and an instruction any receiver can follow (a reply STOP to the sender's number opts out, see
 * src/incoming/receive.ts). French rules want "STOP" and the short code that takes the reply:
 * set STOP_MENTION to "\nSTOP 36xxx" with your carrier's code.
 */
export const DEFAULT_STOP_MENTION = '\nReply STOP'

export const LIMITS = {
  '7bits': { single: 160, multipart: 153 },
  unicode: { single: 70, multipart: 67 },
} as const satisfies Record<Encoding, { single: number; multipart: number }>

/** GSM 03.38 default alphabet, in table order (0x00–0x7F); 0x1B (ESC) is not a character. */
export const GSM_BASIC_CHARACTERS: readonly string[] = [
  ...'@£$¥èéùìòÇ\nØø\rÅå',
  ...'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ',
  ...' !"#¤%&\'()*+,-./',
  ...'0123456789:;<=>?',
  ...'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§',
  ...'¿abcdefghijklmnopqrstuvwxyzäöñüà',
]

/** GSM 03.38 extension table: each is sent as ESC + character, 2 septets. */
export const GSM_EXTENSION_CHARACTERS: readonly string[] = [...'\f^{}\\[~]|€']

const BASIC = new Set(GSM_BASIC_CHARACTERS)
const EXTENSION = new Set(GSM_EXTENSION_CHARACTERS)

/** Septets a character costs in the GSM 7-bit alphabet: 1 (basic), 2 (extension) or null (not GSM). */
export function gsmSeptets(character: string): 1 | 2 | null {
  if (BASIC.has(character)) return 1
  if (EXTENSION.has(character)) return 2
  return null
}

/** True when the whole message can be sent in the GSM 7-bit alphabet. */
export function isGsm7(message: string): boolean {
  for (const character of message) if (gsmSeptets(character) === null) return false
  return true
}

/**
 * Encoding, length and number of parts of a message, as `POST /sms/estimate` reports them.
 * An empty message gives `parts: 0` (and `characters: 0`, without the STOP mention): there is
 * nothing to send, and callers reject it.
 */
export function analyse(message: string, options: { noStopClause: boolean }): MessageAnalysis {
  const encoding: Encoding = isGsm7(message) ? '7bits' : 'unicode'
  const limits = LIMITS[encoding]
  if (message === '') {
    return { encoding, characters: 0, parts: 0, maxCharactersPerPart: limits.single }
  }

  // Cost of each unsplittable unit, in order: a character (escape and surrogate pairs stay whole),
  // then the STOP mention, one unit per (GSM basic) character.
  const units: number[] = []
  for (const character of message) {
    units.push(encoding === '7bits' ? (gsmSeptets(character) as number) : character.length)
  }
  if (!options.noStopClause) for (let i = 0; i < STOP_CLAUSE_LENGTH; i++) units.push(1)

  const characters = units.reduce((sum, cost) => sum + cost, 0)
  if (characters <= limits.single) {
    return { encoding, characters, parts: 1, maxCharactersPerPart: limits.single }
  }
  let parts = 1
  let used = 0
  for (const cost of units) {
    if (used + cost > limits.multipart) {
      parts++
      used = 0
    }
    used += cost
  }
  return { encoding, characters, parts, maxCharactersPerPart: limits.multipart }
}

/**
 * The text cut into the parts it is sent as: itself when it fits one SMS, else chunks of at most
 * 153 septets / 67 UTF-16 code units, never cutting an escape pair or a surrogate pair — the same
 * arithmetic as `analyse`, so a message is sent in the number of parts it was charged for.
 */
export function splitIntoParts(text: string, encoding: Encoding): string[] {
  const limits = LIMITS[encoding]
  const characters = [...text]
  const cost = (character: string) => (encoding === '7bits' ? (gsmSeptets(character) ?? 1) : character.length)
  const total = characters.reduce((sum, character) => sum + cost(character), 0)
  if (total <= limits.single) return [text]
  const parts: string[] = []
  let current = ''
  let used = 0
  for (const character of characters) {
    if (used + cost(character) > limits.multipart) {
      parts.push(current)
      current = ''
      used = 0
    }
    current += character
    used += cost(character)
  }
  if (current !== '') parts.push(current)
  return parts
}

/**
 * What is wrong with a STOP mention, or null: it must cost exactly what `analyse` counts for it,
 * {@link STOP_CLAUSE_LENGTH} characters of the GSM 03.38 basic table (one septet and one UCS-2 code
 * unit each), so a message is sent in the parts it was charged for, whatever its encoding.
 */
export function stopMentionProblem(mention: string): string | null {
  const characters = [...mention]
  if (characters.length !== STOP_CLAUSE_LENGTH) {
    return `must be exactly ${STOP_CLAUSE_LENGTH} characters (the length OVH's pricing counts), got ${characters.length}`
  }
  const outside = characters.find((character) => !BASIC.has(character))
  if (outside !== undefined) {
    return `must use the GSM 03.38 basic characters only (no extension character, no Unicode), got ${JSON.stringify(outside)}`
  }
  return null
}

/**
 * The text the phone receives: the message, and the STOP mention after it unless `noStopClause`.
 * The one place the mention is added; `analyse` counts it, `splitIntoParts` cuts it like the rest.
 */
export function textAsSent(message: string, noStopClause: boolean, mention: string): string {
  return noStopClause ? message : `${message}${mention}`
}
