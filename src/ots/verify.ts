/**
 * Verifies a timestamp's Bitcoin attestations against block headers (python-opentimestamps'
 * verify_against_blockheader): the message at the attestation must be exactly 32 bytes and equal the
 * header's merkle root in internal byte order; the proven time is the header's own nTime.
 * Pending, unknown, Litecoin and Ethereum attestations are listed as not verifiable here, never as verified.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { HeaderSource, VerifiedHeader } from '../bitcoin/index.js';
import { LightproofError } from '../core/errors.js';
import { type Attestation, describeAttestation } from './attestation.js';
import type { DetachedTimestampFile } from './file.js';
import { DIGEST_LENGTHS, hashWith } from './ops.js';
import { equalBytes } from './serialize.js';
import type { Timestamp } from './timestamp.js';

export interface BitcoinCheck {
  height: number;
  /** The message the attestation commits to: the block's merkle root, internal order, when it verifies. */
  msg: Uint8Array;
  result: 'verified' | 'mismatch' | 'unavailable';
  /** The block header's time (unix seconds), when a header was found. */
  time?: number;
  blockHash?: string;
  /** True when the source put the header at the attested height; false when only the merkle root matched. */
  heightChecked: boolean;
  error?: { code: string; message: string };
}

export interface UncheckedAttestation {
  msg: Uint8Array;
  attestation: Attestation;
  /** Why a Bitcoin header source cannot check it, and what to do. */
  reason: string;
}

export interface VerifyReport {
  /** True only when at least one Bitcoin attestation verified. */
  verified: boolean;
  earliest?: { height: number; time: number; blockHash: string; heightChecked: boolean };
  /** Bitcoin attestations, ascending by height. */
  bitcoin: BitcoinCheck[];
  others: UncheckedAttestation[];
  /** The header source's name. */
  source: string;
}

export interface VerifyOptions {
  /** Stop after the first (lowest) verified attestation, as the ots client does. Default: check them all. */
  firstOnly?: boolean;
}

function displayHex(bytes: Uint8Array): string {
  return bytesToHex(Uint8Array.from(bytes).reverse());
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof LightproofError) return { code: err.code, message: err.message };
  return {
    code: 'LP_BTC_SOURCE_FAILED',
    message: `The header source failed: ${err instanceof Error ? err.message : String(err)}`,
  };
}

function compare(
  height: number,
  msg: Uint8Array,
  header: VerifiedHeader,
  heightChecked: boolean,
): BitcoinCheck {
  const found = { time: header.time, blockHash: header.hash, heightChecked };
  if (equalBytes(msg, header.merkleRoot)) return { height, msg, result: 'verified', ...found };
  return {
    height,
    msg,
    result: 'mismatch',
    ...found,
    error: {
      code: 'LP_OTS_MERKLEROOT_MISMATCH',
      message: `Digest does not match merkleroot: the proof says Bitcoin block ${height} has merkle root ${displayHex(msg)}, but ${header.height === undefined ? 'the header found' : `block ${header.height}`} has ${displayHex(header.merkleRoot)}. The proof is wrong or was made for another chain.`,
    },
  };
}

async function checkBitcoin(height: number, msg: Uint8Array, source: HeaderSource): Promise<BitcoinCheck> {
  if (msg.length !== 32) {
    return {
      height,
      msg,
      result: 'mismatch',
      heightChecked: false,
      error: {
        code: 'LP_OTS_BAD_DIGEST_LENGTH',
        message: `The proof's Bitcoin attestation at height ${height} commits to ${msg.length} bytes, not to a 32-byte merkle root, so it cannot match any block.`,
      },
    };
  }
  try {
    const header = await source.headerAt(height);
    return compare(height, msg, header, header.height === height);
  } catch (err) {
    if (
      !(
        err instanceof LightproofError &&
        err.code === 'LP_BTC_HEADER_NOT_FOUND' &&
        source.headerWithMerkleRoot
      )
    ) {
      return { height, msg, result: 'unavailable', heightChecked: false, error: errorOf(err) };
    }
    try {
      const header = await source.headerWithMerkleRoot(msg);
      if (!header) return { height, msg, result: 'unavailable', heightChecked: false, error: errorOf(err) };
      // A header the source places at another height contradicts the attestation, as python's check would.
      if (header.height !== undefined && header.height !== height) {
        return {
          height,
          msg,
          result: 'mismatch',
          heightChecked: true,
          error: {
            code: 'LP_OTS_HEIGHT_MISMATCH',
            message: `The proof says Bitcoin block ${height}, but ${source.name} puts the block with merkle root ${displayHex(msg)} at height ${header.height}. The proof is wrong, or the headers are.`,
          },
        };
      }
      return compare(height, msg, header, false);
    } catch (inner) {
      return { height, msg, result: 'unavailable', heightChecked: false, error: errorOf(inner) };
    }
  }
}

