/**
 * Deeply nested JSON is refused before JSON.parse: the parser copes, but every recursive consumer
 * after it (schema validation, serialisation, JSON.stringify of a stored value) would overflow the
 * stack and answer 500. No body of this API needs more than a few levels.
 */
export const MAX_JSON_DEPTH = 32

const OPEN_OBJECT = 0x7b
const OPEN_ARRAY = 0x5b
const CLOSE_OBJECT = 0x7d
const CLOSE_ARRAY = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * True when JSON text opens more than `max` objects/arrays inside one another. One pass over the
 * text, brackets inside strings ignored; stops at the first level too deep. Malformed text is left
 * to JSON.parse.
 */
export function nestedDeeperThan(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
    }
  }
  return false
}
