/**
 * One aggregation round, on the hot path: every digest gets a server nonce, one Merkle tree (python's
 * make_merkle_tree shape) joins them, and the tip is committed as `prepend <time> append <hmac8>`.
 * Replies are written straight to bytes (the same bytes writeTimestamp gives for each digest's
 * subtree, which round.test.ts checks) because building a Timestamp per digest costs more than the
 * HTTP exchange itself at tens of thousands of digests a second.
 */
import { createHmac, randomFillSync } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { ATTESTATION_TAGS, checkPendingUri } from '../ots/index.js';

export const NONCE_BYTES = 16;
export const HMAC_BYTES = 8;
/** The reference calendar refuses longer digests; nothing a client sends needs more. */
export const MAX_DIGEST_BYTES = 64;

const OP_SHA256 = 0x08;
const OP_APPEND = 0xf0;
const OP_PREPEND = 0xf1;

export interface BuiltRound {
  /** Unix seconds, the `prepend` of the commitment. */
  readonly time: number;
  readonly tip: Uint8Array;
  /** time (4 bytes, big-endian) ‖ tip ‖ hmac8: the message the pending attestation sits on. */
  readonly commitment: Uint8Array;
  /** For each digest, in order: the serialized subtree from that digest to the pending attestation. */
  readonly replies: readonly Buffer[];
  /** Every (digest, nonce), so the round can be audited and rebuilt (see decodeLeaves). */
  readonly leaves: Uint8Array;
}

/**
 * HMAC-SHA256(key, time ‖ tip), first 8 bytes. Appended to every commitment so commitments cannot be
 * predicted from the tip alone, and so this calendar can tell its own commitments from anyone else's.
 */
export function commitmentHmac(key: Uint8Array, time: number, tip: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac('sha256', key).update(timeBytes(time)).update(tip).digest().subarray(0, HMAC_BYTES),
  );
}

function timeBytes(time: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(time >>> 0);
  return b;
}

/** The bytes every reply of a round ends with: the commitment ops and the pending attestation. */
function replyTail(time: number, hmac: Uint8Array, uri: string): Buffer {
  const uriBytes = Buffer.from(checkPendingUri(uri), 'utf8');
  const payload = Buffer.concat([varuint(uriBytes.length), uriBytes]);
  return Buffer.concat([
    Buffer.from([OP_PREPEND, 4]),
    timeBytes(time),
    Buffer.from([OP_APPEND, HMAC_BYTES]),
    hmac,
    Buffer.from([0x00]),
    ATTESTATION_TAGS.pending,
    varuint(payload.length),
    payload,
  ]);
}

function varuint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  do {
    out.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>>= 7;
  } while (v > 0);
  return Buffer.from(out);
}

export interface RoundOptions {
  time: number;
  hmacKey: Uint8Array;
  /** The calendar's public URL, written into every pending attestation. */
  uri: string;
  /** 16 bytes per digest; random when absent (tests pass their own). */
  nonces?: Uint8Array;
}

export function buildRound(digests: readonly Uint8Array[], opts: RoundOptions): BuiltRound {
  const n = digests.length;
  if (n === 0) throw new RangeError('a round needs at least one digest');
  const nonces = opts.nonces ?? randomFillSync(new Uint8Array(n * NONCE_BYTES));
  // One scratch buffer for every hash input: allocating one per hash costs a third of the hashing.
  const scratch = new Uint8Array(MAX_DIGEST_BYTES + NONCE_BYTES);
  const leaves: Uint8Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const d = digests[i]!;
    scratch.set(d);
    scratch.set(nonceAt(nonces, i), d.length);
    leaves[i] = sha256(scratch.subarray(0, d.length + NONCE_BYTES));
  }
  const levels: Uint8Array[][] = [leaves];
  for (let level = leaves; level.length > 1; ) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      scratch.set(level[i]!);
      scratch.set(level[i + 1]!, 32);
      next.push(sha256(scratch.subarray(0, 64)));
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    levels.push(next);
    level = next;
  }
  const tip = levels[levels.length - 1]![0]!;
  const hmac = commitmentHmac(opts.hmacKey, opts.time, tip);
  const commitment = new Uint8Array(Buffer.concat([timeBytes(opts.time), tip, hmac]));
  const tail = replyTail(opts.time, hmac, opts.uri);
  const replies: Buffer[] = new Array(n);
  for (let i = 0; i < n; i++) replies[i] = reply(levels, i, nonceAt(nonces, i), tail);
  return { time: opts.time, tip, commitment, replies, leaves: encodeLeaves(digests, nonces) };
}

function nonceAt(nonces: Uint8Array, i: number): Uint8Array {
  return nonces.subarray(i * NONCE_BYTES, (i + 1) * NONCE_BYTES);
}

/** append nonce, sha256, then per level `append|prepend sibling` + sha256 (none where carried up), then the tail. */
function reply(levels: readonly Uint8Array[][], leaf: number, nonce: Uint8Array, tail: Buffer): Buffer {
  let steps = 0;
  for (let l = 0, i = leaf; l < levels.length - 1; l++, i >>= 1) {
    if (i % 2 === 1 || i + 1 < levels[l]!.length) steps++;
  }
  const out = Buffer.allocUnsafe(2 + NONCE_BYTES + 1 + steps * 35 + tail.length);
  let at = 0;
  out[at++] = OP_APPEND;
  out[at++] = NONCE_BYTES;
  out.set(nonce, at);
  at += NONCE_BYTES;
  out[at++] = OP_SHA256;
  for (let l = 0, i = leaf; l < levels.length - 1; l++, i >>= 1) {
    const level = levels[l]!;
    if (i % 2 === 0 && i + 1 >= level.length) continue;
    out[at++] = i % 2 === 0 ? OP_APPEND : OP_PREPEND;
    out[at++] = 32;
    out.set(level[i % 2 === 0 ? i + 1 : i - 1]!, at);
    at += 32;
    out[at++] = OP_SHA256;
  }
  out.set(tail, at);
  return out;
}

/** [length byte, digest, 16-byte nonce] per digest. */
export function encodeLeaves(digests: readonly Uint8Array[], nonces: Uint8Array): Uint8Array {
  let size = 0;
  for (const d of digests) size += 1 + d.length + NONCE_BYTES;
  const out = new Uint8Array(size);
  let at = 0;
  digests.forEach((d, i) => {
    out[at++] = d.length;
    out.set(d, at);
    at += d.length;
    out.set(nonceAt(nonces, i), at);
    at += NONCE_BYTES;
  });
  return out;
}

export function decodeLeaves(leaves: Uint8Array): { digests: Uint8Array[]; nonces: Uint8Array } {
  const digests: Uint8Array[] = [];
  const nonces: Uint8Array[] = [];
  for (let at = 0; at < leaves.length; ) {
    const len = leaves[at++]!;
    if (len < 1 || len > MAX_DIGEST_BYTES || at + len + NONCE_BYTES > leaves.length) {
      throw new RangeError(`round leaves are damaged at byte ${at - 1}`);
    }
    digests.push(leaves.slice(at, at + len));
    nonces.push(leaves.subarray(at + len, at + len + NONCE_BYTES));
    at += len + NONCE_BYTES;
  }
  const flat = new Uint8Array(nonces.length * NONCE_BYTES);
  for (const [i, nonce] of nonces.entries()) flat.set(nonce, i * NONCE_BYTES);
  return { digests, nonces: flat };
}
