import { CsvError, parse } from 'csv-parse/sync'
import { badRequest } from '../errors.js'
import { MAX_SLOT_RECORDS } from './schema.js'

/**
 * The numbers of a receivers CSV: the first column of every record (`,` or `;` separated, quotes as
 * RFC 4180), a first line without a digit taken as a header, blank lines skipped. Numbers are kept
 * as written: invalid ones are reported at send time (invalidReceivers) or removed by clean. A file
 * that is not CSV, a record with an empty first column, or more than MAX_SLOT_RECORDS numbers → 400
 * naming the line.
 */
export function numbersOfCsv(text: string): string[] {
  const delimiter = firstLine(text).includes(';') && !firstLine(text).includes(',') ? ';' : ','
  let records: { record: string[]; info: { lines: number } }[]
  try {
    records = parse(text, {
      delimiter,
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[]
  } catch (error) {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines
      throw badRequest(
        `Invalid CSV${line ? ` at line ${line}` : ''}: ${error.message.replace(/^[^:]*: /, '')}`,
      )
    }
    throw error
  }
  const numbers: string[] = []
  for (const [index, { record, info }] of records.entries()) {
    const first = (record[0] ?? '').trim()
    if (index === 0 && !/\d/.test(first)) continue // a header such as "number"
    if (first === '') throw badRequest(`Invalid CSV at line ${info.lines}: the first column holds no number`)
    if (first.length > 32)
      throw badRequest(`Invalid CSV at line ${info.lines}: a number of more than 32 characters`)
    numbers.push(first)
    if (numbers.length > MAX_SLOT_RECORDS) {
      throw badRequest(`Invalid CSV at line ${info.lines}: more than ${MAX_SLOT_RECORDS} numbers in one list`)
    }
  }
  if (numbers.length === 0) throw badRequest('Invalid CSV: no number in the file')
  return numbers
}

function firstLine(text: string): string {
  const end = text.search(/\r?\n/)
  return end < 0 ? text : text.slice(0, end)
}
