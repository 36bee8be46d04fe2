/**
 * The .ots primitives: unsigned LEB128 varuints and length-prefixed byte strings, read with the
 * limits python-opentimestamps applies (opentimestamps/core/serialize.py).
 */
import { NOT_A_PROOF, otsError } from './errors.js';

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  readBytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) {
      throw otsError(
        'LP_OTS_TRUNCATED',
        `The proof ends early: ${n} more bytes were expected at offset ${this.pos}. ${NOT_A_PROOF}`,
        { offset: this.pos },
      );
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  readByte(): number {
    return this.readBytes(1)[0]!;
  }

  /** Python puts no bound on a varuint; past 2^53 a JS number is no longer exact, so that is refused. */
  readVaruint(): number {
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.readByte();
      value += (b & 0x7f) * scale;
      if (!Number.isSafeInteger(value)) {
        throw otsError(
          'LP_OTS_VARUINT_RANGE',
          `The number at offset ${start} is larger than 2^53; no valid proof holds such a number. ${NOT_A_PROOF}`,
          { offset: start },
        );
      }
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
  }

  readVarbytes(maxLen: number, minLen = 0): Uint8Array {
    const start = this.pos;
    const len = this.readVaruint();
    if (len > maxLen || len < minLen) {
      throw otsError(
        'LP_OTS_BAD_LENGTH',
        `The length ${len} at offset ${start} is outside ${minLen}..${maxLen}. ${NOT_A_PROOF}`,
        { offset: start, length: len, min: minLen, max: maxLen },
      );
    }
    return this.readBytes(len);
  }

  atEnd(): boolean {
    return this.pos === this.buf.length;
  }

  assertEnd(what: string): void {
    if (!this.atEnd()) {
      throw otsError(
        'LP_OTS_TRAILING_BYTES',
        `${this.buf.length - this.pos} unexpected bytes follow the end of ${what} at offset ${this.pos}. ${NOT_A_PROOF}`,
        { offset: this.pos },
      );
    }
  }
}

export class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  writeBytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }

  writeByte(b: number): void {
    this.writeBytes(Uint8Array.of(b));
  }

  writeVaruint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varuint out of range: ${n}`);
    const out: number[] = [];
    let v = n;
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      out.push(b);
    } while (v > 0);
    this.writeBytes(Uint8Array.from(out));
  }

  writeVarbytes(b: Uint8Array): void {
    this.writeVaruint(b.length);
    this.writeBytes(b);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}
