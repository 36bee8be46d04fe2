/**
 * Signed-note Ed25519 keys: `name+keyid+base64(0x01||public key)` (verifier) and
 * `PRIVATE+KEY+name+keyid+base64(0x01||seed)` (signer), the formats Go's sumdb and the transparency
 * tooling use. Parsing is canonical (lowercase key ID, canonical base64, no surrounding space), so
 * one key has exactly one spelling and `verifierKey` always equals the string it was read from.
 * Signing and verifying run in node:crypto (OpenSSL), with the KeyObject built once per key.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LightproofError } from '../core/errors.js';

/** The signature type byte c2sp.org/signed-note assigns to Ed25519. */
const ALG_ED25519 = 0x01;
/** DER headers that turn a raw 32-byte Ed25519 key into SPKI / PKCS#8 (RFC 8410). */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const utf8 = new TextEncoder();

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The matching verifier key, `name+keyid+base64`. */
  readonly verifierKey: string;
  sign(message: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly verifierKey: string;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export function noteError(code: string, message: string, details?: Record<string, unknown>): LightproofError {
  return new LightproofError(code, message, details ? { details } : {});
}

/** Key names are non-empty and hold no Unicode space and no '+' (the key-string separator). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\p{White_Space}+]/u.test(name) && firstBadChar(name, false) < 0;
}

export function checkName(name: string, what: string): void {
  if (!isValidKeyName(name)) {
    throw noteError(
      'LP_NOTE_BAD_NAME',
      `${what} '${printable(name)}' is not a valid key name; use a non-empty name without spaces, '+' or control characters, such as example.com/log.`,
    );
  }
}

/** keyId = first four bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key). */
export function noteKeyId(name: string, publicKey: Uint8Array): number {
  return keyIdOf(name, prefixed(publicKey));
}

export const hex8 = (id: number) => id.toString(16).padStart(8, '0');

export function noteVerifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name, 'The key name');
  if (publicKey.length !== 32) {
    throw noteError(
      'LP_NOTE_BAD_KEY',
      `An Ed25519 public key is 32 bytes, not ${publicKey.length}; pass the raw key.`,
    );
  }
  return `${name}+${hex8(noteKeyId(name, publicKey))}+${toBase64(prefixed(publicKey))}`;
}

export function generateNoteKey(name: string): { signerKey: string; verifierKey: string } {
  checkName(name, 'The key name');
  const seed = randomBytes(32);
  const verifierKey = noteVerifierKey(name, publicKeyOf(privateKeyOf(seed)));
  const id = verifierKey.split('+')[1]!;
  const signerKey = `PRIVATE+KEY+${name}+${id}+${toBase64(prefixed(seed))}`;
  seed.fill(0);
  return { signerKey, verifierKey };
}

