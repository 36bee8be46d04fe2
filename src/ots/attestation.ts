/**
 * Attestations: the leaves of a timestamp, saying where its message was committed
 * (opentimestamps/core/notary.py). Unknown kinds are kept byte for byte, so newer proofs survive.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { NOT_A_PROOF, otsError } from './errors.js';
import { compareBytes, equalBytes, Reader, Writer } from './serialize.js';

export type Attestation =
  | { readonly kind: 'bitcoin'; readonly height: number }
  | { readonly kind: 'litecoin'; readonly height: number }
  | { readonly kind: 'ethereum'; readonly height: number }
  | { readonly kind: 'pending'; readonly uri: string }
  | { readonly kind: 'unknown'; readonly tag: Uint8Array; readonly payload: Uint8Array };

export const ATTESTATION_TAGS = {
  bitcoin: hexToBytes('0588960d73d71901'),
  litecoin: hexToBytes('06869a0d73d71b45'),
  ethereum: hexToBytes('30fe8087b5c7ead7'),
  pending: hexToBytes('83dfe30d2ef90c8e'),
} as const;

export const TAG_SIZE = 8;
export const MAX_PAYLOAD_SIZE = 8192;
export const MAX_URI_LENGTH = 1000;

const URI_CHARS = /^[A-Za-z0-9\-._/:]*$/;

/** The reference accepts only these characters in a calendar URI; anything else could smuggle input. */
export function checkPendingUri(uri: string): string {
  if (uri.length > MAX_URI_LENGTH) {
    throw otsError(
      'LP_OTS_BAD_URI',
      `A calendar URI is ${uri.length} characters long; at most ${MAX_URI_LENGTH} are allowed.`,
      { length: uri.length },
    );
  }
  if (!URI_CHARS.test(uri)) {
    throw otsError(
      'LP_OTS_BAD_URI',
      `The calendar URI ${JSON.stringify(uri.slice(0, 80))} holds a character outside A-Z a-z 0-9 - . _ / :; use a plain http(s)://host/path URI.`,
    );
  }
  return uri;
}

function tagOf(att: Attestation): Uint8Array {
  return att.kind === 'unknown' ? att.tag : ATTESTATION_TAGS[att.kind];
}

function payloadOf(att: Attestation): Uint8Array {
  const w = new Writer();
  switch (att.kind) {
    case 'bitcoin':
    case 'litecoin':
    case 'ethereum':
      w.writeVaruint(att.height);
      return w.bytes();
    case 'pending':
      w.writeVarbytes(new TextEncoder().encode(att.uri));
      return w.bytes();
    case 'unknown':
      return att.payload;
  }
}

/** Writes the attestation's tag and payload; the `00` marking a leaf is the caller's. */
export function writeAttestation(w: Writer, att: Attestation): void {
  w.writeBytes(tagOf(att));
  w.writeVarbytes(payloadOf(att));
}

export function readAttestation(r: Reader): Attestation {
  const start = r.offset;
  const tag = r.readBytes(TAG_SIZE);
  const payload = r.readVarbytes(MAX_PAYLOAD_SIZE);
  const p = new Reader(payload);
  let att: Attestation;
  if (equalBytes(tag, ATTESTATION_TAGS.pending)) {
    const raw = p.readVarbytes(MAX_URI_LENGTH);
    let uri: string;
    try {
      uri = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw otsError('LP_OTS_BAD_URI', `The calendar URI at offset ${start} is not UTF-8. ${NOT_A_PROOF}`, {
        offset: start,
      });
    }
    att = { kind: 'pending', uri: checkPendingUri(uri) };
  } else if (equalBytes(tag, ATTESTATION_TAGS.bitcoin)) {
    att = { kind: 'bitcoin', height: p.readVaruint() };
  } else if (equalBytes(tag, ATTESTATION_TAGS.litecoin)) {
    att = { kind: 'litecoin', height: p.readVaruint() };
  } else if (equalBytes(tag, ATTESTATION_TAGS.ethereum)) {
    att = { kind: 'ethereum', height: p.readVaruint() };
  } else {
    return { kind: 'unknown', tag: tag.slice(), payload: payload.slice() };
  }
  if (!p.atEnd()) {
    throw otsError(
      'LP_OTS_BAD_ATTESTATION',
      `The ${att.kind} attestation at offset ${start} has ${payload.length - p.offset} bytes left over in its payload. ${NOT_A_PROOF}`,
      { offset: start },
    );
  }
  return att;
}

/** python's TimeAttestation ordering: different kinds by tag; within a kind by height, URI or (tag, payload). */
export function compareAttestations(a: Attestation, b: Attestation): number {
  if (a.kind !== b.kind || (a.kind === 'unknown' && b.kind === 'unknown')) {
    const t = compareBytes(tagOf(a), tagOf(b));
    if (t !== 0 || a.kind !== 'unknown' || b.kind !== 'unknown') return t;
    return compareBytes(a.payload, b.payload);
  }
  if (a.kind === 'pending' && b.kind === 'pending') return a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0;
  return (a as { height: number }).height - (b as { height: number }).height;
}

export function attestationKey(att: Attestation): string {
  return `${bytesToHex(tagOf(att))}:${bytesToHex(payloadOf(att))}`;
}

/** The reference's repr, as `ots info` prints it. */
export function describeAttestation(att: Attestation): string {
  switch (att.kind) {
    case 'bitcoin':
      return `BitcoinBlockHeaderAttestation(${att.height})`;
    case 'litecoin':
      return `LitecoinBlockHeaderAttestation(${att.height})`;
    case 'ethereum':
      return `EthereumBlockHeaderAttestation(${att.height})`;
    case 'pending':
      return `PendingAttestation('${att.uri}')`;
    case 'unknown':
      return `UnknownAttestation(${pyBytes(att.tag)}, ${pyBytes(att.payload)})`;
  }
}

/** Python's bytes repr: printable ASCII as is, the rest as \xNN; double quotes when that avoids escaping a '. */
function pyBytes(b: Uint8Array): string {
  const quote = b.includes(0x27) && !b.includes(0x22) ? '"' : "'";
  let s = '';
  for (const c of b) {
    if (c === 0x5c) s += '\\\\';
    else if (c === quote.charCodeAt(0)) s += `\\${quote}`;
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `b${quote}${s}${quote}`;
}
