/** Joining many timestamps into one tip (python-opentimestamps' cat_sha256 and make_merkle_tree). */
import { randomBytes } from '@noble/hashes/utils.js';
import { append, prepend, SHA256 } from './ops.js';
import type { Timestamp } from './timestamp.js';

/** left + right, hashed: the left gets `append right`, the right `prepend left`; both reach one node, then sha256. */
export function catSha256(left: Timestamp, right: Timestamp): Timestamp {
  const joined = right.add(prepend(left.msg));
  left.link(append(right.msg), joined);
  return joined.add(SHA256);
}

/**
 * Pairs neighbours left to right until one tip is left; an odd node is carried up unchanged, never
 * duplicated. Every leaf gains the path to the returned tip.
 */
export function makeMerkleTree(leaves: readonly Timestamp[]): Timestamp {
  if (leaves.length === 0) throw new RangeError('makeMerkleTree needs at least one timestamp');
  let level = [...leaves];
  while (level.length > 1) {
    const next: Timestamp[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(catSha256(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** A 16-byte random nonce appended and hashed, so the message reveals nothing about what was stamped. */
export function nonceTimestamp(ts: Timestamp, nonce: Uint8Array = randomBytes(16)): Timestamp {
  return ts.add(append(nonce)).add(SHA256);
}