export function noteSigner(signerKey: string): NoteSigner {
  const bad = (why: string) =>
    noteError(
      'LP_NOTE_BAD_KEY',
      `The signer key is not a signed-note Ed25519 private key (${why}); expected PRIVATE+KEY+<name>+<8 lowercase hex>+<base64>.`,
    );
  if (typeof signerKey !== 'string' || signerKey.length > 1024) throw bad('not a short string');
  const parts = chop(signerKey, 4);
  if (parts?.[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw bad('it does not start PRIVATE+KEY+');
  const [, , name, id, b64] = parts as [string, string, string, string, string];
  const key = decodeKeyFields(name, id, b64, bad);
  if (key[0] !== ALG_ED25519) throw bad('the key type byte is not 0x01 (Ed25519)');
  if (key.length !== 33) throw bad('the key is not a 32-byte Ed25519 seed');
  const seed = key.subarray(1);
  const privateKey = privateKeyOf(seed);
  key.fill(0);
  const publicKey = publicKeyOf(privateKey);
  if (noteKeyId(name, publicKey) !== Number.parseInt(id, 16)) throw bad('the key ID does not match the key');
  return new Ed25519Signer(name, privateKey, publicKey);
}

/** Holds the key in a private field, so neither logging nor JSON.stringify can show it. */
class Ed25519Signer implements NoteSigner {
  readonly #key: KeyObject;
  readonly keyId: number;
  readonly verifierKey: string;

  constructor(
    readonly name: string,
    privateKey: KeyObject,
    publicKey: Uint8Array,
  ) {
    this.#key = privateKey;
    this.keyId = noteKeyId(name, publicKey);
    this.verifierKey = noteVerifierKey(name, publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(cryptoSign(null, message, this.#key));
  }
}

export function noteVerifier(verifierKey: string): NoteVerifier {
  const bad = (why: string) =>
    noteError(
      'LP_NOTE_BAD_KEY',
      `'${printable(String(verifierKey))}' is not a signed-note Ed25519 verifier key (${why}); expected <name>+<8 lowercase hex>+<base64>, e.g. the contents of log.pub.`,
    );
  if (typeof verifierKey !== 'string' || verifierKey.length > 1024) throw bad('not a short string');
  const parts = chop(verifierKey, 2);
  if (!parts) throw bad('it needs three +-separated fields');
  const [name, id, b64] = parts as [string, string, string];
  const key = decodeKeyFields(name, id, b64, bad);
  const keyId = Number.parseInt(id, 16);
  if (keyIdOf(name, key) !== keyId) throw bad('the key ID does not match the key');
  if (key[0] !== ALG_ED25519) {
    throw bad(`the key type byte 0x${key[0]!.toString(16).padStart(2, '0')} is not Ed25519 (0x01)`);
  }
  if (key.length !== 33) throw bad('the key is not 32 bytes');
  checkPoint(key.subarray(1), bad);
  const publicKey = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, key.subarray(1)]),
    format: 'der',
    type: 'spki',
  });
  return {
    name,
    keyId,
    // Canonical parsing above means the input is the one spelling of this key.
    verifierKey,
    // OpenSSL's check, as Go's crypto/ed25519: S below the group order, [S]B - [k]A encodes to R.
    verify: (message, signature) =>
      signature.length === 64 && cryptoVerify(null, message, publicKey, signature),
  };
}

/**
 * RFC 8032's point rules, checked once per key rather than per signature: OpenSSL would take a
 * non-canonical encoding, and a small-order key verifies signatures anyone can make.
 */
function checkPoint(publicKey: Uint8Array, bad: (why: string) => LightproofError): void {
  let point: InstanceType<typeof ed25519.Point>;
  try {
    point = ed25519.Point.fromBytes(publicKey, false);
  } catch {
    throw bad('the key is not a canonically encoded Ed25519 point');
  }
  if (point.isSmallOrder()) throw bad('the key is a small-order point, which would verify forged signatures');
}

function privateKeyOf(seed: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function publicKeyOf(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/** The key ID over the key bytes as the key string holds them, type byte first (Go's keyHash). */
function keyIdOf(name: string, key: Uint8Array): number {
  const n = utf8.encode(name);
  const buf = new Uint8Array(n.length + 1 + key.length);
  buf.set(n, 0);
  buf[n.length] = 0x0a;
  buf.set(key, n.length + 1);
  return new DataView(sha256(buf).buffer).getUint32(0);
}

function decodeKeyFields(
  name: string,
  id: string,
  b64: string,
  bad: (why: string) => LightproofError,
): Uint8Array {
  if (!isValidKeyName(name)) throw bad('the name is empty or holds a space, + or control character');
  if (!/^[0-9a-f]{8}$/.test(id)) throw bad('the key ID is not 8 lowercase hex digits');
  const key = fromBase64(b64);
  if (!key) throw bad('the key is not canonical standard base64');
  return key;
}

/** Splits at the first `count` '+' signs; the last field (base64) may itself hold '+'. */
function chop(s: string, count: number): string[] | undefined {
  const out: string[] = [];
  let rest = s;
  for (let i = 0; i < count; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return undefined;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

/** Index of the first character below U+0020 (a newline only if not allowed) or lone surrogate; -1 if none. */
export function firstBadChar(s: string, newlineAllowed: boolean): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) {
      if (c === 0x0a && newlineAllowed) continue;
      return i;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

function printable(s: string): string {
  let out = '';
  for (const ch of s.slice(0, 80)) out += ch.charCodeAt(0) < 0x20 || ch === '\u007f' ? '?' : ch;
  return out;
}

function prefixed(key: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(ALG_ED25519), key);
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/** Standard base64 with padding, canonical only: Buffer's decoder would accept almost anything. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const bytes = new Uint8Array(Buffer.from(s, 'base64'));
  return toBase64(bytes) === s ? bytes : undefined;
}
