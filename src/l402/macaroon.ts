/**
 * Macaroons as go-macaroon writes them: V2 binary encoding and the HMAC-SHA256 signature chain
 * (root key derived with "macaroons-key-generator"). Written here because the npm `macaroon` package
 * (3.0.4, last released 2020) doubles its write buffer on every byte it appends, so exporting a
 * token with a few caveats asks for gigabytes (see src/l402/README.md). Only first-party caveats are
 * verified; a token with a third-party caveat is refused, as it needs discharges we never issue.
 */
import { timingSafeEqual } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LightproofError } from '../core/errors.js';

const KEY_GENERATOR = new TextEncoder().encode('macaroons-key-generator');
const FIELD_EOS = 0;
const FIELD_LOCATION = 1;
const FIELD_IDENTIFIER = 2;
const FIELD_VID = 4;
const FIELD_SIGNATURE = 6;
const MAX_FIELD_BYTES = 4096;

export interface Caveat {
  identifier: Uint8Array;
  /** Present only on third-party caveats. */
  verificationId?: Uint8Array;
  location?: string;
}

export class Macaroon {
  readonly location: string;
  readonly identifier: Uint8Array;
  readonly caveats: Caveat[];
  signature: Uint8Array;

  constructor(fields: {
    location: string;
    identifier: Uint8Array;
    caveats: Caveat[];
    signature: Uint8Array;
  }) {
    this.location = fields.location;
    this.identifier = fields.identifier;
    this.caveats = fields.caveats;
    this.signature = fields.signature;
  }

  static create(rootKey: Uint8Array, identifier: Uint8Array, location: string): Macaroon {
    return new Macaroon({ location, identifier, caveats: [], signature: rootSignature(rootKey, identifier) });
  }

  /** Adds a first-party caveat; anyone holding the macaroon may do this, and may only narrow it. */
  addFirstPartyCaveat(condition: string | Uint8Array): void {
    const id = typeof condition === 'string' ? new TextEncoder().encode(condition) : condition;
    this.caveats.push({ identifier: id });
    this.signature = hmac(sha256, this.signature, id);
  }

  /** The first-party caveat conditions as text, in order. */
  conditions(): string[] {
    return this.caveats.map((c) => new TextDecoder().decode(c.identifier));
  }

  /** True when the signature chain from ROOT_KEY over the identifier and caveats matches. */
  verifySignature(rootKey: Uint8Array): boolean {
    if (this.caveats.some((c) => c.verificationId)) return false;
    let sig = rootSignature(rootKey, this.identifier);
    for (const c of this.caveats) sig = hmac(sha256, sig, c.identifier);
    return sig.length === this.signature.length && timingSafeEqual(sig, this.signature);
  }

  clone(): Macaroon {
    return new Macaroon({
      location: this.location,
      identifier: this.identifier,
      caveats: this.caveats.map((c) => ({ ...c })),
      signature: this.signature,
    });
  }

  /** go-macaroon's V2 binary encoding. */
  toBinary(): Uint8Array {
    const out: number[] = [2];
    if (this.location) field(out, FIELD_LOCATION, new TextEncoder().encode(this.location));
    field(out, FIELD_IDENTIFIER, this.identifier);
    out.push(FIELD_EOS);
    for (const c of this.caveats) {
      if (c.location) field(out, FIELD_LOCATION, new TextEncoder().encode(c.location));
      field(out, FIELD_IDENTIFIER, c.identifier);
      if (c.verificationId && c.verificationId.length > 0) field(out, FIELD_VID, c.verificationId);
      out.push(FIELD_EOS);
    }
    out.push(FIELD_EOS);
    field(out, FIELD_SIGNATURE, this.signature);
    return Uint8Array.from(out);
  }

  static fromBinary(bytes: Uint8Array): Macaroon {
    const r = new Reader(bytes);
    const version = r.byte();
    if (version !== 2) {
      throw bad(
        version === 0x4d || version === 0x30
          ? 'it is a V1 (text) macaroon; L402 uses V2 binary'
          : `version byte ${version}`,
      );
    }
    let location = '';
    let f = r.fieldHeader();
    if (f === FIELD_LOCATION) {
      location = utf8(r.value());
      f = r.fieldHeader();
    }
    if (f !== FIELD_IDENTIFIER) throw bad('no identifier');
    const identifier = r.value();
    if (r.fieldHeader() !== FIELD_EOS) throw bad('unexpected field after the identifier');
    const caveats: Caveat[] = [];
    for (;;) {
      let t = r.fieldHeader();
      if (t === FIELD_EOS) break;
      const caveat: Caveat = { identifier: new Uint8Array() };
      if (t === FIELD_LOCATION) {
        caveat.location = utf8(r.value());
        t = r.fieldHeader();
      }
      if (t !== FIELD_IDENTIFIER) throw bad('a caveat has no identifier');
      caveat.identifier = r.value();
      t = r.fieldHeader();
      if (t === FIELD_VID) {
        caveat.verificationId = r.value();
        t = r.fieldHeader();
      }
      if (t !== FIELD_EOS) throw bad('a caveat does not end where it should');
      caveats.push(caveat);
      if (caveats.length > 256) throw bad('more than 256 caveats');
    }
    if (r.fieldHeader() !== FIELD_SIGNATURE) throw bad('no signature');
    const signature = r.value();
    if (signature.length !== 32) throw bad(`a ${signature.length}-byte signature`);
    if (!r.done()) throw bad('bytes after the signature');
    return new Macaroon({ location, identifier, caveats, signature });
  }
}

function rootSignature(rootKey: Uint8Array, identifier: Uint8Array): Uint8Array {
  return hmac(sha256, hmac(sha256, KEY_GENERATOR, rootKey), identifier);
}

function field(out: number[], type: number, data: Uint8Array): void {
  out.push(type);
  let n = data.length;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  for (const b of data) out.push(b);
}

function bad(why: string): LightproofError {
  return new LightproofError(
    'LP_L402_BAD_TOKEN',
    `The L402 token cannot be read (${why}); pay a new challenge.`,
    {
      status: 401,
    },
  );
}

function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('a location is not UTF-8');
  }
}

class Reader {
  #pos = 0;
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  done(): boolean {
    return this.#pos === this.#bytes.length;
  }
  byte(): number {
    if (this.#pos >= this.#bytes.length) throw bad('it ends too early');
    return this.#bytes[this.#pos++]!;
  }
  fieldHeader(): number {
    return this.byte();
  }
  value(): Uint8Array {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 28) throw bad('a length is too large');
      const b = this.byte();
      n |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (n > MAX_FIELD_BYTES || this.#pos + n > this.#bytes.length) throw bad('a field runs past the end');
    const v = this.#bytes.slice(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }
}
