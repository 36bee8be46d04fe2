/**
 * Replaying a whole log (`lightproof log verify`): every entry is read and hashed again, the tree is
 * rebuilt from those hashes alone, and each signed checkpoint must verify with the log's key and
 * match the rebuilt root at its size; consecutive checkpoints must be consistent. The first thing
 * that fails is named, with the range of entries it implicates.
 */

import { sha256 } from '@noble/hashes/sha2.js';
import { isLightproofError, LightproofError } from '../core/errors.js';
import { parseOts } from '../ots/index.js';
import { type Checkpoint, sameRoot } from './checkpoint.js';
import {
  checkpointPath,
  listCheckpoints,
  readCheckpoint,
  readLogVerifier,
  readSmallBytes,
} from './checkpoint-store.js';
import type { MerkleLog } from './log/index.js';
import { EMPTY_ROOT, leafHash, nodeHash, verifyConsistency } from './merkle.js';

export interface AuditProblem {
  readonly kind: 'entry' | 'checkpoint' | 'proof';
  /** The entry index, or the checkpoint's size. */
  readonly at: number;
  readonly code: string;
  readonly message: string;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly size: number;
  readonly checkpoints: number;
  /** Checkpoints with an .ots proof beside them, and how many of those hold a Bitcoin attestation. */
  readonly stamped: number;
  readonly anchored: number;
  readonly latest?: Checkpoint;
  /** The first failure found; the replay stops there. */
  readonly problem?: AuditProblem;
}

/** Rebuilds RFC 9162 roots while leaves stream past, holding one hash per set bit of the size. */
class RootBuilder {
  private readonly stack: { size: number; hash: Uint8Array }[] = [];

  add(leaf: Uint8Array): void {
    let node = { size: 1, hash: leaf };
    while (this.stack.length && this.stack.at(-1)!.size === node.size) {
      const left = this.stack.pop()!;
      node = { size: left.size * 2, hash: nodeHash(left.hash, node.hash) };
    }
    this.stack.push(node);
  }

  root(): Uint8Array {
    if (this.stack.length === 0) return EMPTY_ROOT;
    let r = this.stack.at(-1)!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) r = nodeHash(this.stack[i]!.hash, r);
    return r;
  }
}

export interface AuditOptions {
  /**
   * The checkpoint sizes to check, listed before the log was opened. Beside a running writer (a
   * read-only log) a checkpoint signed after the snapshot would otherwise look like lost entries.
   */
  checkpoints?: readonly number[];
}

export function auditLog(
  log: MerkleLog,
  onProgress?: (done: number, total: number) => void,
  opts: AuditOptions = {},
): AuditReport {
  const size = log.size();
  const sizes = opts.checkpoints ?? listCheckpoints(log.dir);
  const base = { size, checkpoints: sizes.length, stamped: 0, anchored: 0 };
  const fail = (problem: AuditProblem, extra: Partial<AuditReport> = {}): AuditReport => ({
    ...base,
    ...extra,
    ok: false,
    problem,
  });
  const loaded: Checkpoint[] = [];
  if (sizes.length) {
    const verifier = readLogVerifier(log.dir);
    for (const s of sizes) {
      try {
        loaded.push(readCheckpoint(log.dir, s, verifier, log.origin).checkpoint);
      } catch (err) {
        if (!isLightproofError(err)) throw err;
        return fail({ kind: 'checkpoint', at: s, code: err.code, message: err.message });
      }
      if (s > size) {
        return fail({
          kind: 'checkpoint',
          at: s,
          code: 'LP_LOG_TRUNCATED',
          message: `Checkpoint ${s} signs ${s} entries but the log holds only ${size}; entries ${size} to ${s - 1} were lost.`,
        });
      }
    }
  }
  const stamps = countStamps(log.dir, sizes);
  if ('problem' in stamps) return fail(stamps.problem);
  Object.assign(base, stamps);

  const tree = new RootBuilder();
  let next = 0;
  let goodUpTo = 0;
  if (loaded[0]?.size === 0 && !sameRoot(loaded[0].root, EMPTY_ROOT)) {
    return fail(rootProblem(loaded[0], 0));
  }
  while (loaded[next]?.size === 0) next++;
  for (let i = 0; i < size; i++) {
    let leaf: Uint8Array;
    try {
      leaf = leafHash(log.entry(i));
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      return fail({ kind: 'entry', at: i, code: err.code, message: `Entry ${i}: ${err.message}` });
    }
    // A read-only log keeps no tree files: its leaf hashes are these entries' own.
    if (!log.readOnly && !sameRoot(leaf, log.leafHashAt(i))) {
      return fail({
        kind: 'entry',
        at: i,
        code: 'LP_LOG_CORRUPT',
        message: `Entry ${i} does not hash to the leaf hash the log's tree holds for it; the entry or the tree files were changed. Reopen the log to rebuild the tree, then verify again.`,
      });
    }
    tree.add(leaf);
    while (loaded[next]?.size === i + 1) {
      const cp = loaded[next]!;
      if (!sameRoot(tree.root(), cp.root)) return fail(rootProblem(cp, goodUpTo));
      goodUpTo = cp.size;
      next++;
    }
    if ((i & 0xffff) === 0) onProgress?.(i, size);
  }
  onProgress?.(size, size);
  for (let k = 1; k < loaded.length; k++) {
    const [m, n] = [loaded[k - 1]!, loaded[k]!];
    try {
      verifyConsistency(
        m.size,
        n.size,
        m.size === 0 ? [] : log.consistencyProof(m.size, n.size),
        m.root,
        n.root,
      );
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      return fail({
        kind: 'proof',
        at: n.size,
        code: err.code,
        message: `Consistency ${m.size} to ${n.size}: ${err.message}`,
      });
    }
  }
  return { ...base, ok: true, ...(loaded.length ? { latest: loaded.at(-1)! } : {}) };
}

function rootProblem(cp: Checkpoint, goodUpTo: number): AuditProblem {
  return {
    kind: 'checkpoint',
    at: cp.size,
    code: 'LP_NOTE_SPLIT_VIEW',
    message: `Checkpoint ${cp.size} signs a root the entries no longer hash to: one of entries ${goodUpTo} to ${cp.size - 1} was changed after it was signed (earlier checkpoints still match).`,
  };
}

function countStamps(
  dir: string,
  sizes: readonly number[],
): { stamped: number; anchored: number } | { problem: AuditProblem } {
  let stamped = 0;
  let anchored = 0;
  for (const s of sizes) {
    const path = checkpointPath(dir, s);
    try {
      const ots = readSmallBytes(`${path}.ots`, 1024 * 1024);
      if (!ots) continue;
      const proof = parseOts(ots);
      if (!sameRoot(proof.digest, sha256(readSmallBytes(path, 64 * 1024)!))) {
        throw new LightproofError(
          'LP_NOTE_PROOF_MISMATCH',
          `${path}.ots is not a proof of the checkpoint beside it (the digests differ); remove it and stamp the checkpoint again.`,
        );
      }
      stamped++;
      if (proof.timestamp.isComplete()) anchored++;
    } catch (err) {
      if (!isLightproofError(err)) throw err;
      return {
        problem: { kind: 'checkpoint', at: s, code: err.code, message: `${path}.ots: ${err.message}` },
      };
    }
  }
  return { stamped, anchored };
}
