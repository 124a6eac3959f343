import smpp from 'smpp'
import { type Encoding, isGsm7, splitIntoParts } from '../sending/encoding.js'
import { type Pdu, STATUS } from './session.js'

/**
 * The text of submit_sm / deliver_sm: data_coding, the user data header of concatenated parts, and
 * the bytes. GSM 03.38 goes one character per byte (unpacked septets, an extension character as
 * ESC + character), as OVH's specification says; UCS2 is UTF-16 big-endian.
 */

export const DATA_CODING = { SMSC_DEFAULT: 0x00, IA5: 0x01, LATIN1: 0x03, BINARY: 0x04, UCS2: 0x08 } as const

const ESM_UDHI = 0x40
/** The bits of esm_class that say "this is a delivery receipt" (SMPP 3.4 §5.2.12). */
export const ESM_RECEIPT = 0x04

/** One part of a concatenated message, from its user data header. */
export type Concatenation = { reference: number; total: number; sequence: number }

export type DecodedText =
  | { ok: true; text: string; encoding: Encoding; concatenation: Concatenation | null }
  | { ok: false; status: number; reason: string }

/** The concatenation information element (8-bit 0x00 or 16-bit 0x08 reference) of a UDH, if any. */
function concatenationOf(udh: Buffer): Concatenation | null {
  let at = 1
  while (at + 1 < udh.length) {
    const id = udh[at] as number
    const length = udh[at + 1] as number
    const data = udh.subarray(at + 2, at + 2 + length)
    if (id === 0x00 && length === 3) return { reference: data[0]!, total: data[1]!, sequence: data[2]! }
    if (id === 0x08 && length === 4)
      return { reference: data.readUInt16BE(0), total: data[2]!, sequence: data[3]! }
    at += 2 + length
  }
  return null
}

/**
 * The text a submit_sm or deliver_sm carries (short_message, else message_payload), or the status
 * that refuses it: a data coding we do not take (OVH's ESME_RUNSDATACODING), bytes that are not
 * GSM 03.38 (ESME_RINVGSM7CODING), a malformed header (ESME_RINVMSGLEN).
 */
export function decodeText(pdu: Pdu): DecodedText {
  const dataCoding = Number(pdu.data_coding ?? 0)
  const raw = rawBytes(pdu)
  let body = raw
  let concatenation: Concatenation | null = null
  if (Number(pdu.esm_class ?? 0) & ESM_UDHI) {
    const length = raw[0]
    if (length === undefined || length + 1 > raw.length) {
      return {
        ok: false,
        status: STATUS.ESME_RINVMSGLEN,
        reason: 'the user data header is longer than the message',
      }
    }
    concatenation = concatenationOf(raw.subarray(0, length + 1))
    body = raw.subarray(length + 1)
  }
  if (
    concatenation &&
    (concatenation.total === 0 ||
      concatenation.sequence === 0 ||
      concatenation.sequence > concatenation.total)
  ) {
    return {
      ok: false,
      status: STATUS.ESME_RINVMSGLEN,
      reason: 'the concatenation header numbers its part wrongly',
    }
  }
  switch (dataCoding) {
    case DATA_CODING.SMSC_DEFAULT:
    case DATA_CODING.IA5: {
      if (body.some((byte) => byte > 0x7f)) {
        return { ok: false, status: STATUS.ESME_RINVGSM7CODING, reason: 'a byte above 0x7f is not GSM 03.38' }
      }
      return { ok: true, text: smpp.gsmCoder.decode(body), encoding: '7bits', concatenation }
    }
    case DATA_CODING.LATIN1: {
      const text = body.toString('latin1')
      return { ok: true, text, encoding: isGsm7(text) ? '7bits' : 'unicode', concatenation }
    }
    case DATA_CODING.UCS2: {
      if (body.length % 2 !== 0) {
        return { ok: false, status: STATUS.ESME_RINVMSGLEN, reason: 'UCS2 text of an odd number of bytes' }
      }
      const swapped = Buffer.from(body)
      swapped.swap16()
      return { ok: true, text: swapped.toString('utf16le'), encoding: 'unicode', concatenation }
    }
    default: {
      // GSM 03.38 data coding schemes that also carry a message class (flash…): the same alphabets.
      const alphabet = alphabetWithClass(dataCoding)
      if (alphabet !== null && alphabet !== DATA_CODING.BINARY) {
        return decodeText({ ...pdu, data_coding: alphabet } as Pdu)
      }
      return {
        ok: false,
        status: STATUS.ESME_RUNSDATACODING,
        reason: `data_coding 0x${dataCoding.toString(16)} is not supported (0 or 1: GSM 03.38, 3: Latin-1, 8: UCS2)`,
      }
    }
  }
}

