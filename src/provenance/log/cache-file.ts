/**
 * A file of fixed-size records derived from the entries file (leaf offsets, subtree hashes).
 * It is never fsynced on the append path: after a crash it may be short, long or stale, and
 * opening the log checks it against the entries and rewrites what differs.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { corrupt } from './frames.js';

export class CacheFile {
  private readonly fd: number;

  constructor(
    readonly path: string,
    readonly name: string,
  ) {
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  }

  /** Writes `bytes` at `pos`; in check mode only where the file differs. Returns whether it differed. */
  put(pos: number, bytes: Buffer, check: boolean): boolean {
    if (check) {
      const have = Buffer.alloc(bytes.length);
      const n = readSync(this.fd, have, 0, have.length, pos);
      if (n === bytes.length && have.equals(bytes)) return false;
    }
    for (let off = 0; off < bytes.length; )
      off += writeSync(this.fd, bytes, off, bytes.length - off, pos + off);
    return true;
  }

  read(pos: number, len: number): Buffer {
    const out = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, out, got, len - got, pos + got);
      if (n === 0) throw corrupt(this.name, pos + got, `the cache ends early; reopen the log to rebuild it`);
      got += n;
    }
    return out;
  }

  /** Cuts the file to `len` bytes; returns whether it was longer. */
  truncate(len: number): boolean {
    const longer = fstatSync(this.fd).size > len;
    if (longer) ftruncateSync(this.fd, len);
    return longer;
  }

  close(): void {
    closeSync(this.fd);
  }
}
