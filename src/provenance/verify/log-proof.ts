/**
 * A log-entry proof bundle (`lightproof log prove`): the entry, its RFC 9162 inclusion proof, the signed
 * checkpoint of that tree size, and the checkpoint's .ots. Each link is checked in turn; a broken link
 * is reported with the field it sits in.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { base64 } from '@scure/base';
import { z } from 'zod';
import type { HeaderSource } from '../../bitcoin/index.js';
import { parseCheckpoint } from '../checkpoint.js';
import { LOG_PROOF_TYPE } from '../log-proof.js';
import { leafHash, verifyInclusion } from '../merkle.js';
import { noteVerifier, openNote } from '../note.js';
import { checkAnchorHeaders, openAnchor } from './anchor.js';
import { readEntry } from './entries.js';
import { checkReceipt, RECEIPT_KEY } from './receipt.js';
import { type ProvenanceReport, ReportBuilder } from './report.js';
import { describeIssues, noteKeys } from './shared.js';

const strictBase64 = z.string().transform((s, ctx) => {
  try {
    return base64.decode(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected standard base64 with padding' });
    return z.NEVER;
  }
});

const bundleSchema = z.strictObject({
  type: z.literal(LOG_PROOF_TYPE),
  origin: z.string().min(1).max(1024),
  index: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  treeSize: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  entry: strictBase64,
  // Lowercase only: an uppercase spelling would be a second encoding of the same proof.
  inclusion: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters')).max(64),
  checkpoint: z.string().max(64 * 1024),
  verifierKey: z.string().max(1024),
  ots: strictBase64.optional(),
});

export interface VerifyLogProofOptions {
  headers?: HeaderSource;
  /** Checkpoint verifier keys (C2SP `name+hash+base64`) and receipt keys (64 hex) you trust. */
  trustedKeys?: readonly string[];
}

/** Verifies a parsed bundle (the JSON value) end to end. */
export async function verifyLogProof(
  bundle: unknown,
  opts: VerifyLogProofOptions = {},
): Promise<ProvenanceReport> {
  const b = new ReportBuilder('log-proof');
  const parsed = bundleSchema.safeParse(bundle);
  if (!parsed.success) {
    b.fail('LP_VERIFY_MALFORMED', `The proof bundle is malformed: ${describeIssues(parsed.error)}.`);
    return b.done();
  }
  const p = parsed.data;
  b.facts.origin = p.origin;
  b.facts.index = p.index;
  b.facts.treeSize = p.treeSize;
  if (p.index >= p.treeSize) {
    b.fail('LP_LOG_PROOF_INVALID', `index: entry ${p.index} cannot be in a tree of ${p.treeSize} entries.`);
    return b.done();
  }

  // The cheap links first (text, sizes, inclusion), so a broken bundle fails before any signature work.
  const text = p.checkpoint.slice(0, p.checkpoint.lastIndexOf('\n\n') + 1);
  const cp = await b.check('checkpoint (its text)', () => parseCheckpoint(text));
  if (!cp) return b.done();
  if (cp.origin !== p.origin) {
    b.fail('LP_VERIFY_MISMATCH', `origin: the bundle says ${p.origin}, its checkpoint says ${cp.origin}.`);
  }
  if (cp.size !== p.treeSize) {
    b.fail(
      'LP_VERIFY_MISMATCH',
      `treeSize: the bundle says ${p.treeSize}, its checkpoint is for size ${cp.size}; the proof is for another tree size.`,
    );
  }
  if (b.failures.length > 0) return b.done();
  const included = await b.check('inclusion', () => {
    verifyInclusion(
      leafHash(p.entry),
      p.index,
      p.treeSize,
      p.inclusion.map((h) => hexToBytes(h)),
      cp.root,
    );
    return true;
  });
  if (!included) return b.done();
  const anchor = {
    what: `checkpoint ${p.origin} (size ${p.treeSize})`,
    stamped: new TextEncoder().encode(p.checkpoint),
    ots: p.ots,
    otsName: 'ots',
    headers: opts.headers,
  };
  const stamp = await openAnchor(b, anchor);
  if (b.failures.length > 0) return b.done();
  const trusted = noteKeys(opts.trustedKeys ?? []);
  const verifiers = await b.check(trusted.length > 0 ? '--key' : 'verifierKey', () =>
    (trusted.length > 0 ? trusted : [p.verifierKey]).map((k) => noteVerifier(k)),
  );
  if (!verifiers) return b.done();
  if (trusted.length > 0 && !trusted.includes(p.verifierKey)) {
    b.fail(
      'LP_VERIFY_UNTRUSTED_KEY',
      `verifierKey: the bundle names ${p.verifierKey.slice(0, 120)}, which is not a key you gave with --key.`,
    );
    return b.done();
  }
  const opened = await b.check('checkpoint (its signature)', () => openNote(p.checkpoint, verifiers));
  if (!opened) return b.done();
  if (opened.text !== text) {
    b.fail('LP_VERIFY_MALFORMED', 'checkpoint: its signed text is not the text before its signatures.');
    return b.done();
  }
  const signers = opened.verifiedBy.join(', ');
  b.facts.signedBy = signers;
  b.facts.root = bytesToHex(cp.root);
  b.proved.push(
    `entry ${p.index} of log ${p.origin} (size ${p.treeSize}) is in the tree whose root ${bytesToHex(cp.root)} the checkpoint signed by ${signers}${trusted.length > 0 ? ' (a key you gave with --key)' : ''} commits to`,
  );
  if (trusted.length === 0) {
    b.notProved.push(
      `that key ${p.verifierKey.split('+')[0]} is the log operator's: no --key was given, so the bundle's own verifierKey was used; compare it with the one the operator publishes`,
    );
  }
  await describeEntry(b, p.entry, opts.trustedKeys ?? []);
  if (stamp) await checkAnchorHeaders(b, anchor, stamp);
  if (typeof b.facts.blockHeight === 'number') {
    b.proved.push(`so entry ${p.index} existed no later than Bitcoin block ${b.facts.blockHeight}`);
  }
  b.notProved.push(
    'that the content of the entry is true',
    `that nothing was left out of the log before entry ${p.index}, or rewritten since: only a consistency proof from a checkpoint you saw earlier, or a witness's cosignature, shows that`,
  );
  return b.done();
}

async function describeEntry(b: ReportBuilder, bytes: Uint8Array, keys: readonly string[]): Promise<void> {
  const entry = readEntry(bytes);
  if (entry.type === 'receipt') {
    await checkReceipt(
      b,
      entry.header,
      keys.filter((k) => RECEIPT_KEY.test(k)),
      'the entry (a receipt)',
    );
  } else if (entry.type === 'wallet-event') {
    b.proved.push(
      `the entry is wallet journal event ${entry.seq}: payment ${entry.paymentHash} went from ${entry.from ?? '(new)'} to ${entry.to} at unix time ${entry.at}, as the wallet recorded it`,
    );
  } else {
    b.facts.entryBytes = bytes.length;
  }
}
