/**
 * RFC 9162 Merkle tree hashing (SHA-256, leaf prefix 0x00, node prefix 0x01), the reference
 * in-memory proof generators, and proof verification. Pure functions over Uint8Array.
 * Verification never returns false: it throws LP_LOG_PROOF_INVALID with `details.reason` naming
 * what did not hold (which argument, which proof element, which root, which size).
 */
import { hash } from 'node:crypto';
import { LightproofError } from '../core/errors.js';

export const HASH_BYTES = 32;
const scratch = new Uint8Array(1 + 2 * HASH_BYTES);

export function leafHash(data: Uint8Array): Uint8Array {
  const input = new Uint8Array(data.length + 1);
  input.set(data, 1);
  return new Uint8Array(hash('sha256', input, 'buffer'));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  scratch[0] = 1;
  scratch.set(left, 1);
  scratch.set(right, 1 + HASH_BYTES);
  return new Uint8Array(hash('sha256', scratch, 'buffer'));
}

export const EMPTY_ROOT: Uint8Array = new Uint8Array(hash('sha256', new Uint8Array(0), 'buffer'));

/** Largest power of two strictly below n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over leafHashes[lo, hi): perfect subtrees on a stack, folded right to left at the end. */
function rangeRoot(leafHashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi === lo) return EMPTY_ROOT;
  const stack: Uint8Array[] = [];
  for (let i = lo; i < hi; i++) {
    let node = leafHashes[i]!;
    // Each trailing one bit of the leaf's position within the range closes one perfect subtree.
    for (let j = i - lo; j & 1; j >>>= 1) node = nodeHash(stack.pop()!, node);
    stack.push(node);
  }
  let acc = stack.pop()!;
  while (stack.length) acc = nodeHash(stack.pop()!, acc);
  return acc;
}

export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  return rangeRoot(leafHashes, 0, leafHashes.length);
}

function checkRange(what: string, value: number, max: number, tooBig: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LightproofError('LP_LOG_INDEX_OUT_OF_RANGE', `${what} must be a non-negative integer`, {
      details: { [what]: value },
    });
  }
  if (value > max) {
    throw new LightproofError('LP_LOG_INDEX_OUT_OF_RANGE', `${what} ${value} ${tooBig} (${max})`, {
      details: { [what]: value, max },
    });
  }
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]), bottom-up, computed from the leaf hashes. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, size: number): Uint8Array[] {
  checkRange('size', size, leafHashes.length, 'is more than the leaves given');
  checkRange('index', index, size - 1, 'is not below the tree size');
  const path = (m: number, lo: number, hi: number): Uint8Array[] => {
    if (hi - lo <= 1) return [];
    const k = splitPoint(hi - lo);
    return m < k
      ? [...path(m, lo, lo + k), rangeRoot(leafHashes, lo + k, hi)]
      : [...path(m - k, lo + k, hi), rangeRoot(leafHashes, lo, lo + k)];
  };
  return path(index, 0, size);
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]); empty when m is 0 or m equals n. */
export function consistencyProof(leafHashes: readonly Uint8Array[], m: number, n: number): Uint8Array[] {
  checkRange('n', n, leafHashes.length, 'is more than the leaves given');
  checkRange('m', m, n, 'is more than the newer size');
  const sub = (m: number, lo: number, hi: number, whole: boolean): Uint8Array[] => {
    if (m === hi - lo) return whole ? [] : [rangeRoot(leafHashes, lo, hi)];
    const k = splitPoint(hi - lo);
    return m <= k
      ? [...sub(m, lo, lo + k, whole), rangeRoot(leafHashes, lo + k, hi)]
      : [...sub(m - k, lo + k, hi, false), rangeRoot(leafHashes, lo, lo + k)];
  };
  return m === 0 || m === n ? [] : sub(m, 0, n, true);
}

/** Number of hashes in an inclusion proof for `index` in a tree of `size` leaves. */
export function inclusionProofLength(index: number, size: number): number {
  let len = 0;
  for (let lo = 0, hi = size, m = index; hi - lo > 1; len++) {
    const k = splitPoint(hi - lo);
    if (m < k) hi = lo + k;
    else [lo, m] = [lo + k, m - k];
  }
  return len;
}

