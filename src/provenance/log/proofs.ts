/**
 * RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF over a tree that answers subtree(lo, hi) from disk.
 * The ranges asked for are the recursion's, each aligned to its largest power of two.
 */
import { splitPoint } from '../merkle.js';

type Subtree = (lo: number, hi: number) => Uint8Array;

export function inclusionPath(subtree: Subtree, index: number, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let lo = 0;
  let hi = size;
  // Walk top-down, collecting siblings; the proof lists them bottom-up.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      out.push(subtree(lo + k, hi));
      hi = lo + k;
    } else {
      out.push(subtree(lo, lo + k));
      lo += k;
    }
  }
  return out.reverse();
}

export function consistencyPath(subtree: Subtree, m: number, n: number): Uint8Array[] {
  if (m === 0 || m === n) return [];
  const out: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  let whole = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      out.push(subtree(lo + k, hi));
      hi = lo + k;
    } else {
      out.push(subtree(lo, lo + k));
      m -= k;
      lo += k;
      whole = false;
    }
  }
  if (!whole) out.push(subtree(lo, hi));
  return out.reverse();
}
