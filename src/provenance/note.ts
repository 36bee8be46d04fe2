/**
 * C2SP signed notes (c2sp.org/signed-note, golang.org/x/mod/sumdb/note) with Ed25519 keys: a text
 * ending in a newline, a blank line, then one `— <key name> base64(key ID || signature)` line per
 * signature. The key formats (note-keys.ts) are Go sumdb's, so a checkpoint signed here opens in the
 * transparency tooling, and the other way round.
 */
import {
  checkName,
  concat,
  firstBadChar,
  fromBase64,
  hex8,
  isValidKeyName,
  type NoteSigner,
  type NoteVerifier,
  noteError,
  toBase64,
} from './note-keys.js';

export {
  fromBase64,
  generateNoteKey,
  isValidKeyName,
  type NoteSigner,
  type NoteVerifier,
  noteKeyId,
  noteSigner,
  noteVerifier,
  noteVerifierKey,
  toBase64,
} from './note-keys.js';

/** Go's sumdb refuses more; the spec asks verifiers to accept at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
/** Far above any checkpoint (a few hundred bytes) yet small enough to refuse junk before parsing it. */
export const MAX_NOTE_BYTES = 1024 * 1024;

const SIG_PREFIX = '\u2014 ';
const utf8 = new TextEncoder();
/** fatal: an invalid byte is refused; ignoreBOM: a leading U+FEFF stays part of the signed text. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