/** Number of hashes in a consistency proof from size m to size n (0 < m < n). */
export function consistencyProofLength(m: number, n: number): number {
  let len = 0;
  let whole = true;
  for (let size = n; m !== size; len++) {
    const k = splitPoint(size);
    if (m <= k) size = k;
    else [m, size, whole] = [m - k, size - k, false];
  }
  return whole ? len : len + 1;
}

function invalid(message: string, details: Record<string, unknown>): LightproofError {
  return new LightproofError('LP_LOG_PROOF_INVALID', message, { details });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function checkHash(what: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_BYTES) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw invalid(`${what} must be a ${HASH_BYTES}-byte SHA-256 hash, got ${got}`, {
      reason: 'hash-length',
      where: what,
    });
  }
}

function checkSize(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${what} must be a non-negative integer, got ${value}`, {
      reason: 'bad-size',
      where: what,
    });
  }
}

function checkProof(proof: readonly Uint8Array[], want: number, context: string): void {
  if (!Array.isArray(proof))
    throw invalid('the proof must be an array of hashes', { reason: 'proof-length' });
  if (proof.length !== want) {
    throw invalid(
      `the proof has ${proof.length} hashes but ${context} has ${want}: it is for another index or tree size, or hashes were added or removed`,
      { reason: 'proof-length', got: proof.length, want },
    );
  }
  proof.forEach((h, i) => {
    checkHash(`proof[${i}]`, h);
  });
}

/** RFC 9162 §2.1.3.2: the root that `proof` leads to from `leaf` (a leaf hash). */
export function rootFromInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  checkHash('leaf hash', leaf);
  checkSize('index', index);
  checkSize('tree size', size);
  if (index >= size) {
    throw invalid(`leaf index ${index} is not below the tree size ${size}`, {
      reason: 'index-out-of-range',
      index,
      size,
    });
  }
  checkProof(proof, inclusionProofLength(index, size), `an inclusion proof for leaf ${index} of ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  return r;
}

export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkHash('root', root);
  const got = rootFromInclusion(leaf, index, size, proof);
  if (!Buffer.from(got).equals(root)) {
    throw invalid(
      `root mismatch: leaf ${index} with its ${proof.length}-hash proof leads to ${hex(got)}, not the tree root ${hex(root)} of size ${size}; the leaf, a proof hash, the index or the size is wrong`,
      { reason: 'root-mismatch', computed: hex(got), expected: hex(root), index, size },
    );
  }
}

/** RFC 9162 §2.1.4.2: that the tree of size m with rootM is a prefix of the tree of size n with rootN. */
export function verifyConsistency(
  m: number,
  n: number,
  proof: readonly Uint8Array[],
  rootM: Uint8Array,
  rootN: Uint8Array,
): void {
  checkSize('older size', m);
  checkSize('newer size', n);
  checkHash('older root', rootM);
  checkHash('newer root', rootN);
  if (m > n) throw invalid(`older size ${m} is more than newer size ${n}`, { reason: 'size-order', m, n });
  if (m === 0 || m === n) {
    checkProof(proof, 0, `a consistency proof from ${m} to ${n}`);
    const want = m === 0 ? EMPTY_ROOT : rootN;
    if (!Buffer.from(rootM).equals(want)) {
      throw invalid(
        m === 0
          ? 'the root of the empty tree must be SHA-256 of nothing'
          : `equal sizes ${m} with different roots`,
        { reason: 'old-root-mismatch', m, n },
      );
    }
    return;
  }
  checkProof(proof, consistencyProofLength(m, n), `a consistency proof from ${m} to ${n}`);
  // When m is a power of two the older tree is a whole subtree of the newer one, so its root starts the path.
  const path = Number.isInteger(Math.log2(m)) ? [rootM, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) [fn, sn] = [(fn - 1) / 2, Math.floor(sn / 2)];
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  }
  if (!Buffer.from(fr).equals(rootM)) {
    throw invalid(
      `older root mismatch: the proof rebuilds ${hex(fr)} for size ${m}, not ${hex(rootM)}; a proof hash, the older root or the older size is wrong`,
      { reason: 'old-root-mismatch', computed: hex(fr), expected: hex(rootM), m, n },
    );
  }
  if (!Buffer.from(sr).equals(rootN)) {
    throw invalid(
      `newer root mismatch: the proof rebuilds ${hex(sr)} for size ${n}, not ${hex(rootN)}; a proof hash, the newer root or the newer size is wrong`,
      { reason: 'new-root-mismatch', computed: hex(sr), expected: hex(rootN), m, n },
    );
  }
}
