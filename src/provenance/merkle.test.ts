import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isLightproofError } from '../core/errors.js';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromInclusion,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const vectors = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../test/vectors/tlog/${name}`, import.meta.url), 'utf8'));
const constants = vectors('constants.json') as {
  leafInputs: string[];
  nodeHashes: string[][];
  rootHashes: string[];
};
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const leaves = constants.leafInputs.map((h) => leafHash(Buffer.from(h, 'hex')));

/** Asserts `fn` throws LP_LOG_PROOF_INVALID and returns the reason it gave. */
function rejection(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isLightproofError(err, 'LP_LOG_PROOF_INVALID'), String(err));
    const reason = err.details?.reason;
    assert.equal(typeof reason, 'string');
    return reason as string;
  }
  assert.fail('verification passed');
}

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

describe('merkle: transparency-dev constants', () => {
  it('roots of sizes 0..8', () => {
    assert.equal(hexOf(EMPTY_ROOT), constants.rootHashes[0]);
    for (let n = 0; n <= 8; n++) assert.equal(hexOf(rootOf(leaves.slice(0, n))), constants.rootHashes[n]);
  });
  it('every complete subtree hash', () => {
    constants.nodeHashes.forEach((level, k) => {
      level.forEach((want, j) => {
        assert.equal(hexOf(rootOf(leaves.slice(j << k, (j + 1) << k))), want, `level ${k} node ${j}`);
      });
    });
    assert.equal(hexOf(nodeHash(leaves[0]!, leaves[1]!)), constants.nodeHashes[1]![0]);
  });
});

describe('merkle: transparency-dev inclusion vectors', () => {
  type Case = {
    file: string;
    leafIdx: number;
    treeSize: number;
    root: string;
    leafHash: string;
    proof: string[] | null;
    wantErr: boolean;
  };
  for (const c of (vectors('inclusion.json') as { cases: Case[] }).cases) {
    it(c.file, () => {
      const run = () =>
        verifyInclusion(b64(c.leafHash), c.leafIdx, c.treeSize, (c.proof ?? []).map(b64), b64(c.root));
      if (c.wantErr) rejection(run);
      else run();
    });
  }
});

describe('merkle: transparency-dev consistency vectors', () => {
  type Case = {
    file: string;
    size1: number;
    size2: number;
    root1: string;
    root2: string;
    proof: string[] | null;
    wantErr: boolean;
  };
  for (const c of (vectors('consistency.json') as { cases: Case[] }).cases) {
    it(c.file, () => {
      const run = () =>
        verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(b64), b64(c.root1), b64(c.root2));
      if (c.wantErr) rejection(run);
      else run();
    });
  }
});

describe('merkle: generated proofs', () => {
  it('the reference generators reproduce the upstream proofs', () => {
    const incl = inclusionProof(leaves, 5, 8).map((h) => Buffer.from(h).toString('base64'));
    assert.deepEqual(incl, [
      'vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=',
      'yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=',
      '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=',
    ]);
    const cons = consistencyProof(leaves, 6, 8).map((h) => Buffer.from(h).toString('base64'));
    assert.deepEqual(cons, [
      'DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=',
      'yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=',
      '037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=',
    ]);
  });

  it('every proof in trees of 1..40 leaves verifies, and no proof verifies for another size', () => {
    const hs = Array.from({ length: 40 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    const roots = Array.from({ length: 41 }, (_, n) => rootOf(hs.slice(0, n)));
    for (let n = 1; n <= 40; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(hs, i, n);
        verifyInclusion(hs[i]!, i, n, proof, roots[n]!);
        assert.deepEqual(rootFromInclusion(hs[i]!, i, n, proof), roots[n]);
        for (const other of [n - 1, n + 1]) {
          if (other > i && other <= 40)
            rejection(() => verifyInclusion(hs[i]!, i, other, proof, roots[other]!));
        }
      }
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(hs, m, n);
        verifyConsistency(m, n, proof, roots[m]!, roots[n]!);
        if (m > 0 && m < n - 1) rejection(() => verifyConsistency(m, n - 1, proof, roots[m]!, roots[n - 1]!));
      }
    }
  });

  it('every single-bit flip in a leaf, a proof hash or a root fails and says where', () => {
    const hs = Array.from({ length: 13 }, () => leafHash(randomBytes(20)));
    const [i, n, m] = [5, 13, 6];
    const root = rootOf(hs);
    const proof = inclusionProof(hs, i, n);
    const seen = new Set<string>();
    for (let bit = 0; bit < 256; bit++) {
      seen.add(rejection(() => verifyInclusion(flipped(hs[i]!, bit), i, n, proof, root)));
      seen.add(rejection(() => verifyInclusion(hs[i]!, i, n, proof, flipped(root, bit))));
      proof.forEach((_, p) => {
        const bad = proof.map((h, q) => (q === p ? flipped(h, bit) : h));
        seen.add(rejection(() => verifyInclusion(hs[i]!, i, n, bad, root)));
      });
    }
    assert.deepEqual([...seen], ['root-mismatch']);
    const rootM = rootOf(hs.slice(0, m));
    const cons = consistencyProof(hs, m, n);
    const reasons = new Set<string>();
    for (let bit = 0; bit < 256; bit++) {
      reasons.add(rejection(() => verifyConsistency(m, n, cons, flipped(rootM, bit), root)));
      reasons.add(rejection(() => verifyConsistency(m, n, cons, rootM, flipped(root, bit))));
      cons.forEach((_, p) => {
        const bad = cons.map((h, q) => (q === p ? flipped(h, bit) : h));
        reasons.add(rejection(() => verifyConsistency(m, n, bad, rootM, root)));
      });
    }
    assert.deepEqual([...reasons].sort(), ['new-root-mismatch', 'old-root-mismatch']);
  });

  it('names malformed arguments', () => {
    const hs = [leafHash(new Uint8Array(0)), leafHash(new Uint8Array(1))];
    const root = rootOf(hs);
    const proof = inclusionProof(hs, 0, 2);
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 2, 2, proof, root)),
      'index-out-of-range',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, -1, 2, proof, root)),
      'bad-size',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 0.5, 2, proof, root)),
      'bad-size',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 0, Number.NaN, proof, root)),
      'bad-size',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!.subarray(1), 0, 2, proof, root)),
      'hash-length',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 0, 2, [new Uint8Array(33)], root)),
      'hash-length',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 0, 2, [...proof, root], root)),
      'proof-length',
    );
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, 0, 2, proof, new Uint8Array(0))),
      'hash-length',
    );
    assert.equal(
      rejection(() => verifyConsistency(2, 1, [], root, root)),
      'size-order',
    );
    assert.equal(
      rejection(() => verifyConsistency(0, 2, [], root, root)),
      'old-root-mismatch',
    );
    assert.equal(
      rejection(() => verifyConsistency(2, 2, [root], root, root)),
      'proof-length',
    );
    assert.equal(
      rejection(() => verifyConsistency(1, 2, [], hs[0]!, root)),
      'proof-length',
    );
    verifyConsistency(0, 2, [], EMPTY_ROOT, root);
    const huge = 2 ** 53 - 1;
    assert.equal(
      rejection(() => verifyInclusion(hs[0]!, huge - 1, huge, proof, root)),
      'proof-length',
    );
    assert.equal(
      rejection(() => verifyConsistency(2 ** 40, huge, [root], root, root)),
      'proof-length',
    );
  });

  it('the generators refuse sizes beyond the leaves', () => {
    const hs = [leafHash(new Uint8Array(0))];
    for (const run of [
      () => inclusionProof(hs, 1, 1),
      () => inclusionProof(hs, 0, 2),
      () => consistencyProof(hs, 2, 1),
      () => consistencyProof(hs, 0, 2),
      () => inclusionProof(hs, -1, 1),
    ]) {
      assert.throws(run, (err) => isLightproofError(err, 'LP_LOG_INDEX_OUT_OF_RANGE'));
    }
  });
});
