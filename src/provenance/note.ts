/**
 * C2SP signed notes (c2sp.org/signed-note, golang.org/x/mod/sumdb/note) with Ed25519 keys: a text
 * ending in a newline, a blank line, then one `— <key name> base64(key ID || signature)` line per
 * signature. Keys travel as `name+keyid+base64(0x01||public key)` (verifier) and
 * `PRIVATE+KEY+name+keyid+base64(0x01||seed)` (signer), the formats Go's sumdb and the transparency
 * tooling use, so a checkpoint signed here opens there and the other way round.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { LightproofError } from '../core/errors.js';

/** The signature type byte c2sp.org/signed-note assigns to Ed25519. */
const ALG_ED25519 = 0x01;
/** Go's sumdb refuses more; the spec asks verifiers to accept at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
/** Far above any checkpoint (a few hundred bytes) yet small enough to refuse junk before parsing it. */
export const MAX_NOTE_BYTES = 1024 * 1024;

const SIG_PREFIX = '\u2014 ';
const utf8 = new TextEncoder();
/** fatal: an invalid byte is refused; ignoreBOM: a leading U+FEFF stays part of the signed text. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The whole base64 field: key ID and signature. */
  readonly base64: string;
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  /** `name+keyid` of every known key whose signature verified, in note order. */
  readonly verifiedBy: string[];
  /** Signatures from keys the caller did not name; ignored, as the spec requires. */
  readonly unverified: NoteSignature[];
}

function noteError(code: string, message: string, details?: Record<string, unknown>): LightproofError {
  return new LightproofError(code, message, details ? { details } : {});
}

/** Key names are non-empty and hold no Unicode space and no '+' (the key-string separator). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\p{White_Space}+]/u.test(name) && firstBadChar(name, false) < 0;
}

function checkName(name: string, what: string): void {
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

const hex8 = (id: number) => id.toString(16).padStart(8, '0');

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
  const seed = ed25519.utils.randomSecretKey();
  const verifierKey = noteVerifierKey(name, ed25519.getPublicKey(seed));
  const id = verifierKey.split('+')[1]!;
  return { signerKey: `PRIVATE+KEY+${name}+${id}+${toBase64(prefixed(seed))}`, verifierKey };
}

export function noteSigner(signerKey: string): NoteSigner {
  const bad = (why: string) =>
    noteError(
      'LP_NOTE_BAD_KEY',
      `The signer key is not a signed-note Ed25519 private key (${why}); expected PRIVATE+KEY+<name>+<8 hex>+<base64>.`,
    );
  if (typeof signerKey !== 'string' || signerKey.length > 1024) throw bad('not a short string');
  const parts = chop(signerKey, 4);
  if (parts?.[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw bad('it does not start PRIVATE+KEY+');
  const [, , name, id, b64] = parts as [string, string, string, string, string];
  const key = decodeKeyFields(name, id, b64, bad);
  if (key.length !== 33 || key[0] !== ALG_ED25519) throw bad('not a 32-byte Ed25519 seed with type 0x01');
  const seed = key.slice(1);
  const publicKey = ed25519.getPublicKey(seed);
  if (noteKeyId(name, publicKey) !== Number.parseInt(id, 16)) throw bad('its key ID does not match the key');
  return new Ed25519Signer(name, seed, publicKey);
}

/** Holds the seed in a private field, so neither logging nor JSON.stringify can show it. */
class Ed25519Signer implements NoteSigner {
  readonly #seed: Uint8Array;
  readonly keyId: number;
  readonly verifierKey: string;

  constructor(
    readonly name: string,
    seed: Uint8Array,
    publicKey: Uint8Array,
  ) {
    this.#seed = seed;
    this.keyId = noteKeyId(name, publicKey);
    this.verifierKey = noteVerifierKey(name, publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed);
  }
}

