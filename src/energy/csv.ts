/**
 * A small RFC 4180 reader: quoted fields, doubled quotes, CRLF or LF, a UTF-8 BOM, and `#` comment
 * lines before the header (the sample data says it is synthetic there). Hand-written because ISO
 * downloads need nothing more, and a dependency would not give the line numbers errors must name.
 */
import { LightproofError } from '../core/errors.js';

export interface CsvRecord {
  /** 1-based line where the record starts, for error messages. */
  line: number;
  fields: string[];
}

/** Enough for a year of 1-minute prices with a few columns; ISO files for one node are far smaller. */
export const MAX_CSV_BYTES = 128 * 1024 * 1024;
const MAX_FIELDS = 256;
const MAX_FIELD_CHARS = 4096;

export function readCsv(text: string, source: string): CsvRecord[] {
  if (text.length > MAX_CSV_BYTES) {
    throw new LightproofError(
      'LP_ENERGY_CSV_FORMAT',
      `${source} is larger than ${MAX_CSV_BYTES / 1024 / 1024} MiB; split it or keep one node's prices.`,
    );
  }
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let headerSeen = false;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    if (!headerSeen && text[i] === '#') {
      while (i < n && text[i] !== '\n') i++;
      i++;
      line++;
      continue;
    }
    const fields: string[] = [];
    let field = '';
    for (;;) {
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) {
            throw new LightproofError(
              'LP_ENERGY_CSV_FORMAT',
              `${source}: line ${startLine}: a quoted field is never closed.`,
            );
          }
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
      }
      const from = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 44 || c === 10 || c === 13) break; // , \n \r
        i++;
      }
      if (i > from) field += text.slice(from, i);
      if (field.length > MAX_FIELD_CHARS) {
        throw new LightproofError(
          'LP_ENERGY_CSV_FORMAT',
          `${source}: line ${startLine}: a field is longer than ${MAX_FIELD_CHARS} characters; this is not a price file.`,
        );
      }
      fields.push(field.trim());
      field = '';
      if (fields.length > MAX_FIELDS) {
        throw new LightproofError(
          'LP_ENERGY_CSV_FORMAT',
          `${source}: line ${startLine}: more than ${MAX_FIELDS} columns; this is not a price file.`,
        );
      }
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    if (fields.length === 1 && fields[0] === '') continue;
    headerSeen = true;
    records.push({ line: startLine, fields });
  }
  return records;
}
