/**
 * `verifyAny`: tells a receipt, a log-entry proof bundle, a checkpoint note, a model manifest and an
 * .ots proof apart by their bytes, and verifies each down to Bitcoin block headers when it can.
 */
import type { HeaderSource } from '../../bitcoin/index.js';
import { LightproofError } from '../../core/errors.js';
import { HEADER_MAGIC } from '../../ots/index.js';
import { LOG_PROOF_TYPE } from '../log-proof.js';
import { checkAnchor } from './anchor.js';
import { verifyCheckpointNote } from './checkpoint.js';
import { verifyLogProof } from './log-proof.js';
import { verifyManifestFile } from './manifest.js';
import { checkReceipt, RECEIPT_KEY } from './receipt.js';
import { type ProvenanceReport, ReportBuilder, type VerifyKind } from './report.js';

export { LOG_PROOF_TYPE } from '../log-proof.js';
export {
  canonicalJson,
  type KnownEntry,
  RECEIPT_ENTRY_TYPE,
  readEntry,
  receiptEntry,
  WALLET_EVENT_ENTRY_TYPE,
  type WalletEventFields,
  walletEventEntry,
} from './entries.js';
export { type VerifyLogProofOptions, verifyLogProof } from './log-proof.js';
export { formatReport, type ProvenanceReport, type VerifyFailure, type VerifyKind } from './report.js';

/** Nothing this verifies is near this size; a larger input is refused before it is parsed. */
export const MAX_VERIFY_BYTES = 16 * 1024 * 1024;

export interface VerifyAnyOptions {
  /** Block headers to check .ots proofs against; without them the time is reported as not proved. */
  headers?: HeaderSource;
  /** Keys you trust: receipt keys (64 hex) and checkpoint verifier keys (C2SP `name+hash+base64`). */
  keys?: readonly string[];
  /** The .ots proof beside a checkpoint note or a manifest. */
  ots?: Uint8Array;
  otsName?: string;
  /** For an .ots file: the bytes it stamps. */
  target?: Uint8Array;
  targetName?: string;
  /** A checkpoint verifier key found beside the file (log.pub), used only when `keys` has none. */
  nearbyKey?: string;
  /** A model directory to compare with a manifest. */
  dir?: string;
}

/** What the bytes are; throws LP_VERIFY_UNKNOWN_KIND when none of the kinds fits. */
export function detectKind(bytes: Uint8Array): { kind: VerifyKind; json?: unknown; text?: string } {
  if (bytes.length >= HEADER_MAGIC.length && HEADER_MAGIC.every((x, i) => bytes[i] === x)) {
    return { kind: 'ots' };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw unknownKind('it is neither UTF-8 text nor an .ots proof');
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new LightproofError(
        'LP_VERIFY_MALFORMED',
        `The file starts like JSON but is not valid JSON (${(err as Error).message}).`,
      );
    }
    const obj = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    if (obj.type === LOG_PROOF_TYPE) return { kind: 'log-proof', json };
    if ('_type' in obj) return { kind: 'manifest' };
    if (typeof obj.header === 'string' && !('type' in obj && obj.type !== 'lightproof.receipt/v1')) {
      return { kind: 'receipt', json };
    }
    const named = typeof obj.type === 'string' ? `its type is '${obj.type.slice(0, 80)}'` : 'it has no type';
    throw unknownKind(`it is JSON, but ${named}`);
  }
  // One line ending at most, so a flipped bit in the file cannot hide in whitespace trim() would drop.
  const receipt = /^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(\r?\n)?$/.exec(text);
  if (receipt) return { kind: 'receipt', text: receipt[1]! };
  if (text.includes('\n\n\u2014 ')) return { kind: 'checkpoint', text };
  throw unknownKind('it is text, but not a receipt header value or a signed checkpoint note');
}

function unknownKind(why: string): LightproofError {
  return new LightproofError(
    'LP_VERIFY_UNKNOWN_KIND',
    `Cannot tell what to verify: ${why}. Give a receipt, a log proof bundle (*.proof.json), a checkpoint note, a manifest or an .ots file.`,
  );
}

export async function verifyAny(bytes: Uint8Array, opts: VerifyAnyOptions = {}): Promise<ProvenanceReport> {
  if (bytes.length > MAX_VERIFY_BYTES) {
    throw new LightproofError(
      'LP_VERIFY_TOO_LARGE',
      `The file is ${bytes.length} bytes; nothing lightproof verifies is over ${MAX_VERIFY_BYTES}, so this is not one.`,
    );
  }
  const found = detectKind(bytes);
  const keys = opts.keys ?? [];
  switch (found.kind) {
    case 'log-proof':
      return verifyLogProof(found.json, {
        trustedKeys: keys,
        ...(opts.headers ? { headers: opts.headers } : {}),
      });
    case 'checkpoint':
      return verifyCheckpointNote(found.text!, { ...opts, trustedKeys: keys });
    case 'manifest':
      return verifyManifestFile(bytes, opts);
    case 'receipt':
      return verifyReceiptInput(found, keys);
    case 'ots':
      return verifyOtsFile(bytes, opts);
  }
}

async function verifyReceiptInput(
  found: { json?: unknown; text?: string },
  keys: readonly string[],
): Promise<ProvenanceReport> {
  const b = new ReportBuilder('receipt');
  let header = found.text;
  const trusted = keys.filter((k) => RECEIPT_KEY.test(k));
  if (found.json !== undefined) {
    const obj = found.json as Record<string, unknown>;
    const extra = Object.keys(obj).filter((k) => !['type', 'header', 'key'].includes(k));
    if (extra.length > 0 || (obj.key !== undefined && typeof obj.key !== 'string')) {
      b.fail(
        'LP_VERIFY_MALFORMED',
        `The receipt JSON may hold only header, key and type; ${extra.length > 0 ? `it also has ${extra.slice(0, 3).join(', ')}` : 'its key is not a string'}.`,
      );
      return b.done();
    }
    header = obj.header as string;
  }
  await checkReceipt(b, header!, trusted, 'the receipt');
  // A key in the same file as the receipt is only a claim: it must match, but proves no ownership.
  if (found.json !== undefined) {
    const named = (found.json as Record<string, unknown>).key;
    if (typeof named === 'string' && b.facts.receiptKey !== undefined && named !== b.facts.receiptKey) {
      b.fail(
        'LP_RECEIPT_WRONG_KEY',
        `key: the file names key ${named}, but the receipt was signed by ${b.facts.receiptKey}.`,
      );
    }
  }
  return b.done();
}

async function verifyOtsFile(bytes: Uint8Array, opts: VerifyAnyOptions): Promise<ProvenanceReport> {
  const b = new ReportBuilder('ots');
  if (opts.target === undefined) {
    b.fail(
      'LP_VERIFY_NO_TARGET',
      'An .ots proof stamps another file: keep it beside the file (name.ots next to name) or use `lightproof ots verify -f FILE`.',
    );
    return b.done();
  }
  const what = opts.targetName ?? 'the stamped file';
  await checkAnchor(b, {
    what,
    stamped: opts.target,
    ots: bytes,
    otsName: 'the .ots proof',
    headers: opts.headers,
  });
  if (!opts.headers) {
    b.fail(
      'LP_OTS_NO_HEADER_SOURCE',
      'An .ots proof says nothing until it is checked against block headers: give --headers FILE, --bitcoin-node URL or --esplora URL.',
    );
  }
  b.notProved.push(`who made ${what}, or that its content is true: a timestamp shows only when it existed`);
  return b.done();
}
