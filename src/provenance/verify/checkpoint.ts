/** A signed checkpoint note (`checkpoints/<size>.txt`), checked against a verifier key and its .ots. */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { HeaderSource } from '../../bitcoin/index.js';
import { parseCheckpoint } from '../checkpoint.js';
import { noteVerifier, openNote } from '../note.js';
import { checkAnchor } from './anchor.js';
import { type ProvenanceReport, ReportBuilder } from './report.js';
import { noteKeys } from './shared.js';

export interface VerifyCheckpointOptions {
  headers?: HeaderSource;
  trustedKeys?: readonly string[];
  /** A verifier key found beside the note (the log's `log.pub`), used when no key is trusted. */
  nearbyKey?: string;
  ots?: Uint8Array;
  otsName?: string;
}

export async function verifyCheckpointNote(
  note: string,
  opts: VerifyCheckpointOptions = {},
): Promise<ProvenanceReport> {
  const b = new ReportBuilder('checkpoint');
  const trusted = noteKeys(opts.trustedKeys ?? []);
  const keys = trusted.length > 0 ? trusted : opts.nearbyKey ? [opts.nearbyKey] : [];
  if (keys.length === 0) {
    b.fail(
      'LP_VERIFY_NO_KEY',
      "No verifier key to check the checkpoint's signature: give the log's key with --key (the contents of its log.pub).",
    );
    return b.done();
  }
  const verifiers = await b.check(trusted.length > 0 ? '--key' : 'log.pub', () =>
    keys.map((k) => noteVerifier(k)),
  );
  if (!verifiers) return b.done();
  const opened = await b.check('the checkpoint signature', () => openNote(note, verifiers));
  if (!opened) return b.done();
  const cp = await b.check('the checkpoint text', () => parseCheckpoint(opened.text));
  if (!cp) return b.done();
  const signers = opened.verifiedBy.join(', ');
  b.facts.origin = cp.origin;
  b.facts.treeSize = cp.size;
  b.facts.root = bytesToHex(cp.root);
  b.facts.signedBy = signers;
  b.proved.push(
    `log ${cp.origin} had ${cp.size} entries with root ${bytesToHex(cp.root)}, signed by ${signers}${trusted.length > 0 ? ' (a key you gave with --key)' : ''}`,
  );
  if (trusted.length === 0) {
    b.notProved.push(
      `that key ${signers} is the log operator's: it was read from log.pub beside the checkpoint; give the published key with --key`,
    );
  }
  await checkAnchor(b, {
    what: `checkpoint ${cp.origin} (size ${cp.size})`,
    stamped: new TextEncoder().encode(note),
    ots: opts.ots,
    otsName: opts.otsName ?? 'the .ots beside the checkpoint',
    headers: opts.headers,
  });
  b.notProved.push(
    'what the entries say, or that they are true: a checkpoint commits to entries without showing them',
    'that the log showed everyone this same tree: only witnesses, or consistency proofs from checkpoints others saw, show that',
  );
  return b.done();
}
