/**
 * The Bitcoin half of every kind: a detached .ots proof over some bytes, checked against block headers
 * with lightproof/ots. A proof that is absent, pending or unchecked is said so, never counted as proved.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { HeaderSource } from '../../bitcoin/index.js';
import {
  type DetachedTimestampFile,
  describeAttestation,
  hashWith,
  parseOts,
  verifyFile,
} from '../../ots/index.js';
import { iso, type ReportBuilder } from './report.js';

export interface AnchorInput {
  /** What was stamped, in words: "checkpoint example.com/log (size 8)". */
  what: string;
  /** The stamped bytes. */
  stamped: Uint8Array;
  /** The .ots file's bytes, if there is one. */
  ots: Uint8Array | undefined;
  /** Where the .ots came from, for messages: "the bundle's ots field", "notes.txt.ots". */
  otsName: string;
  headers: HeaderSource | undefined;
}

export async function checkAnchor(b: ReportBuilder, a: AnchorInput): Promise<void> {
  const file = await openAnchor(b, a);
  if (file) await checkAnchorHeaders(b, a, file);
}

/**
 * The cheap half: parses the .ots and checks it stamps these bytes. Undefined when there is none
 * (said in notProved) or it failed (said in failures).
 */
export async function openAnchor(
  b: ReportBuilder,
  a: AnchorInput,
): Promise<DetachedTimestampFile | undefined> {
  if (a.ots === undefined) {
    b.notProved.push(`when ${a.what} existed: there is no .ots proof for it (stamp it, then upgrade)`);
    return undefined;
  }
  const file = await b.check(a.otsName, () => parseOts(a.ots!));
  if (!file) return undefined;
  const digest = hashWith(file.hashOp, a.stamped);
  if (bytesToHex(digest) !== bytesToHex(file.digest)) {
    b.fail(
      'LP_OTS_DIGEST_MISMATCH',
      `${a.otsName}: it stamps ${file.hashOp} ${bytesToHex(file.digest)}, but ${a.what} hashes to ${bytesToHex(digest)}; the proof is for other bytes, or they changed after stamping.`,
    );
    return undefined;
  }
  return file;
}

/** The Bitcoin half: the proof's attestations against block headers. */
export async function checkAnchorHeaders(
  b: ReportBuilder,
  a: AnchorInput,
  file: DetachedTimestampFile,
): Promise<void> {
  const digest = file.digest;
  if (!a.headers) {
    b.notProved.push(
      `when ${a.what} existed: no block headers were given to check its .ots proof (--headers, --bitcoin-node or --esplora)`,
    );
    return;
  }
  const report = await b.check(a.otsName, () => verifyFile(file, { digest }, a.headers!));
  if (!report) return;
  const first = report.earliest;
  if (first) {
    b.proved.push(
      `${a.what} existed no later than Bitcoin block ${first.height} (${first.blockHash}), mined at ${iso(first.time)}, by headers from ${report.source}`,
    );
    b.facts.blockHeight = first.height;
    b.facts.blockTime = first.time;
    b.facts.blockHash = first.blockHash;
    return;
  }
  const bad = report.bitcoin.find((c) => c.result === 'mismatch') ?? report.bitcoin[0];
  if (bad) {
    b.fail(
      bad.error?.code ?? 'LP_OTS_NOT_VERIFIED',
      `${a.otsName}: the Bitcoin attestation at block ${bad.height} did not verify against ${report.source}: ${bad.error?.message ?? bad.result}`,
    );
    return;
  }
  const pending = report.others.map((o) => describeAttestation(o.attestation)).join(', ');
  b.fail(
    'LP_OTS_INCOMPLETE',
    `${a.otsName}: the proof has no Bitcoin attestation yet (${pending || 'none at all'}); run \`lightproof ots upgrade\` once the calendar has anchored it.`,
  );
}