function reasonFor(att: Attestation): string {
  switch (att.kind) {
    case 'pending':
      return `Pending at ${att.uri}: run upgrade to fetch the Bitcoin attestation once the calendar has one.`;
    case 'litecoin':
    case 'ethereum':
      return `${describeAttestation(att)} is on another chain; Bitcoin block headers cannot check it.`;
    case 'unknown':
      return `${describeAttestation(att)} is of a kind this tool does not know; it is kept but not checked.`;
    case 'bitcoin':
      return '';
  }
}

/** Checks every Bitcoin attestation in `ts` against `source`, lowest height first. */
export async function verifyTimestamp(
  ts: Timestamp,
  source: HeaderSource,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const seen = new Set<string>();
  const bitcoin: { height: number; msg: Uint8Array }[] = [];
  const others: UncheckedAttestation[] = [];
  for (const { msg, attestation } of ts.allAttestations()) {
    if (attestation.kind !== 'bitcoin') {
      others.push({ msg, attestation, reason: reasonFor(attestation) });
      continue;
    }
    const key = `${attestation.height}:${bytesToHex(msg)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    bitcoin.push({ height: attestation.height, msg });
  }
  bitcoin.sort((a, b) => a.height - b.height);

  let checks: BitcoinCheck[];
  if (opts.firstOnly) {
    checks = [];
    for (const { height, msg } of bitcoin) {
      const check = await checkBitcoin(height, msg, source);
      checks.push(check);
      if (check.result === 'verified') break;
    }
  } else {
    checks = await Promise.all(bitcoin.map(({ height, msg }) => checkBitcoin(height, msg, source)));
  }

  const first = checks.find((c) => c.result === 'verified');
  const report: VerifyReport = {
    verified: first !== undefined,
    bitcoin: checks,
    others,
    source: source.name,
  };
  if (first?.time !== undefined && first.blockHash !== undefined) {
    report.earliest = {
      height: first.height,
      time: first.time,
      blockHash: first.blockHash,
      heightChecked: first.heightChecked,
    };
  }
  return report;
}

export type VerifyTarget = { bytes: Uint8Array } | { digest: Uint8Array };

/** Checks that `target` is what `file` stamped, then verifies the file's timestamp. */
export async function verifyFile(
  file: DetachedTimestampFile,
  target: VerifyTarget,
  source: HeaderSource,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const digest = 'bytes' in target ? hashWith(file.hashOp, target.bytes) : target.digest;
  if (digest.length !== DIGEST_LENGTHS[file.hashOp]) {
    throw new LightproofError(
      'LP_OTS_DIGEST_MISMATCH',
      `The digest given is ${digest.length} bytes, but the proof stamps a ${file.hashOp} digest of ${DIGEST_LENGTHS[file.hashOp]} bytes. Pass the ${file.hashOp} of the file, or the file itself.`,
      { details: { hashOp: file.hashOp, length: digest.length } },
    );
  }
  if (!equalBytes(digest, file.digest)) {
    throw new LightproofError(
      'LP_OTS_DIGEST_MISMATCH',
      `The file's ${file.hashOp} is ${bytesToHex(digest)}, but the proof stamps ${bytesToHex(file.digest)}. This proof is for another file, or the file has changed since it was stamped.`,
      { details: { hashOp: file.hashOp, expected: bytesToHex(file.digest), actual: bytesToHex(digest) } },
    );
  }
  return verifyTimestamp(file.timestamp, source, opts);
}
