/**
 * The entries file: an 8-byte magic, then one framed record per leaf:
 *   u32 payload length | u64 leaf index | payload | u32 crc32 of everything before it in the record
 * (little-endian). It is the log's only source of truth; every other file is rebuilt from it.
 * A record carries its own index so that a record copied, dropped or replayed in the middle is caught.
 */
import { readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { LightproofError } from '../../core/errors.js';

export const ENTRIES_MAGIC = Buffer.from('LPLOGv1\n', 'latin1');
export const HEADER_BYTES = 12;
export const TRAILER_BYTES = 4;
export const FRAME_OVERHEAD = HEADER_BYTES + TRAILER_BYTES;
/** One entry is at most 1 MiB: a log holds receipts and decisions, not blobs. */
export const MAX_ENTRY_BYTES = 1 << 20;

/** Writes the frame of `payload` as leaf `index` into `out` at `at`; returns the offset after it. */
export function writeFrame(out: Buffer, at: number, index: number, payload: Uint8Array): number {
  out.writeUInt32LE(payload.length, at);
  out.writeUInt32LE(index % 2 ** 32, at + 4);
  out.writeUInt32LE(Math.floor(index / 2 ** 32), at + 8);
  out.set(payload, at + HEADER_BYTES);
  const end = at + HEADER_BYTES + payload.length;
  out.writeUInt32LE(crc32(out.subarray(at, end)), end);
  return end + TRAILER_BYTES;
}

export function corrupt(file: string, offset: number, what: string): LightproofError {
  return new LightproofError(
    'LP_LOG_CORRUPT',
    `${file} is corrupt at byte ${offset}: ${what}. The log refuses to append; restore the file from a backup or move the log aside`,
    { status: 500, details: { file, offset, reason: what } },
  );
}

/** Checks one whole frame (as read back) and returns its payload. */
export function parseFrame(frame: Buffer, index: number, file: string, offset: number): Buffer {
  const len = frame.readUInt32LE(0);
  if (len + FRAME_OVERHEAD !== frame.length)
    throw corrupt(file, offset, `record length ${len} does not match`);
  const got = frame.readUInt32LE(4) + frame.readUInt32LE(8) * 2 ** 32;
  if (got !== index) throw corrupt(file, offset, `record holds leaf ${got} where leaf ${index} belongs`);
  if (crc32(frame.subarray(0, HEADER_BYTES + len)) !== frame.readUInt32LE(HEADER_BYTES + len)) {
    throw corrupt(file, offset, `record of leaf ${index} fails its crc32`);
  }
  return frame.subarray(HEADER_BYTES, HEADER_BYTES + len);
}

export interface ScanResult {
  /** Byte offset after the last whole record. */
  end: number;
  count: number;
  /** Set when a tail that was never acknowledged (a record cut short) was found after `end`. */
  torn?: string;
}

const CHUNK = 8 << 20;
/** A bad record is read again this many times, this far apart, when a writer may be running. */
const REREADS = 5;
const REREAD_PAUSE_MS = 20;
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Reads every record from the magic to the end of the file, calling `onRecord` for each.
 * A bad record is a torn tail (never acknowledged, since appends resolve only after fdatasync)
 * when it runs past the end of the file, is the last record, or is followed only by zero bytes
 * (the preallocated space, or the rest of a batch whose write stopped inside this record);
 * anywhere else it is corruption.
 *
 * With `writerMayRun` (a read-only open, no lock held) a writer may be copying a batch into the
 * file while this reads it, and a read can see a later page of that batch before an earlier one.
 * So a bad record is read again a few times, a few milliseconds apart, before it counts as
 * corruption: the writer's copy into the page cache takes microseconds to milliseconds.
 */
export function scanEntries(
  fd: number,
  fileSize: number,
  file: string,
  onRecord: (index: number, offset: number, payload: Buffer, crc: number) => void,
  opts: { writerMayRun?: boolean } = {},
): ScanResult {
  const head = Buffer.alloc(ENTRIES_MAGIC.length);
  if (
    fileSize < head.length ||
    readSync(fd, head, 0, head.length, 0) !== head.length ||
    !head.equals(ENTRIES_MAGIC)
  ) {
    throw corrupt(file, 0, 'it does not start with the Lightproof log magic (LPLOGv1)');
  }
  let buf = Buffer.alloc(CHUNK);
  let bufStart = 0;
  let bufLen = 0;
  const load = (pos: number, need: number): void => {
    if (pos >= bufStart && pos + need <= bufStart + bufLen) return;
    if (need > buf.length) buf = Buffer.alloc(need);
    bufStart = pos;
    bufLen = 0;
    const want = Math.min(buf.length, fileSize - pos);
    while (bufLen < want) {
      const n = readSync(fd, buf, bufLen, want - bufLen, pos + bufLen);
      if (n === 0) break;
      bufLen += n;
    }
  };
  const zeroFrom = (pos: number): boolean => {
    for (let p = pos; p < fileSize; p += CHUNK) {
      const len = Math.min(CHUNK, fileSize - p);
      load(p, len);
      if (buf.subarray(p - bufStart, p - bufStart + len).some((b) => b !== 0)) return false;
    }
    return true;
  };
  let pos = ENTRIES_MAGIC.length;
  let count = 0;
  let rereads = 0;
  /** Whether to read the record at `pos` again rather than call it corrupt (see above). */
  const readAgain = (): boolean => {
    if (!opts.writerMayRun || rereads >= REREADS) return false;
    rereads++;
    Atomics.wait(PAUSE, 0, 0, REREAD_PAUSE_MS);
    bufLen = 0;
    return true;
  };
  while (pos < fileSize) {
    if (pos + HEADER_BYTES > fileSize) return { end: pos, count, torn: 'a record header cut short' };
    load(pos, HEADER_BYTES);
    const len = buf.readUInt32LE(pos - bufStart);
    const recordEnd = pos + len + FRAME_OVERHEAD;
    if (len > MAX_ENTRY_BYTES) {
      if (zeroFrom(pos)) return { end: pos, count, torn: 'zero bytes after the last record' };
      if (readAgain()) continue;
      throw corrupt(file, pos, `record length ${len} is more than the ${MAX_ENTRY_BYTES}-byte limit`);
    }
    if (recordEnd > fileSize) return { end: pos, count, torn: `a ${len}-byte record cut short` };
    load(pos, len + FRAME_OVERHEAD);
    const frame = buf.subarray(pos - bufStart, pos - bufStart + len + FRAME_OVERHEAD);
    let payload: Buffer;
    try {
      payload = parseFrame(frame, count, file, pos);
    } catch (err) {
      if (recordEnd === fileSize) return { end: pos, count, torn: 'the last record fails its crc32' };
      if (zeroFrom(recordEnd)) return { end: pos, count, torn: 'the last record is incomplete' };
      if (readAgain()) continue;
      throw err;
    }
    onRecord(count, pos, payload, frame.readUInt32LE(HEADER_BYTES + len));
    count++;
    rereads = 0;
    pos = recordEnd;
  }
  return { end: pos, count };
}
