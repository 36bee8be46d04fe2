/**
 * From round commitments to Bitcoin: each commitment is hashed, one Merkle tree over them gives the
 * 32-byte tip the OP_RETURN carries, and once the transaction is in a block every commitment gets the
 * path commitment → sha256 → tree → tx → txid → block merkle root → BitcoinBlockHeaderAttestation
 * (otsserver's stamper). Each path is replayed op by op before it is kept: a proof that does not end
 * in the header's merkle root is never published.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { merklePath, type ParsedBlock, splitAround } from '../../bitcoin/index.js';
import { LightproofError } from '../../core/errors.js';
import {
  append,
  applyOp,
  makeMerkleTree,
  prepend,
  readTimestamp,
  SHA256,
  Timestamp,
  writeTimestamp,
} from '../../ots/index.js';

export interface AnchorTree {
  readonly tip: Uint8Array;
  readonly tipTimestamp: Timestamp;
  /** One per commitment, in the order given: the root of each round's path. */
  readonly leaves: readonly Timestamp[];
}

/** commitments → sha256 each → make_merkle_tree: the tip an anchor transaction commits to. */
export function anchorTree(commitments: readonly Uint8Array[]): AnchorTree {
  const leaves = commitments.map((c) => new Timestamp(c));
  const tipTimestamp = makeMerkleTree(leaves.map((l) => l.add(SHA256)));
  return { tip: tipTimestamp.msg, tipTimestamp, leaves };
}

export interface ConfirmedAnchor {
  readonly commitments: readonly { id: number; commitment: Uint8Array }[];
  readonly block: ParsedBlock;
  readonly height: number;
  /** The anchor transaction's position in the block. */
  readonly txIndex: number;
}

function mismatch(what: string): LightproofError {
  return new LightproofError(
    'LP_CAL_PROOF_MISMATCH',
    `The proof for a confirmed anchor does not check out (${what}); nothing was published. The store and the chain disagree: report this with the calendar's log.`,
    { status: 500 },
  );
}

/** The serialized proof of every commitment; each one replays to the block's merkle root. */
export function buildAnchorProofs(a: ConfirmedAnchor): { roundId: number; proof: Uint8Array }[] {
  const tree = anchorTree(a.commitments.map((c) => c.commitment));
  const tx = a.block.txs[a.txIndex];
  if (!tx) throw mismatch(`no transaction ${a.txIndex} in block ${a.block.hash}`);
  const { prefix, suffix } = splitAround(tx.stripped, tree.tip);
  let node = tree.tipTimestamp.add(prepend(prefix)).add(append(suffix)).add(SHA256).add(SHA256);
  if (bytesToHex(node.msg) !== bytesToHex(tx.txid)) throw mismatch('the path does not reach the txid');
  for (const step of merklePath(
    a.block.txs.map((t) => t.txid),
    a.txIndex,
  )) {
    node = node
      .add(step.side === 'append' ? append(step.hash) : prepend(step.hash))
      .add(SHA256)
      .add(SHA256);
  }
  node.attest({ kind: 'bitcoin', height: a.height });
  return a.commitments.map((c, i) => {
    const proof = writeTimestamp(tree.leaves[i]!);
    checkProof(proof, c.commitment, a.block.merkleRoot, a.height);
    return { roundId: c.id, proof };
  });
}

/** Walks the (single-path) proof with applyOp and requires it to end in `root` at `height`. */
function checkProof(proof: Uint8Array, commitment: Uint8Array, root: Uint8Array, height: number): void {
  let ts = readTimestamp(proof, commitment);
  let msg = commitment;
  for (;;) {
    const ops = ts.ops;
    if (ops.length === 0) break;
    if (ops.length > 1 || ts.attestations.length > 0) throw mismatch('the path forks');
    const [op, child] = ops[0]!;
    msg = applyOp(op, msg);
    if (bytesToHex(msg) !== bytesToHex(child.msg)) throw mismatch('an operation gives another message');
    ts = child;
  }
  const [att] = ts.attestations;
  if (att?.kind !== 'bitcoin' || att.height !== height)
    throw mismatch('the path ends without the attestation');
  if (bytesToHex(msg) !== bytesToHex(root))
    throw mismatch("the path does not end in the header's merkle root");
}
