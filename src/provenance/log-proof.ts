/**
 * The log-entry proof bundle (`*.proof.json`, type lightproof.log-proof/v1): one entry, its RFC 9162
 * inclusion proof, the signed checkpoint of that tree size, the log's verifier key and, when the
 * checkpoint was stamped, its .ots. Everything a stranger needs to check the entry offline down to
 * Bitcoin headers; `lightproof verify` reads it.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { LightproofError } from '../core/errors.js';
import { parseOts } from '../ots/index.js';
import { sameRoot } from './checkpoint.js';
import {
  checkpointPath,
  listCheckpoints,
  loadOrCreateLogKey,
  readCheckpoint,
  readLogVerifier,
  readSmallBytes,
  type StoredCheckpoint,
  writeCheckpoint,
} from './checkpoint-store.js';
import type { MerkleLog } from './log/index.js';
import { leafHash, verifyInclusion } from './merkle.js';
import { toBase64 } from './note.js';

export const LOG_PROOF_TYPE = 'lightproof.log-proof/v1';

export interface LogProofBundle {
  type: typeof LOG_PROOF_TYPE;
  origin: string;
  index: number;
  treeSize: number;
  /** The entry's bytes, base64. */
  entry: string;
  /** Sibling hashes, leaf to root, lowercase hex. */
  inclusion: string[];
  /** The signed checkpoint note of size treeSize. */
  checkpoint: string;
  verifierKey: string;
  /** The checkpoint's .ots, base64, when it was stamped. */
  ots?: string;
}

export interface MakeLogProofOptions {
  /** Prove against the checkpoint of exactly this size (signed now if missing). */
  size?: number;
}

/**
 * Proves entry `index`. Without `size`, the checkpoint used is the largest one covering the entry
 * that is anchored in Bitcoin, else the largest stamped one, else the largest; if none covers the
 * entry, the log's current tree is signed (which needs the log's key, and a log not opened
 * read-only: LP_LOG_READ_ONLY otherwise).
 */
export async function makeLogProof(
  log: MerkleLog,
  index: number,
  opts: MakeLogProofOptions = {},
): Promise<LogProofBundle> {
  const size = log.size();
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new LightproofError(
      'LP_LOG_INDEX_OUT_OF_RANGE',
      `Entry ${index} is not in the log, which holds ${size} entries; give an index from 0 to ${size - 1}.`,
      { details: { index, size } },
    );
  }
  if (
    opts.size !== undefined &&
    (!Number.isSafeInteger(opts.size) || opts.size <= index || opts.size > size)
  ) {
    throw new LightproofError(
      'LP_NOTE_BAD_SIZE',
      `A tree of ${opts.size} entries cannot prove entry ${index} of a log of ${size}; choose --size from ${index + 1} to ${size}.`,
      { details: { index, size: opts.size, logSize: size } },
    );
  }
  const cp = chooseCheckpoint(log, index, opts.size) ?? (await signNow(log, opts.size ?? size));
  const treeSize = cp.checkpoint.size;
  if (!sameRoot(cp.checkpoint.root, log.root(treeSize))) {
    throw new LightproofError(
      'LP_NOTE_SPLIT_VIEW',
      `${cp.path} signs a root the log no longer has at size ${treeSize}; the log was rewritten. Run \`lightproof log verify\` to find where.`,
      { details: { path: cp.path } },
    );
  }
  const entry = log.entry(index);
  const inclusion = log.inclusionProof(index, treeSize);
  // The bundle is checked before it leaves, so a damaged cache cannot hand out a proof that fails.
  verifyInclusion(leafHash(entry), index, treeSize, inclusion, cp.checkpoint.root);
  const ots = readSmallBytes(`${cp.path}.ots`, 1024 * 1024);
  if (ots) parseOts(ots);
  return {
    type: LOG_PROOF_TYPE,
    origin: log.origin,
    index,
    treeSize,
    entry: toBase64(entry),
    inclusion: inclusion.map((h) => bytesToHex(h)),
    checkpoint: cp.note,
    verifierKey: readLogVerifier(log.dir).verifierKey,
    ...(ots ? { ots: toBase64(ots) } : {}),
  };
}

function chooseCheckpoint(log: MerkleLog, index: number, size?: number): StoredCheckpoint | undefined {
  const sizes = listCheckpoints(log.dir).filter((s) => s > index && s <= log.size());
  if (sizes.length === 0) return undefined;
  const verifier = readLogVerifier(log.dir);
  if (size !== undefined) {
    return sizes.includes(size) ? readCheckpoint(log.dir, size, verifier, log.origin) : undefined;
  }
  const rank = (s: number): number => {
    const ots = readSmallBytes(`${checkpointPath(log.dir, s)}.ots`, 1024 * 1024);
    if (!ots) return 0;
    try {
      return parseOts(ots).timestamp.isComplete() ? 2 : 1;
    } catch {
      return 0;
    }
  };
  const best = sizes.map((s) => ({ s, r: rank(s) })).sort((a, b) => b.r - a.r || b.s - a.s)[0]!;
  return readCheckpoint(log.dir, best.s, verifier, log.origin);
}

async function signNow(log: MerkleLog, size: number): Promise<StoredCheckpoint> {
  if (log.readOnly) {
    throw new LightproofError(
      'LP_LOG_READ_ONLY',
      `No checkpoint of size ${size} is stored, and signing one needs the log opened for writing; sign it where the log is written, or prove against an existing checkpoint.`,
      { status: 409, details: { size, checkpoints: listCheckpoints(log.dir) } },
    );
  }
  const { signer } = loadOrCreateLogKey(log.dir, log.origin);
  return writeCheckpoint(log, { signer, size });
}