export function noteVerifier(verifierKey: string): NoteVerifier {
  const bad = (why: string) =>
    noteError(
      'LP_NOTE_BAD_KEY',
      `'${printable(String(verifierKey))}' is not a signed-note Ed25519 verifier key (${why}); expected <name>+<8 hex>+<base64>, e.g. the contents of log.pub.`,
    );
  if (typeof verifierKey !== 'string' || verifierKey.length > 1024) throw bad('not a short string');
  const parts = chop(verifierKey.trim(), 2);
  if (!parts) throw bad('it needs three +-separated fields');
  const [name, id, b64] = parts as [string, string, string];
  const key = decodeKeyFields(name, id, b64, bad);
  if (keyIdOf(name, key) !== Number.parseInt(id, 16)) throw bad('its key ID does not match the key');
  if (key[0] !== ALG_ED25519) {
    throw bad(`signature type 0x${key[0]!.toString(16).padStart(2, '0')} is not Ed25519 (0x01)`);
  }
  if (key.length !== 33) throw bad('an Ed25519 key is 32 bytes');
  const publicKey = key.slice(1);
  const keyId = Number.parseInt(id, 16);
  const canonical = `${name}+${hex8(keyId)}+${b64}`;
  return {
    name,
    keyId,
    verifierKey: canonical,
    // RFC 8032's strict rules (no ZIP-215 leniency), as Go's crypto/ed25519 applies them.
    verify: (message, signature) =>
      signature.length === 64 && ed25519.verify(signature, message, publicKey, { zip215: false }),
  };
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
  if (!/^[0-9a-fA-F]{8}$/.test(id)) throw bad('the key ID is not 8 hex digits');
  const key = fromBase64(b64);
  if (!key || key.length === 0) throw bad('the key is not standard base64');
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

/** Signs `text` (which must end in a newline) with each signer, in order. */
export function signNote(text: string, signers: NoteSigner | readonly NoteSigner[]): string {
  const list = Array.isArray(signers) ? signers : [signers as NoteSigner];
  if (typeof text !== 'string' || !text.endsWith('\n')) {
    throw noteError('LP_NOTE_MALFORMED', 'A note text must end with a newline; add one before signing.');
  }
  checkNoteChars(text);
  if (list.length === 0) throw noteError('LP_NOTE_NO_SIGNER', 'Nothing to sign with; give at least one key.');
  const message = utf8.encode(text);
  let out = `${text}\n`;
  for (const s of list) {
    checkName(s.name, 'The signer name');
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, s.keyId >>> 0);
    out += `${SIG_PREFIX}${s.name} ${toBase64(concat(id, s.sign(message)))}\n`;
  }
  if (out.length > MAX_NOTE_BYTES) {
    throw noteError(
      'LP_NOTE_TOO_LARGE',
      `The signed note would exceed ${MAX_NOTE_BYTES} bytes; sign a shorter text.`,
    );
  }
  return out;
}