/** sms.ClassEnum → the GSM message class (0 flash, 1 phone, 2 SIM, 3 toolkit / terminal equipment). */
const MESSAGE_CLASS: Record<string, number> = { flash: 0, phoneDisplay: 1, sim: 2, toolkit: 3 }

/**
 * The data_coding of a text with a message class, as GSM 03.38 writes it (Kannel does the same):
 * 7-bit 0xF0 + class, UCS2 0x18 + class; without a class, SMPP's plain codes (0 and 8).
 */
export function dataCodingOf(encoding: Encoding, messageClass: string | null): number {
  const cls = messageClass === null ? undefined : MESSAGE_CLASS[messageClass]
  if (cls === undefined) return encoding === '7bits' ? DATA_CODING.SMSC_DEFAULT : DATA_CODING.UCS2
  return encoding === '7bits' ? 0xf0 | cls : 0x18 | cls
}

/** The alphabet (as SMPP's plain code) of a GSM 03.38 coding scheme with a message class, else null. */
function alphabetWithClass(dataCoding: number): number | null {
  if ((dataCoding & 0xf0) === 0xf0) return dataCoding & 0x04 ? DATA_CODING.BINARY : DATA_CODING.SMSC_DEFAULT
  if ((dataCoding & 0xf0) === 0x10) {
    return (
      [DATA_CODING.SMSC_DEFAULT, DATA_CODING.BINARY, DATA_CODING.UCS2, null][(dataCoding >> 2) & 3] ?? null
    )
  }
  return null
}

/** short_message, or message_payload when short_message is empty, as the bytes received. */
function rawBytes(pdu: Pdu): Buffer {
  const bytes = (value: unknown) => (Buffer.isBuffer(value) && value.length > 0 ? value : null)
  return bytes(pdu.short_message) ?? bytes(pdu.message_payload) ?? Buffer.alloc(0)
}

/** The fields that carry one part of a text: data_coding, esm_class's UDH bit, the bytes. */
export type EncodedPart = { data_coding: number; esm_class: number; short_message: Buffer }

/**
 * The submit_sm (or deliver_sm) bodies that carry a text: one when it fits a single SMS, else one
 * per part with an 8-bit concatenation header under `reference`; with a message class (sms.ClassEnum)
 * in data_coding when one is given.
 */
export function encodeText(
  text: string,
  encoding: Encoding,
  reference: number,
  messageClass: string | null = null,
): EncodedPart[] {
  const parts = splitIntoParts(text, encoding)
  const dataCoding = dataCodingOf(encoding, messageClass)
  const bytesOf = (part: string) => {
    if (encoding === '7bits') return smpp.gsmCoder.encode(part)
    const bytes = Buffer.from(part, 'utf16le')
    bytes.swap16()
    return bytes
  }
  if (parts.length === 1) {
    return [{ data_coding: dataCoding, esm_class: 0, short_message: bytesOf(text) }]
  }
  return parts.map((part, i) => ({
    data_coding: dataCoding,
    esm_class: ESM_UDHI,
    short_message: Buffer.concat([
      Buffer.from([0x05, 0x00, 0x03, reference & 0xff, parts.length, i + 1]),
      bytesOf(part),
    ]),
  }))
}