/**
 * Parses a signed note and verifies it against known keys. Signatures by other keys are ignored
 * (c2sp.org/signed-note: "verifiers MUST ignore signatures from unknown keys"); a known key's
 * signature that fails to verify rejects the whole note; at least one known key must have signed.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const msg = decodeNote(note);
  checkNoteChars(msg);
  const split = msg.lastIndexOf('\n\n');
  if (split < 0) {
    throw noteError(
      'LP_NOTE_MALFORMED',
      'The note has no blank line before its signatures; pass the whole signed note, signature lines included.',
    );
  }
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) {
    throw noteError(
      'LP_NOTE_MALFORMED',
      'The note must end with signature lines, each ending in a newline; the file may be truncated.',
    );
  }
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw noteError(
      'LP_NOTE_TOO_LARGE',
      `The note has ${lines.length} signature lines; at most ${MAX_NOTE_SIGNATURES} are read, so it is refused.`,
    );
  }
  const known = indexVerifiers(verifiers);
  const message = utf8.encode(text);
  const verifiedBy: string[] = [];
  const unverified: NoteSignature[] = [];
  const seenLines = new Set<string>();
  for (const [i, line] of lines.entries()) {
    const sig = parseSignatureLine(line, i + 1);
    if (seenLines.has(line)) continue;
    seenLines.add(line);
    const id = `${sig.name}+${hex8(sig.keyId)}`;
    const v = known.get(id);
    if (v === 'ambiguous') {
      throw noteError(
        'LP_NOTE_BAD_KEY',
        `Two different trusted keys are named ${id}; remove one of them from the trusted keys.`,
      );
    }
    if (!v) {
      unverified.push({ name: sig.name, keyId: sig.keyId, base64: sig.base64 });
      continue;
    }
    if (!v.verify(message, sig.raw.subarray(4))) {
      throw noteError(
        'LP_NOTE_BAD_SIGNATURE',
        `The signature by ${id} does not match the note text; the note was altered or signed by another key with the same name and ID. Do not trust it.`,
        { key: id, line: i + 1 },
      );
    }
    if (!verifiedBy.includes(id)) verifiedBy.push(id);
  }
  if (verifiedBy.length === 0) {
    const names = unverified.map((s) => `${s.name}+${hex8(s.keyId)}`);
    throw noteError(
      'LP_NOTE_UNVERIFIED',
      `No signature on the note is by a trusted key (signed by ${names.join(', ') || 'nobody'}; trusted: ${
        verifiers.map((v) => `${v.name}+${hex8(v.keyId)}`).join(', ') || 'none'
      }); check you have the right verifier key.`,
      { signedBy: names },
    );
  }
  return { text, verifiedBy, unverified };
}

function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier | 'ambiguous'> {
  const map = new Map<string, NoteVerifier | 'ambiguous'>();
  for (const v of verifiers) {
    const id = `${v.name}+${hex8(v.keyId)}`;
    const had = map.get(id);
    if (had && (had === 'ambiguous' || had.verifierKey !== v.verifierKey)) map.set(id, 'ambiguous');
    else map.set(id, v);
  }
  return map;
}

function parseSignatureLine(
  line: string,
  n: number,
): { name: string; keyId: number; base64: string; raw: Uint8Array } {
  const bad = (why: string) =>
    noteError(
      'LP_NOTE_MALFORMED',
      `Signature line ${n} ${why}; each must read '\u2014 <key name> <base64>'. The note is damaged.`,
      { line: n },
    );
  if (!line.startsWith(SIG_PREFIX)) throw bad('does not start with an em dash (U+2014) and a space');
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw bad('has no space between the key name and the signature');
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw bad('has an invalid key name');
  const raw = fromBase64(b64);
  if (!raw) throw bad('is not standard base64');
  if (raw.length < 5) throw bad('is too short to hold a key ID and a signature');
  return { name, keyId: new DataView(raw.buffer, raw.byteOffset).getUint32(0), base64: b64, raw };
}

function decodeNote(note: string | Uint8Array): string {
  const size = typeof note === 'string' ? note.length : note?.length;
  if (typeof size !== 'number') {
    throw noteError('LP_NOTE_MALFORMED', 'A note is text or bytes; pass the signed note file contents.');
  }
  if (size > MAX_NOTE_BYTES) {
    throw noteError(
      'LP_NOTE_TOO_LARGE',
      `The note is ${size} bytes; notes over ${MAX_NOTE_BYTES} bytes are refused. Check you passed a note file.`,
    );
  }
  if (typeof note === 'string') return note;
  try {
    return strictUtf8.decode(note);
  } catch {
    throw noteError('LP_NOTE_MALFORMED', 'The note is not valid UTF-8; it is damaged or not a signed note.');
  }
}

/** Valid UTF-8 (no lone surrogates) and no ASCII control character other than newline. */
function checkNoteChars(s: string): void {
  const at = firstBadChar(s, true);
  if (at >= 0) {
    const line = s.slice(0, at).split('\n').length;
    throw noteError(
      'LP_NOTE_MALFORMED',
      `The note holds a control character or invalid Unicode on line ${line} (only newlines are allowed); it is damaged or not a signed note.`,
      { line },
    );
  }
}

/** Index of the first character below U+0020 (a newline only if not allowed) or lone surrogate; -1 if none. */
function firstBadChar(s: string, newlineAllowed: boolean): number {
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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
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
